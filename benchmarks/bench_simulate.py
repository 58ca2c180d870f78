"""Benchmark the drift simulator: trajectories per second, and what its two optimisations buy.

    python benchmarks/bench_simulate.py            # 5,000 studies (35k trajectories), 3 repeats: about a minute
    python benchmarks/bench_simulate.py --full     # CXR-MAX size: 24,426 studies = 170,982 trajectories

Rows, all measured in this process on the same arguments (medians over repeats):
- `simulate`: as shipped (compiled phrase table via lru_cache, cycle collector paused while objects are built);
- `uncompiled phrases`: every sentence rebuilds its slot dictionary (no phrase cache);
- `no gc pause`: Python's cycle collector running while objects are built (the default for any Python loop);
- `neither`: both optimisations off;
- `save_studies`: writing the same studies as JSONL, a yardstick for "as fast as just writing it out".
Ratios are CPU-time ratios against `simulate`: on a shared machine, CPU time is what the code costs and wall time
also counts waiting for other processes.
"""
import argparse, gc, os, resource, statistics, sys, tempfile, time
from pathlib import Path
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import apo_kit.simulate as S
from apo_kit.data import save_studies


def timed(fn, repeats):
    "Median wall-clock and CPU seconds of `fn` over `repeats` runs, and its last result."
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time(); out = fn()
        wall.append(time.perf_counter() - w0); cpu.append(time.process_time() - c0)
    return (statistics.median(wall), statistics.median(cpu)), out


def without_gc_pause(fn):
    "Run `fn` with simulate's gc pause disabled (gc.disable becomes a no-op)."
    def run():
        real = S.gc.disable
        S.gc.disable = lambda: None
        try: return fn()
        finally: S.gc.disable = real
    return run


def uncompiled(fn):
    "Run `fn` with the phrase cache bypassed: every sentence rebuilds its slot dictionary."
    def run():
        cached = S.render
        S.render = cached.__wrapped__
        try: return fn()
        finally: S.render = cached
    return run


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--studies', type=int, default=5000)
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--full', action='store_true', help='CXR-MAX size (24,426 studies), one repeat')
    a = ap.parse_args()
    n, reps = (24_426, 1) if a.full else (a.studies, a.repeats)
    base = lambda: S.simulate(n, seed=0)
    rows = []
    t_sim, sim = timed(base, reps)
    n_traj = sim.trajectories
    rows.append(('simulate', t_sim))
    rows.append(('uncompiled phrases', timed(uncompiled(base), reps)[0]))
    rows.append(('no gc pause', timed(without_gc_pause(base), reps)[0]))
    rows.append(('neither', timed(without_gc_pause(uncompiled(base)), reps)[0]))
    with tempfile.TemporaryDirectory() as d:
        rows.append(('save_studies', timed(lambda: save_studies(sim.studies, Path(d)/'s.jsonl'), reps)[0]))
    print(f"drift simulator: {n:,} studies x {len(sim.teachers)} teachers = {n_traj:,} trajectories; "
          f"median of {reps}; {os.cpu_count()} CPUs (shared)")
    print(f"{'variant':<26} {'wall s':>7} {'CPU s':>7} {'traj/s (CPU)':>13} {'ratio (CPU)':>12}")
    for name, (w, c) in rows:
        print(f"{name:<26} {w:>7.2f} {c:>7.2f} {n_traj/c:>13,.0f} {c/t_sim[1]:>12.2f}")
    print(f"=> CXR-MAX size (170,982 trajectories) at this rate: {170_982*t_sim[1]/n_traj:.1f} s CPU, "
          f"{170_982*t_sim[0]/n_traj:.1f} s wall on this (shared) machine now")
    print(f"peak memory (max RSS) of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss/1024:,.0f} MB")
    return 0


if __name__ == '__main__':
    sys.exit(main())
