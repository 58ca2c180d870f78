"""Write README.md from nbs/index.ipynb (nbdev_readme needs quarto, which is not available everywhere).

Hidden cells (`#| hide`) are left out and nbdev's `#|` directives are stripped; the rest goes through nbconvert's
markdown exporter. `python tools/readme.py --check` exits 1 when README.md is not what index.ipynb makes."""
import sys
from pathlib import Path
import nbformat
from nbconvert import MarkdownExporter

ROOT = Path(__file__).resolve().parent.parent

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    "README text made from the index notebook."
    nb = nbformat.read(nb_path, as_version=4)
    cells = []
    for c in nb.cells:
        lines = c.source.splitlines()
        if c.cell_type == 'code':
            if any(l.strip().replace(' ', '') in ('#|hide', '#|export', '#|exporti') for l in lines): continue
            c.source = '\n'.join(l for l in lines if not l.lstrip().startswith('#|')).strip()
            if not c.source: continue
            for o in c.get('outputs', []):                       # tables as plain text: README is read as markdown
                if 'text/html' in o.get('data', {}) and 'text/plain' in o['data']: del o['data']['text/html']
        cells.append(c)
    nb.cells = cells
    nb.metadata['language_info'] = {'name': 'python'}          # code blocks fenced as ```python
    body, _ = MarkdownExporter(exclude_input_prompt=True, exclude_output_prompt=True).from_notebook_node(nb)
    return '<!-- Generated from nbs/index.ipynb by tools/readme.py: edit the notebook, not this file. -->\n\n' + body.strip() + '\n'

if __name__ == '__main__':
    text, readme = render(), ROOT/'README.md'
    if '--check' in sys.argv:
        ok = readme.exists() and readme.read_text(encoding='utf-8') == text
        if not ok: print('README.md differs from nbs/index.ipynb: run `python tools/readme.py`', file=sys.stderr)
        sys.exit(0 if ok else 1)
    readme.write_text(text, encoding='utf-8')
