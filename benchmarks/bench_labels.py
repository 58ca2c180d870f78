"""Throughput of apo_kit.labels on templated trajectories, the real NIH reports repeated and simulated CXR-MAX-style
rationales (markdown headers, cited signs, check marks: the structure pass runs on every one of them).

    python benchmarks/bench_labels.py            # 50,000 texts (about a minute)
    python benchmarks/bench_labels.py --n 171000 # CXR-MAX size

Prints texts/s (median of --repeats runs) for label_texts and mention_table, cold cache (every step analysed) and
warm cache (every step a look-up), with n_jobs=1 and n_jobs=2, and the ratio of n_jobs=2 to n_jobs=1 in this process.
"""
import argparse, json, statistics, time
from pathlib import Path
from apo_kit import labels as L
from apo_kit.simulate import simulate

def rate(fn, texts, n_jobs, cold, repeats):
    out = []
    for _ in range(repeats):
        if cold: L.STEP_CACHE.clear()
        t0 = time.perf_counter(); fn(texts, n_jobs=n_jobs); out.append(len(texts) / (time.perf_counter() - t0))
    return statistics.median(out)

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=50_000); ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    nih = [t['text'] for l in open(Path(__file__).parent.parent/'data_samples'/'nih_multimodel.jsonl')
           for t in json.loads(l)['trajectories']]
    rat = [t.text for s in simulate(a.n // 7 + 1, seed=0, style='rationale').studies for t in s.trajectories][:a.n]
    sets = {'templated': L.templated_reports(a.n), 'NIH repeated': (nih * (a.n // len(nih) + 1))[:a.n], 'rationales': rat}
    print(f"{'input':<14}{'function':<15}{'cache':<7}{'n_jobs=1':>11}{'n_jobs=2':>11}{'ratio':>7}   (texts/s, median of {a.repeats})")
    for name, texts in sets.items():
        for fn in (L.label_texts, L.mention_table):
            for cold in (True, False):
                r1, r2 = (rate(fn, texts, j, cold, a.repeats) for j in (1, 2))
                print(f"{name:<14}{fn.__name__:<15}{'cold' if cold else 'warm':<7}{r1:>11,.0f}{r2:>11,.0f}{r2/r1:>7.2f}")

if __name__ == '__main__': main()
