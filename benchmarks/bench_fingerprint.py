"""What the data stage's fingerprint costs now that it hashes the images the studies refer to.

Times `apo_kit.pipeline.fingerprints` (it loads the studies file, hashes it and every image file, then the settings)
and `images_sha256` alone, in CPU seconds of this process (medians of --repeats), on `data_samples/` and on a
simulated set of --studies studies with one distinct image file of --kb KB each (random bytes: the hash cost does
not depend on what the bytes are). Files are read from the page cache after the first repeat (the set is written
just before), so the figure is the hashing, not a cold disk.

    OMP_NUM_THREADS=1 python benchmarks/bench_fingerprint.py [--studies 2000] [--kb 250] [--repeats 3]
"""
import argparse, json, os, shutil, statistics, sys, tempfile, time
from pathlib import Path

from apo_kit.data import load_studies
from apo_kit.pipeline import demo_config, fingerprints, images_sha256

ROOT = Path(__file__).resolve().parents[1]


def cpu(fn, repeats):
    "Median CPU and wall milliseconds of `fn()` over `repeats` calls."
    c, w = [], []
    for _ in range(repeats):
        t, tw = time.process_time(), time.perf_counter()
        fn()
        c.append(1e3 * (time.process_time() - t)); w.append(1e3 * (time.perf_counter() - tw))
    return f"{statistics.median(c):.0f} ms ({statistics.median(w):.0f} ms wall)"


def simulated(folder:Path, n:int, kb:int) -> Path:
    "n studies, each with one image of `kb` KB of random bytes and the first sample study's trajectories."
    (folder/'images').mkdir(parents=True)
    base = json.loads((ROOT/'data_samples'/'nih_multimodel.jsonl').read_text().splitlines()[0])
    with open(folder/'studies.jsonl', 'w') as f:
        for i in range(n):
            (folder/'images'/f'{i:05d}.png').write_bytes(os.urandom(kb * 1024))
            f.write(json.dumps({**base, 'study_id': f's{i:05d}', 'images': [f'images/{i:05d}.png']}) + '\n')
    return folder/'studies.jsonl'


def measure(name, data, repeats):
    studies = load_studies(data)
    files = {p for s in studies for p in [*s.prior_image_paths, *s.image_paths]}
    mb = sum(p.stat().st_size for p in files) / 1e6
    cfg = demo_config(data=str(data))
    fp, im = cpu(lambda: fingerprints(cfg), repeats), cpu(lambda: images_sha256(studies, Path(data).parent), repeats)
    print(f"| {name} | {len(studies)} | {len(files)} files, {mb:.1f} MB | {fp} | {im} |", flush=True)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--studies', type=int, default=2000)
    ap.add_argument('--kb', type=int, default=250, help='size of each simulated image file')
    ap.add_argument('--repeats', type=int, default=3)
    a = ap.parse_args(argv)
    print('| set | studies | image bytes | fingerprints: CPU (wall) | images_sha256 alone |\n|---|---|---|---|---|')
    measure('data_samples/nih_multimodel.jsonl', ROOT/'data_samples'/'nih_multimodel.jsonl', a.repeats)
    d = Path(tempfile.mkdtemp())
    try: measure(f'simulated, {a.kb} KB per image', simulated(d, a.studies, a.kb), a.repeats)
    finally: shutil.rmtree(d)


if __name__ == '__main__': sys.exit(main())
