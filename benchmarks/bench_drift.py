"""Benchmark apo_kit.drift: label extraction plus every drift metric (no plots) at CXR-MAX size on one core.

    python benchmarks/bench_drift.py                       # 24,426 studies = 170,982 trajectories (about 3 minutes)
    python benchmarks/bench_drift.py --studies 5000 --repeats 3
    python benchmarks/bench_drift.py --style rationale     # the same stream written as CXR-MAX-style rationales

Stages, timed separately in this process (medians over --repeats; generation is timed once and not counted):
- `simulate`: generating the trajectories (apo_kit.simulate), for reference only;
- `labels`: `teacher_labels` = label_texts + mention_table + is_refusal over every trajectory, n_jobs=1, the labeler's
  sentence cache cleared before each repeat (cold: the honest first-run figure);
- `metrics`: `drift_report` from those labels: teacher x pathology table (labels, laterality, temporal), agreement
  matrix, step drift, stream drift and change points; and each part on its own;
- baseline: the teacher x teacher kappa matrix by matrix products against scikit-learn's `cohen_kappa_score` called
  per pair and pathology on the same cube (ratio in this process).
The issue's budget: labels + metrics <= 60 s for 171k trajectories on this 2-core machine. The machine is shared with
other jobs: the load average is printed, compare ratios rather than absolute times.
"""
import argparse, gc, os, statistics, sys, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
from apo_kit import labels as L
from apo_kit.simulate import simulate
from apo_kit import drift as D

CPU = {}

def timed(fn, repeats, setup=None):
    "Median wall-clock seconds of `fn` over `repeats` (and its median CPU seconds in CPU[fn]), and its last result."
    ts, cs, out = [], [], None
    for _ in range(repeats):
        if setup: setup()
        t0, c0 = time.perf_counter(), time.process_time(); out = fn()
        ts.append(time.perf_counter() - t0); cs.append(time.process_time() - c0)
    CPU[fn] = statistics.median(cs)
    return statistics.median(ts), out

def sklearn_kappas(y, teachers):
    from sklearn.metrics import cohen_kappa_score
    T = len(teachers); k = np.eye(T)
    for p in range(y.shape[2]):
        for a in range(T):
            for b in range(a + 1, T):
                both = ~np.isnan(y[:, a, p]) & ~np.isnan(y[:, b, p])
                if both.sum() > 1: cohen_kappa_score(y[both, a, p], y[both, b, p])
    return k

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--studies', type=int, default=24_426, help='studies to simulate (7 trajectories each)')
    ap.add_argument('--repeats', type=int, default=1, help='repeats of the labelling stage (median)')
    ap.add_argument('--metric-repeats', type=int, default=3, help='repeats of the metrics stage (median)')
    ap.add_argument('--budget', type=float, default=60., help='seconds allowed for labels + metrics')
    ap.add_argument('--style', default='report', choices=['report', 'rationale', 'mixed'], help='how the teachers write')
    a = ap.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} on {os.cpu_count()} cores; OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}")
    t_sim, sim = timed(lambda: simulate(a.studies, seed=0, style=a.style), 1)
    studies = sim.studies; n = sum(len(s.trajectories) for s in studies)
    gc.collect()
    lab_fn = lambda: D.teacher_labels(studies, n_jobs=1)
    t_lab, tl = timed(lab_fn, a.repeats, setup=L.STEP_CACHE.clear); c_lab = CPU[lab_fn]
    cube = tl.cube(); y = D.binarize(cube)
    parts = {'teacher x pathology table': lambda: D.teacher_pathology_table(tl),
             '  label metrics': lambda: D.label_metrics(cube),
             '  laterality + temporal': lambda: D.side_and_change_metrics(tl),
             'agreement matrix': lambda: D.agreement_matrix(y, cube.teachers),
             'step drift': lambda: D.step_drift(tl),
             'stream drift + change points': lambda: D.stream_drift(cube)}
    t_parts = {k: timed(f, a.metric_repeats)[0] for k, f in parts.items()}
    met_fn = lambda: D.drift_report(tl)
    t_met, rep = timed(met_fn, a.metric_repeats); c_met = CPU[met_fn]
    t_cube = timed(tl.cube, a.metric_repeats)[0]
    t_sk = timed(lambda: sklearn_kappas(y, cube.teachers), 1)[0]
    total = t_lab + t_met
    w = 34
    print(f"\n{a.studies:,} studies, {n:,} trajectories ({a.style} style), {len(cube.teachers)} teachers, {len(tl.mentions):,} mentions\n")
    print(f"{'stage':<{w}}{'wall s':>9}{'CPU s':>8}{'traj/s (wall)':>15}")
    print(f"{'simulate (not counted)':<{w}}{t_sim:>9.2f}{'':>8}{n / t_sim:>15,.0f}")
    print(f"{'labels (1 core, cold cache)':<{w}}{t_lab:>9.2f}{c_lab:>8.2f}{n / t_lab:>15,.0f}")
    print(f"{'metrics (drift_report, no plots)':<{w}}{t_met:>9.2f}{c_met:>8.2f}{n / t_met:>15,.0f}")
    for k, t in t_parts.items(): print(f"{'  ' + k:<{w}}{t:>9.2f}")
    print(f"{'  label cube from labels':<{w}}{t_cube:>9.2f}")
    print(f"{'TOTAL labels + metrics':<{w}}{total:>9.2f}{c_lab + c_met:>8.2f}   budget {a.budget:.0f} s (wall): {'PASS' if total <= a.budget else 'FAIL'}")
    print(f"\nkappa matrix, all pathologies: matrix products {t_parts['agreement matrix']:.3f} s vs scikit-learn per pair "
          f"{t_sk:.2f} s: {t_sk / max(t_parts['agreement matrix'], 1e-9):.0f}x faster")
    print(f"extraction throughput: {n / t_lab:,.0f} trajectories/s wall, {n / c_lab:,.0f} per CPU-second, on one core "
          f"(label_texts + mention_table + is_refusal)")
    if c_lab + c_met < .8 * total: print("note: CPU time well below wall time: this process was waiting for a shared core")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0 if total <= a.budget else 1

if __name__ == '__main__': sys.exit(main())
