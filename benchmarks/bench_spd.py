"""SPD throughput on the embedded student (SmolLM2-135M-Instruct) with LoRA: apo_kit's SPDTrainer against TRL's
SFTTrainer driven directly with the same settings, in the same process. Runs alternate (apo_kit, TRL, apo_kit
padding-free, ...) to spread the noise of a shared machine; the table gives medians over repeats.

    OMP_NUM_THREADS=1 python benchmarks/bench_spd.py                 # default: 2-4 minutes on an idle core, much longer on a shared one
    python benchmarks/bench_spd.py --steps 30 --repeats 5 --words 120 # longer, steadier
"""
import argparse, dataclasses, os, statistics, sys, tempfile, time, warnings
from pathlib import Path

os.environ.setdefault('OMP_NUM_THREADS', '1')
os.environ.setdefault('HF_HUB_OFFLINE', '1')
os.environ.setdefault('TRANSFORMERS_NO_ADVISORY_WARNINGS', '1')
warnings.filterwarnings('ignore')

import torch
from transformers import TrainerCallback
from transformers.utils import logging as hf_logging
from datasets.utils.logging import disable_progress_bar
from peft import get_peft_model
from trl import SFTTrainer

from apo_kit.data import load_studies
from apo_kit.models import embedded_student, lora_config
from apo_kit.spd import SPDSettings, spd_dataset, spd_trainer

hf_logging.set_verbosity_error(); disable_progress_bar()
ROOT = Path(__file__).resolve().parents[1]


class StepClock(TrainerCallback):
    "Wall-clock and process CPU time at the end of every optimiser step."
    def __init__(self): self.wall, self.cpu = [], []
    def on_step_end(self, args, state, control, **kw):
        self.wall.append(time.perf_counter()); self.cpu.append(time.process_time())


class CountingCollator:
    "Counts the real (non-pad) tokens of every batch, in order."
    def __init__(self, base): self.base, self.tokens = base, []
    def __call__(self, examples):
        self.tokens.append(sum(len(e['input_ids']) for e in examples))     # real tokens, padding excluded
        return self.base(examples)


def run(kind, ds, plain, cfg):
    "One training run; tokens per CPU second and per wall second over steps 2..N, and the token count."
    model, tok = embedded_student()
    clock = StepClock()
    with tempfile.TemporaryDirectory() as d:
        if kind == 'trl':
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(cfg.seed)
                model = get_peft_model(model, lora_config(model, cfg.lora_args or True))
            args = cfg.sft_config(d)
            tr = SFTTrainer(model=model, args=args, train_dataset=plain, processing_class=tok, callbacks=[clock])
        else:
            c = dataclasses.replace(cfg, padding_free=kind == 'apo_kit padding-free')
            tr = spd_trainer((model, tok), ds, d, c, callbacks=[clock])
        tr.data_collator = counter = CountingCollator(tr.data_collator)
        tr.train()
    steps = len(clock.wall)
    tokens = sum(counter.tokens[1:steps])                      # batch i feeds step i+1 (grad-acc 1)
    return tokens / (clock.cpu[-1] - clock.cpu[0]), tokens / (clock.wall[-1] - clock.wall[0]), tokens


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument('--steps', type=int, default=6, help='optimiser steps per run (the first is warm-up)')
    ap.add_argument('--repeats', type=int, default=3, help='runs per variant; medians are reported')
    ap.add_argument('--words', type=int, default=40, help='trajectories are cut to this many words')
    ap.add_argument('--batch', type=int, default=2, help='per-device batch (the authors: 2)')
    ap.add_argument('--no-padding-free', action='store_true', help='skip the padding-free variant')
    a = ap.parse_args(argv)

    studies = load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl')
    for s in studies:
        for t in s.trajectories: t.text = ' '.join(t.text.split()[:a.words])
    ds = spd_dataset(studies, verbose=False)
    plain = ds.remove_columns(['weight', 'teacher', 'study_id', 'refusal'])   # what TRL alone would be given
    cfg = SPDSettings(lora=True, max_steps=a.steps, per_device_train_batch_size=a.batch, gradient_accumulation_steps=1,
                      max_length=2304, logging_steps=10_000, save_steps=10_000, use_cpu=True, bf16=False)
    t0 = time.perf_counter(); embedded_student(); load_s = time.perf_counter() - t0

    kinds = ['apo_kit', 'trl'] + ([] if a.no_padding_free else ['apo_kit padding-free'])
    res, wall = {k: [] for k in kinds}, {k: [] for k in kinds}
    for r in range(a.repeats):
        for k in (kinds if r % 2 == 0 else kinds[::-1]):        # alternate the order between repeats
            tps, wtps, n = run(k, ds, plain, cfg)
            res[k].append(tps); wall[k].append(wtps)
            print(f'  repeat {r + 1}: {k:22s} {tps:8.1f} tokens/CPU-s {wtps:8.1f} tokens/wall-s ({n} tokens)', flush=True)

    # Throughput per CPU second of this process: on a machine shared with other jobs, wall-clock time mostly
    # measures the neighbours; CPU time of a single-threaded process (OMP_NUM_THREADS=1) measures our work.
    med = {k: statistics.median(v) for k, v in res.items()}
    wmed = {k: statistics.median(v) for k, v in wall.items()}
    print(f'\nSPD throughput, SmolLM2-135M-Instruct + LoRA r8/α32, CPU, OMP_NUM_THREADS={os.environ["OMP_NUM_THREADS"]}, '
          f'batch {a.batch}, {a.steps} steps/run (first excluded), {a.repeats} repeats, trajectories ≤ {a.words} words; '
          f'embedded student load {load_s:.1f}s')
    print(f'| {"trainer":22s} | tokens/CPU-s (median) | runs            | vs TRL | tokens/wall-s | vs TRL |')
    print(f'|{"-" * 24}|-----------------------|-----------------|--------|---------------|--------|')
    for k in kinds:
        runs = ' '.join(f'{x:.0f}' for x in res[k])
        print(f'| {k:22s} | {med[k]:21.1f} | {runs:15s} | {med[k] / med["trl"]:6.3f} | {wmed[k]:13.1f} | '
              f'{wmed[k] / wmed["trl"]:6.3f} |')
    overhead = med['trl'] / med['apo_kit'] - 1
    print(f'\napo_kit overhead vs TRL SFTTrainer (CPU time): {overhead * 100:+.1f}% (target: at most +10%); '
          f'wall clock: {(wmed["trl"] / wmed["apo_kit"] - 1) * 100:+.1f}%')
    if 'apo_kit padding-free' in med:
        print(f'padding-free speed-up over padded apo_kit: x{med["apo_kit padding-free"] / med["apo_kit"]:.2f}')
    return overhead


if __name__ == '__main__':
    overhead = main()
    sys.exit(0 if overhead <= 0.10 else 1)
