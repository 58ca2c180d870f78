"""Time to score a CXR-MAX-sized held-out set: 24,000 studies x 8 sources (7 simulated teachers and a student).

    OMP_NUM_THREADS=1 python benchmarks/bench_evaluate.py                 # 24k studies, 1000 resamples
    OMP_NUM_THREADS=1 python benchmarks/bench_evaluate.py --n 2000 --repeats 1

"Scoring" is everything `evaluation_report` does from the texts: labelling all 192k trajectories, the classification
table with 1000 bootstrap resamples, paired differences, temporal accuracy and bias inheritance. Report metrics
(pycocoevalcap) are timed separately on --n-report studies of one source (METEOR's jar and ROUGE-L's pure-Python LCS
dominate). Prints CPU seconds (process_time, this process) and wall seconds; the target is under 120 s.
"""
import argparse, statistics, time
from dataclasses import replace
from apo_kit.simulate import simulate
from apo_kit import evaluate as E

def timed(fn):
    c, w = time.process_time(), time.perf_counter()
    out = fn()
    return out, time.process_time() - c, time.perf_counter() - w

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=24_000); ap.add_argument('--repeats', type=int, default=1)
    ap.add_argument('--n-boot', type=int, default=1000); ap.add_argument('--n-report', type=int, default=500)
    a = ap.parse_args()
    sim, c, w = timed(lambda: simulate(a.n, seed=0))
    st = E.copying_student(sim.studies, sim.teachers[0].name, .3)
    pred = {s.study_id: s.trajectories[-1].text for s in st}
    print(f"simulated {a.n} studies x 7 teachers in {w:.1f} s (not counted)")
    runs = []
    for _ in range(a.repeats):
        rep, c, w = timed(lambda: E.evaluation_report(sim.studies, pred, report_metrics=(), n_boot=a.n_boot))
        runs.append((c, w))
    c, w = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
    print(f"scoring {a.n} studies x 8 sources ({a.n_boot} resamples): {c:.1f} s CPU, {w:.1f} s wall "
          f"(median of {a.repeats}); target < 120 s: {'ok' if w < 120 else 'MISSED'}")
    k = min(a.n_report, a.n)
    hyps = [pred[s.study_id] for s in sim.studies[:k]]
    refs = [[t.text for t in s.trajectories] for s in sim.studies[:k]]
    E.meteor_scorer()                                                              # start the jar (not counted)
    for m in E.REPORT_METRICS[3:]:
        _, c, w = timed(lambda: E.report_stats(hyps, refs, metrics=(m,)))
        print(f"report metric {m:<8} {k} studies x 7 references: {w:.2f} s wall ({k / max(w, 1e-9):,.0f} studies/s)")

if __name__ == '__main__': main()
