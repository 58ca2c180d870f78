"""The notebooks are the source: exporting and cleaning them must change nothing, and README.md is index.ipynb."""
import shutil, subprocess, sys, filecmp
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

def _diff(a: Path, b: Path, rel=''):
    "Files that differ or exist on one side only, between two directory trees."
    cmp = filecmp.dircmp(a, b, ignore=['__pycache__', '.ipynb_checkpoints'])
    out = [f"{rel}{n}" for n in cmp.left_only + cmp.right_only + cmp.diff_files]
    for sub in cmp.common_dirs: out += _diff(a/sub, b/sub, f"{rel}{sub}/")
    return out

def test_notebooks_are_the_source(tmp_path):
    "nbdev_export and nbdev_clean on a copy of the repo leave apo_kit/ and nbs/ exactly as committed."
    for name in ('settings.ini', 'setup.py'): shutil.copy(ROOT/name, tmp_path/name)
    for d in ('nbs', 'apo_kit'): shutil.copytree(ROOT/d, tmp_path/d, ignore=shutil.ignore_patterns('__pycache__'))
    subprocess.run(['git', 'init', '-q'], cwd=tmp_path, check=True)
    for cmd in ('nbdev_export', 'nbdev_clean'):
        subprocess.run([str(BIN/cmd)], cwd=tmp_path, check=True, capture_output=True)
    changed = _diff(ROOT/'apo_kit', tmp_path/'apo_kit') + _diff(ROOT/'nbs', tmp_path/'nbs')
    assert not changed, f"edit the notebooks, then run nbdev_export and nbdev_clean; these differ: {changed}"

def test_readme_is_index_notebook():
    r = subprocess.run([sys.executable, str(ROOT/'tools'/'readme.py'), '--check'], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

def test_ci_runs_the_readme_test_command():
    "The README's test command is exactly what .ci/run runs."
    readme, ci = (ROOT/'README.md').read_text(), (ROOT/'.ci'/'run').read_text()
    cmds = [l.strip() for l in ci.splitlines() if l.strip() and not l.lstrip().startswith(('#', 'set ', 'cd '))]
    assert cmds == ['make test'], cmds
    assert '\nmake test\n' in readme and '\nmake demo\n' in readme
