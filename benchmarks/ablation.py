"""The simulator ablation (the paper's Table 5 with known truth): teachers, SPD, SPD + SFT, APO pl / pairwise.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablation.py            # the table (about 5 CPU-minutes)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablation.py --quick    # the machinery on a few studies

Writes `benchmarks/out/ablation[-quick]/`: the run folder (resumable), `scores.csv`, `table.md`, `times.json`.
"""
import argparse, json, os, resource, time, warnings
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='a few studies, two steps per arm')
    ap.add_argument('--out', default=None, help='run folder (default benchmarks/out/ablation[-quick])')
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE', help='override AblationConfig fields')
    a = ap.parse_args()
    import torch
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
    from apo_kit.ablation import (AblationConfig, run_ablation, ablation_scores, markdown_table, channel_gain,
                                  ablation_studies)
    from apo_kit.models import load_student
    cfg = AblationConfig()
    if a.quick: cfg = replace(cfg, n_train=12, n_test=10, hidden_size=32, num_layers=1, max_new_tokens=24, max_steps=3,
                              apo_batch_size=2, n_boot=200, keep_flagged=True)
    over = {k: type(getattr(cfg, k))(v) if not isinstance(getattr(cfg, k), bool) else v.lower() in ('1', 'true', 'yes')
            for k, v in (s.split('=', 1) for s in a.set)}
    cfg = AblationConfig.from_dict({**asdict(cfg), **over})
    out = Path(a.out or f"benchmarks/out/ablation{'-quick' if a.quick else ''}")
    c0, w0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        res = run_ablation(cfg, out, progress=False)
    scores = ablation_scores(res)
    gain = channel_gain(load_student(out/'spd'), ablation_studies(cfg)[1][:100])   # does the SPD student read the channel?
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    table = markdown_table(scores, res.best_teacher)
    scores.to_csv(out/'scores.csv', index=False)
    (out/'table.md').write_text(table + '\n')
    times = dict(cpu_s=round(cpu, 1), wall_s=round(wall, 1), load_avg=os.getloadavg(), stages=res.timings,
                 max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                 consensus_gate=res.gate, preference_records=res.n_preferences,
                 spd_channel_gain_nats_per_token=gain)
    (out/'times.json').write_text(json.dumps(times, indent=1))
    print(table)
    print(f"\nheld-out studies: {cfg.n_test}; training studies: {cfg.n_train}; consensus gate: {res.gate['passed']} of "
          f"{res.gate['total']} passed {res.gate['reasons']}; preference records: {res.n_preferences}")
    print(f"SPD student's channel gain on 100 held-out studies: {gain:+.4f} nats/token")
    print(f"stages: {res.timings}")
    print(f"total: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU (OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)")

if __name__ == '__main__': main()
