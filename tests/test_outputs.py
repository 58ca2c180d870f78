"""Saved notebook outputs are what a reader on GitHub sees: small, renderable, and free of this machine's paths."""
import json
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = sorted(p for p in (ROOT/'nbs').rglob('*.ipynb') if '.ipynb_checkpoints' not in p.parts)
WIDGET = 'application/vnd.jupyter.widget-view+json'
MAX_CELL, MAX_NOTEBOOK = 60_000, 1_500_000      # bytes of saved output per cell, bytes per notebook file


def _outputs(nb):
    for i, c in enumerate(nb['cells']):
        if c['cell_type'] == 'code':
            for o in c.get('outputs', []): yield i, o


@pytest.mark.parametrize('path', NOTEBOOKS, ids=lambda p: str(p.relative_to(ROOT/'nbs')))
def test_saved_outputs_are_small_and_portable(path):
    "No widget state (GitHub cannot render it), no cell over 60 KB of output, no absolute path of this machine."
    text = path.read_text()
    assert len(text) <= MAX_NOTEBOOK, f"{path.name}: {len(text):,} bytes (limit {MAX_NOTEBOOK:,})"
    nb = json.loads(text)
    assert 'widgets' not in nb.get('metadata', {}), f"{path.name}: saved widget state; run tools/execute.py"
    sizes = {}
    for i, o in _outputs(nb):
        assert WIDGET not in o.get('data', {}), f"{path.name} cell {i}: a live widget saved as output"
        blob = json.dumps(o)
        sizes[i] = sizes.get(i, 0) + len(blob)
        for root in ('/work/', '/tmp/', '/home/', '/root/'):
            assert root not in blob, f"{path.name} cell {i}: output shows a path under {root} of the machine that ran it"
    big = {i: n for i, n in sizes.items() if n > MAX_CELL}
    assert not big, f"{path.name}: cells with more than {MAX_CELL:,} bytes of output: {big}"


def test_the_budget_check_sees_outputs(tmp_path):
    "The walk over outputs finds saved outputs, so the checks above are not vacuous."
    found = [p for p in NOTEBOOKS if any(True for _ in _outputs(json.loads(p.read_text())))]
    assert len(found) >= 3, f"only {len(found)} notebooks have saved outputs"
