"""Measure the notebooks as a textbook: cell sizes, saved outputs, long lines, module sizes (issue 16's figures).

Usage: python tools/nbstats.py [nbs]   prints one table per notebook and a total line.
"""
import json, statistics, sys
from pathlib import Path

LONG = 120  # characters: the line length the project wraps at


def cell_stats(path):
    "Per notebook: exported cells' line counts, code cells, cells with a saved output, code lines, long lines."
    cells = [c for c in json.loads(Path(path).read_text())['cells'] if c['cell_type'] == 'code']
    exported, with_out, lines, long_ = [], 0, 0, 0
    for c in cells:
        src = ''.join(c['source']).splitlines()
        body = [l for l in src if not l.startswith('#|')]
        if any(l.strip() in ('#| export', '#| exports') for l in src): exported.append(len(body))
        with_out += bool(c.get('outputs'))
        lines += len(body)
        long_ += sum(len(l) > LONG for l in body)
    return dict(exported=exported, code=len(cells), with_output=with_out, lines=lines, long=long_)


def main(nbs='nbs'):
    rows, allexp, tot = [], [], dict(code=0, with_output=0, lines=0, long=0)
    for p in sorted(Path(nbs).rglob('*.ipynb')):
        if '.ipynb_checkpoints' in p.parts: continue
        s = cell_stats(p)
        allexp += s['exported']
        for k in tot: tot[k] += s[k]
        med = statistics.median(s['exported']) if s['exported'] else 0
        rows.append(f"{str(p.relative_to(nbs)):32} {len(s['exported']):4} {med:6.1f} {s['code']:5} "
                    f"{s['with_output']:5} {s['long']:5}")
    print(f"{'notebook':32} {'exp':>4} {'median':>6} {'code':>5} {'out':>5} {'long':>5}")
    print('\n'.join(rows))
    print(f"total: {len(allexp)} exported cells, median {statistics.median(allexp):.1f} lines; "
          f"{tot['with_output']} of {tot['code']} code cells with output; "
          f"{tot['long']} of {tot['lines']} code lines > {LONG} chars ({100 * tot['long'] / max(tot['lines'], 1):.1f}%)")
    mods = sorted((len(p.read_text().splitlines()), p.name) for p in Path('apo_kit').glob('*.py') if p.name != '_modidx.py')
    print('modules (lines):', ', '.join(f'{n} {l}' for l, n in reversed(mods)))


if __name__ == '__main__': main(*sys.argv[1:])
