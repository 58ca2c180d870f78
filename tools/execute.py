"""Run notebooks in place and keep their outputs, as nbdev_test runs them (the saved outputs a reader sees).

Usage: OMP_NUM_THREADS=1 python tools/execute.py nbs/07_apo.ipynb [...]  [--slow]

Each notebook runs in its own folder with IN_TEST=1 (loops shrink as under `nbdev_test`); cells flagged
`#| slow` (unless --slow) or `#| eval: false` are not run and keep no output; every other cell's output is
saved, then `nbdev_clean` tidies the file. A failing cell stops the run and leaves the file untouched.
"""
import os, subprocess, sys
from pathlib import Path
import nbformat
from nbclient import NotebookClient

# the Makefile's filter: FutureWarnings are errors, but for the one raised inside peft (third-party internals)
WARNINGS = 'error::FutureWarning,ignore:`is_gradient_checkpointing` is deprecated:FutureWarning'
WIDGET = 'application/vnd.jupyter.widget-view+json'
MAX_OUTPUT = 60_000  # bytes of saved output per cell; bigger outputs are a bug in the example (print less)


def _flags(cell):
    "The `#|` directives of a code cell, e.g. {'slow', 'eval: false', 'export'}."
    return {l[2:].strip() for l in cell.source.splitlines() if l.startswith('#|')}


def execute(path, slow=False):
    "Run one notebook and write it back with its outputs."
    path = Path(path).resolve()
    nb = nbformat.read(path, as_version=4)
    skipped = []
    for i, c in enumerate(nb.cells):
        if c.cell_type != 'code': continue
        f = _flags(c)
        if ('slow' in f and not slow) or 'eval: false' in f or 'eval:false' in f:
            skipped.append((i, c.source)); c.source = '' ; c.outputs = []
    os.environ.update(IN_TEST='1', TQDM_DISABLE='1',  # progress bars would save as widget views with no state
                      PYTHONWARNINGS=WARNINGS)       # as the Makefile runs notebooks: no known third-party noise
    NotebookClient(nb, timeout=1800, kernel_name='python3', resources={'metadata': {'path': str(path.parent)}}).execute()
    for i, src in skipped: nb.cells[i].source, nb.cells[i].outputs = src, []
    nb.metadata.pop('widgets', None)  # widget state: megabytes that GitHub cannot render
    for c in nb.cells:  # live widgets and progress bars mean nothing once saved: drop them, keep everything else
        if c.cell_type == 'code': c.outputs = [o for o in c.outputs if WIDGET not in o.get('data', {})]
    for i, c in enumerate(nb.cells):
        size = len(nbformat.writes(nbformat.v4.new_notebook(cells=[c]))) if c.cell_type == 'code' else 0
        if size > MAX_OUTPUT: sys.exit(f"{path.name} cell {i}: {size:,} bytes of output (limit {MAX_OUTPUT:,}); show less")
    nbformat.write(nb, path)
    subprocess.run([str(Path(sys.executable).parent / 'nbdev_clean'), '--fname', str(path)], check=True)
    print(f"{path.name}: {sum(bool(c.get('outputs')) for c in nb.cells)} cells with output")


if __name__ == '__main__':
    args = [a for a in sys.argv[1:] if a != '--slow']
    for p in args: execute(p, slow='--slow' in sys.argv)
