"""Load + validate a CXR-MAX-sized apo_kit JSONL file: time and memory.

Target (issue 2): a file of ~171k trajectories of ~2 KB each (24,426 studies x 7 teachers = 170,982, as CXR-MAX)
validates in under 30 s on a 2-core machine, and iterating it keeps peak memory below twice the file size.

The benchmark writes the file itself (random but fixed radiology-like text, CheXpert labels, one image per study in
100 folders, created empty so the existence check does real work), then measures, median over --repeats:
  raw json     reading the file and json.loads of every line, nothing else: the floor any loader pays (baseline)
  iter_studies streaming load with full validation, image files checked
  validate     validate_file (what `apo-kit validate` runs)
and the ratio of each to the raw-json baseline measured in the same process. Memory is measured in fresh
subprocesses, two ways: the growth of the resident set (VmHWM peak minus VmRSS after imports, from /proc: what the
OS must provide) and tracemalloc's peak of Python allocations (a separate, slower run). Both are divided by the
file size. load_studies (the whole file as objects in memory) is shown for comparison; it is not the target.

    python benchmarks/bench_data_load.py                      # CXR-MAX size, 3 repeats (~2 minutes)
    python benchmarks/bench_data_load.py --studies 2000 --repeats 1   # quick look
"""
import argparse, json, os, random, statistics, subprocess, sys, tempfile, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from apo_kit.data import PATHOLOGIES, ImageCheck, iter_studies, validate_file

TEACHERS = ['Claude Sonnet-4', 'GPT-5-nano', 'GLM-4.5V', 'Gemini-2.5-flash-lite', 'Moonshot-v1', 'Qwen-VL-Max', 'Grok-4']
PHRASES = ['There is a small left pleural effusion', 'with blunting of the costophrenic angle.', 'The cardiac silhouette is enlarged.',
           'No pneumothorax is seen.', 'Patchy opacity in the right lower lobe may reflect atelectasis or pneumonia.',
           'Mild pulmonary vascular congestion, consistent with interstitial edema.', 'Support devices are in standard position.',
           'The mediastinal contours are within normal limits.', 'Step 1: assess the lung fields.', 'Step 2: compare both hemithoraces;',
           'the right hemidiaphragm is elevated.', 'Impression: findings compatible with', 'no acute cardiopulmonary process.',
           'Degenerative changes of the thoracic spine.', 'A nodular density projects over the left upper lobe.']

def make_file(path: Path, n_studies: int, n_teachers: int, text_bytes: int, seed: int = 0) -> int:
    "Write the benchmark file and its (empty) image files; return the number of trajectories."
    rng = random.Random(seed)
    for d in range(100): (path.parent/'files'/f'p{d:02d}').mkdir(parents=True, exist_ok=True)
    def text():
        words, size = [], 0
        while size < text_bytes:
            w = rng.choice(PHRASES); words.append(w); size += len(w) + 1
        return ' '.join(words)
    pool = [text() for _ in range(2000)]                     # distinct texts, drawn at random: fast to write
    n = 0
    with open(path, 'w', encoding='utf-8') as f:
        for i in range(n_studies):
            img = f'files/p{i % 100:02d}/s{i:08d}.png'
            (path.parent/img).touch()
            labels = {p: rng.choice((1, 0, -1)) for p in rng.sample(PATHOLOGIES, rng.randint(1, 5))}
            trajs = []
            for t in TEACHERS[:n_teachers]:
                trajs.append({'teacher': t, 'text': rng.choice(pool), 'labels': {k: v for k, v in labels.items() if rng.random() < .8}})
            f.write(json.dumps({'study_id': f's{i:08d}', 'images': [img], 'labels': labels, 'trajectories': trajs}) + '\n')
            n += len(trajs)
    return n

def raw_json(path):
    with open(path, 'rb') as f:
        for line in f: json.loads(line)

def timed(fn, repeats):
    ts = []
    for _ in range(repeats):
        t = time.perf_counter(); fn(); ts.append(time.perf_counter() - t)
    return statistics.median(ts)

MEM_CHILD = r'''
import sys, json, tracemalloc
sys.path.insert(0, sys.argv[3])
from apo_kit.data import iter_studies, load_studies
def status(key):
    for l in open('/proc/self/status'):
        if l.startswith(key): return int(l.split()[1]) * 1024
mode, path = sys.argv[1], sys.argv[2]
if mode.endswith('tracemalloc'): tracemalloc.start()
base = status('VmRSS:')
if mode.startswith('iter'): n = sum(len(s.trajectories) for s in iter_studies(path))
else: studies = load_studies(path); n = sum(len(s.trajectories) for s in studies)
peak_py = tracemalloc.get_traced_memory()[1] if tracemalloc.is_tracing() else None
print(json.dumps({'n': n, 'rss_growth': status('VmHWM:') - base, 'tracemalloc_peak': peak_py}))
'''

def memory(mode, path):
    r = subprocess.run([sys.executable, '-c', MEM_CHILD, mode, str(path), str(Path(__file__).resolve().parent.parent)],
                       capture_output=True, text=True, check=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    return json.loads(r.stdout)

def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    ap.add_argument('--studies', type=int, default=24426, help='studies (x teachers = trajectories); 24426 x 7 = 170,982 as CXR-MAX')
    ap.add_argument('--teachers', type=int, default=7)
    ap.add_argument('--text-bytes', type=int, default=2000, help='approximate length of each trajectory')
    ap.add_argument('--repeats', type=int, default=3, help='timing repeats (median reported)')
    ap.add_argument('--dir', default=None, help='where to write the file (default: a temporary folder, removed after)')
    args = ap.parse_args()
    tmp = tempfile.TemporaryDirectory(dir=args.dir)
    path = Path(tmp.name)/'cxr_max_sized.jsonl'
    t = time.perf_counter(); n_traj = make_file(path, args.studies, args.teachers, args.text_bytes)
    gen_s, size = time.perf_counter() - t, path.stat().st_size
    mb = size / 1e6
    print(f"file: {args.studies:,} studies x {args.teachers} teachers = {n_traj:,} trajectories, {mb:,.1f} MB "
          f"({size / n_traj:,.0f} B per trajectory), written in {gen_s:.1f}s; {os.cpu_count()} cores; repeats={args.repeats}")
    errs = validate_file(path)
    assert errs == [], errs[:3]                                               # the benchmark file must be clean
    base = timed(lambda: raw_json(path), args.repeats)
    it = timed(lambda: sum(1 for _ in iter_studies(path)), args.repeats)
    val = timed(lambda: validate_file(path), args.repeats)
    images = [str(path.parent/f'files/p{i % 100:02d}/s{i:08d}.png') for i in range(args.studies)]
    ex = timed(lambda: all(map(os.path.exists, images)), args.repeats)
    cached = timed(lambda: all(map(ImageCheck(), images)), args.repeats)
    print(f"\n{'step':<34}{'seconds':>9}{'traj/s':>12}{'MB/s':>9}{'x raw json':>12}")
    for name, s in (('raw json (baseline)', base), ('iter_studies (validating)', it), ('validate_file', val)):
        print(f"{name:<34}{s:>9.2f}{n_traj / s:>12,.0f}{mb / s:>9.1f}{s / base:>12.2f}")
    print(f"{'image check, os.path.exists':<34}{ex:>9.3f}{'':>12}{'':>9}{'':>12}")
    print(f"{'image check, ImageCheck (cached)':<34}{cached:>9.3f}{'':>12}{'':>9}{'':>12}")
    mem = {m: memory(m, path) for m in ('iter', 'iter+tracemalloc', 'load')}
    assert all(v['n'] == n_traj for v in mem.values())
    print(f"\n{'memory (fresh process)':<44}{'MB':>9}{'/ file size':>13}")
    for label, v in (('iter_studies: RSS growth (VmHWM - VmRSS)', mem['iter']['rss_growth']),
                     ('iter_studies: tracemalloc peak', mem['iter+tracemalloc']['tracemalloc_peak']),
                     ('load_studies (all in memory): RSS growth', mem['load']['rss_growth'])):
        print(f"{label:<44}{v / 1e6:>9.1f}{v / size:>13.3f}")
    ok_time, ok_mem = val < 30 and it < 30, mem['iter']['rss_growth'] < 2 * size and mem['iter+tracemalloc']['tracemalloc_peak'] < 2 * size
    print(f"\ntarget: validate < 30 s: {'PASS' if ok_time else 'FAIL'} ({val:.1f}s); "
          f"iteration peak memory < 2 x file size: {'PASS' if ok_mem else 'FAIL'}")
    tmp.cleanup()
    return 0 if ok_time and ok_mem else 1

if __name__ == '__main__': sys.exit(main())
