"""Client-side throughput of apo_kit.collect against a local server that answers instantly.

    python benchmarks/bench_collect.py                 # 2,000 requests, 32 in flight, median of 3
    python benchmarks/bench_collect.py --n 5000 --concurrency 64

The server (tests/_openai_toy.py) runs in its own process on 127.0.0.1, so the figure is what the client sustains:
building each request, HTTP over loopback, parsing the answer, and appending + fsyncing one JSONL record per answer.
Prints requests/s (wall clock) and the client's CPU seconds per 1,000 requests (median of --repeats runs).
"""
import argparse, os, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from apo_kit.data import Study, Trajectory
from apo_kit.collect import TeacherEndpoint, collect, read_answers

ROOT = Path(__file__).resolve().parent.parent

def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--n', type=int, default=2000); ap.add_argument('--concurrency', type=int, default=32)
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args()
    studies = [Study(f's{i:06d}', [Trajectory('x', 'x'), Trajectory('y', 'y')], labels={'Edema': 1}) for i in range(a.n)]
    srv = subprocess.Popen([sys.executable, str(ROOT/'tests'/'_openai_toy.py')], stdout=subprocess.PIPE, text=True)
    try:
        url = srv.stdout.readline().strip()
        t = TeacherEndpoint('bench', url, 'toy', max_tokens=8, max_concurrency=a.concurrency)
        rates, cpus = [], []
        for _ in range(a.repeats):
            with tempfile.TemporaryDirectory() as d:
                w0, c0 = time.perf_counter(), time.process_time()
                collect(studies, [t], Path(d)/'answers.jsonl', progress=False)
                wall, cpu = time.perf_counter() - w0, time.process_time() - c0
                assert len(read_answers(Path(d)/'answers.jsonl')) == a.n
            rates.append(a.n / wall); cpus.append(1000 * cpu / a.n)
        print(f"{a.n} requests, {a.concurrency} in flight: {statistics.median(rates):,.0f} requests/s "
              f"(runs: {', '.join(f'{r:,.0f}' for r in rates)}); client CPU {statistics.median(cpus):.2f} s per 1,000")
    finally:
        srv.terminate(); srv.wait(10)

if __name__ == '__main__': main()
