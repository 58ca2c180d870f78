"""Every Python block in README.md runs as written from the repository root, in order, in one fresh interpreter."""
import re, subprocess, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

def python_blocks(text: str) -> list[str]:
    "The ```python fenced blocks of a markdown text, in order."
    return re.findall(r'^```python\n(.*?)^```', text, flags=re.S | re.M)

def test_python_blocks_found():
    "The tour is there: a README without Python blocks would make the next test vacuous."
    assert len(python_blocks((ROOT/'README.md').read_text())) >= 2
    assert python_blocks('x\n```python\na = 1\n```\n```sh\nls\n```\n') == ['a = 1\n']

def test_readme_python_blocks_run_from_the_root(tmp_path):
    code = '\n'.join(python_blocks((ROOT/'README.md').read_text()))
    script = tmp_path/'readme_blocks.py'
    script.write_text(code)
    r = subprocess.run([sys.executable, str(script)], cwd=ROOT, capture_output=True, text=True, timeout=600,
                       env={'PATH': str(Path(sys.executable).parent), 'MPLBACKEND': 'Agg', 'HF_HUB_OFFLINE': '1',
                            'OMP_NUM_THREADS': '1', 'HOME': str(tmp_path)})
    assert r.returncode == 0, f"README code failed from the repository root:\n{r.stderr[-3000:]}"
