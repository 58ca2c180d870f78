"""Rendering the preference inspector's views one study after another (the issue asks: 1,000 studies under 10 s).

    python benchmarks/bench_widgets.py                 # 1,000 simulated studies, 7 teachers each
    python benchmarks/bench_widgets.py --cxrmax        # also: the inspector on a CXR-MAX-sized set (24,426 studies)

Two paths, each timed wall-clock and CPU (median of --repeats runs, labeler cache emptied before each run so every
sentence is analysed afresh):
  render_study  1,000 calls of the pure render function (chips, diff against the consensus, escaped text)
  inspector     `PreferenceInspector` on the same records, then 1,000 clicks of its "next" button (each renders a view)
and, for scale, the NIH sample's real (longer) reports repeated to 1,000 studies.
"""
import argparse, statistics, time, warnings
from pathlib import Path
from apo_kit import labels as L
from apo_kit.data import load_studies
from apo_kit.simulate import simulate
from apo_kit.widgets import inspection_records, render_study, PreferenceInspector

def timed(fn, repeats):
    "Median wall and CPU seconds of fn() over `repeats` runs, labeler cache cold each time."
    wall, cpu = [], []
    for _ in range(repeats):
        L.STEP_CACHE.clear()
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0); cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)

def records(studies):
    "Inspection records whose consensus is each study's first teacher (a fixed text: the timing is the rendering's)."
    return inspection_records(studies, {s.study_id: dict(consensus=s.trajectories[0].text, flags=[]) for s in studies})

def clicks(recs, n):
    insp = PreferenceInspector(recs, max_side=96)
    for _ in range(n - 1): insp.next.click()

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=1000); ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--cxrmax', action='store_true', help='also build the inspector on 24,426 simulated studies')
    a = ap.parse_args()
    nih = load_studies(Path(__file__).parent.parent/'data_samples'/'nih_multimodel.jsonl')
    sets = {'simulated': records(simulate(a.n, seed=0).studies), 'NIH repeated': records(nih) * (a.n // len(nih))}
    print(f"{'input':<14}{'path':<15}{'studies':>8}{'wall s':>9}{'CPU s':>9}{'ms/study':>10}   (median of {a.repeats})")
    for name, recs in sets.items():
        chars = sum(len(r['chosen']) + sum(map(len, r['rejected'])) for r in recs) / len(recs)
        for path, fn in (('render_study', lambda: [render_study(r, max_side=96) for r in recs]),
                         ('inspector', lambda: clicks(recs, len(recs)))):
            w, c = timed(fn, a.repeats)
            print(f"{name:<14}{path:<15}{len(recs):>8}{w:>9.2f}{c:>9.2f}{1000 * w / len(recs):>10.2f}   "
                  f"({chars:,.0f} characters of trajectory per study)")
    if a.cxrmax:
        t0 = time.perf_counter(); big = simulate(24_426, seed=1).studies; t1 = time.perf_counter()
        recs = records(big)
        w, c = timed(lambda: clicks(recs, 2), 1)
        print(f"CXR-MAX size: {len(big)} studies, {sum(len(s.trajectories) for s in big)} trajectories (simulated in "
              f"{t1 - t0:.0f} s): inspector built and first two views rendered in {w:.1f} s wall, {c:.1f} s CPU")

if __name__ == '__main__':
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        main()
