"""The simulator ablation (the paper's Table 5 with known truth): teachers, SPD, SPD + SFT, APO pl / pairwise.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablation.py            # the table (about 15 CPU-minutes)
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablation.py --small    # `small_ablation`: a few CPU-minutes
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/ablation.py --quick    # the machinery on a few studies

Writes `benchmarks/out/ablation[-small|-quick]/`: the run folder (resumable; other settings are refused),
`scores.csv` and `inheritance.csv` (apo_kit.evaluate's rows for every arm), `table.md`, `times.json`.
"""
import argparse, json, os, resource, time, warnings
from dataclasses import asdict, replace
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('HF_HUB_OFFLINE', '1')

QUICK = dict(n_train=12, n_test=10, hidden_size=32, num_layers=1, max_new_tokens=24, max_steps=3, apo_batch_size=2,
             n_boot=200, keep_flagged=True)

def _value(cfg, k, v):
    "A `--set` value in the type of the setting it overrides."
    old = getattr(cfg, k)
    return v.lower() in ('1', 'true', 'yes') if isinstance(old, bool) else type(old)(v)

def _config(a):
    from apo_kit.ablation import AblationConfig, SMALL
    cfg = AblationConfig()
    if a.small: cfg = replace(cfg, **SMALL)
    if a.quick: cfg = replace(cfg, **QUICK)
    over = {k: _value(cfg, k, v) for k, v in (s.split('=', 1) for s in a.set)}
    return AblationConfig.from_dict({**asdict(cfg), **over})

def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--quick', action='store_true', help='a few studies, three steps per arm')
    ap.add_argument('--small', action='store_true', help="`small_ablation`'s settings")
    ap.add_argument('--out', default=None, help='run folder (default benchmarks/out/ablation[-small|-quick])')
    ap.add_argument('--set', nargs='*', default=[], metavar='KEY=VALUE', help='override AblationConfig fields')
    a = ap.parse_args()
    import torch
    torch.set_num_threads(int(os.environ['OMP_NUM_THREADS']))
    from apo_kit.ablation import run_ablation, ablation_scores, markdown_table, channel_gain, pooled_inheritance
    from apo_kit.models import load_student
    cfg = _config(a)
    out = Path(a.out or f"benchmarks/out/ablation{'-quick' if a.quick else '-small' if a.small else ''}")
    c0, w0 = time.process_time(), time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter('ignore', UserWarning)
        res = run_ablation(cfg, out, progress=True)
    scores, inh = ablation_scores(res)
    gain = channel_gain(load_student(out/'spd'), res.studies[:100])   # does the SPD student read the channel?
    cpu, wall = time.process_time() - c0, time.perf_counter() - w0
    table = markdown_table(scores, inh, res.best_teacher)
    scores.to_csv(out/'scores.csv', index=False)
    inh.to_csv(out/'inheritance.csv', index=False)
    (out/'table.md').write_text(table + '\n')
    stages_cpu = sum(t['cpu_s'] for t in res.stage_times.values())
    times = dict(cpu_s=round(cpu, 1), wall_s=round(wall, 1), stages_cpu_s_all_runs=round(stages_cpu, 1),
                 load_avg=os.getloadavg(), stages=res.stage_times,
                 max_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
                 consensus_gate=res.gate, preference_records=res.n_preferences,
                 spd_channel_gain_nats_per_token=gain)
    (out/'times.json').write_text(json.dumps(times, indent=1))
    print(table)
    print(pooled_inheritance(inh).round(3).to_string())
    print(f"\nheld-out studies: {cfg.n_test}; training studies: {cfg.n_train}; consensus gate: {res.gate['passed']} of "
          f"{res.gate['total']} passed {res.gate['reasons']}; preference records: {res.n_preferences}")
    print(f"SPD student's channel gain on {min(100, cfg.n_test)} held-out studies: {gain:+.4f} nats/token")
    print(f"stages (all runs on this folder): {res.stage_times}")
    print(f"this run: {wall / 60:.1f} min wall, {cpu / 60:.1f} min CPU; "
          f"stages of all runs: {stages_cpu / 60:.1f} CPU-min "
          f"(OMP_NUM_THREADS={os.environ['OMP_NUM_THREADS']}, load average {os.getloadavg()[0]:.1f} on "
          f"{os.cpu_count()} cores)")

if __name__ == '__main__': main()
