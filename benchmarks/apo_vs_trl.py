"""apo_kit's APOTrainer (one-step Plackett–Luce over [t⁺; τ¹..τᴷ]) against TRL's DPOTrainer over the K flattened
(t⁺, τᵘ) pairs (the authors' released recipe), same student, same LoRA, same studies per optimizer step.

    python benchmarks/apo_vs_trl.py            # quick (default): tiny Qwen2, tiny Qwen2.5-VL, SmolLM2 cut short
    python benchmarks/apo_vs_trl.py --full     # SmolLM2 at full length (~1,280 tokens per study): slow on CPU

Variants, each run in its own subprocess (so peak memory, ru_maxrss, is per variant), alternating, medians over repeats:
  apo          APOTrainer, PL loss, reference precomputed, one policy pass over the 1+K rows of a study
               (share_prompt=False: the layout TRL uses, one row per completion)
  apo_prefix   the same with share_prompt=True (APOTrainer's default for text students): one packed row per study,
               the prompt computed once
  trl          DPOTrainer, 7 pairs per step, given the same advantages: reference precomputed (text; TRL refuses it
               for images), no gradient checkpointing
  trl_default  DPOTrainer with TRL's own defaults, as the released recipe runs: reference on the fly with the
               adapter disabled, gradient checkpointing on
All: LoRA r 8, α 32, dropout 0.05 on all linear layers of the language model, β 0.1, lr 5e-7, float32, no
truncation, K = 7 teachers per study (the NIH sample's 7 real reports as rejected; a stand-in consensus, the first
report again, as chosen: there is no stage-2 consensus here), one study per optimizer step (APO: 1 study; TRL: 7
pairs). Throughput: studies per CPU-second of the training process over the steps after the first (warm-up); with
one thread this equals studies/s on an idle machine, and it is robust to the other jobs sharing the 2 cores
(wall-clock ratios are printed too). FLOP/s counts 4·(linear weights)·(non-pad tokens) per step for LoRA training
(forward 2N; backward only the activation gradient 2N, frozen weights need no weight gradient), text model only,
against a plain float32 512×512 matmul measured in the same process with the same number of threads.
"""
import argparse, json, os, resource, statistics, subprocess, sys, tempfile, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
K = 7

def records(vlm, chars):
    from apo_kit.data import load_studies
    from apo_kit.apo import stand_in_records
    studies = load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl')
    out = []
    for r, s in zip(stand_in_records(studies, vlm=vlm), studies):   # stand-in consensus: the first report (K = 7)
        cut = (lambda t: t[:chars]) if chars else (lambda t: t)
        out.append({**r, 'chosen': cut(s.trajectories[0].text), 'rejected': [cut(t.text) for t in s.trajectories][:K],
                    'teachers': s.teachers[:K]})
    return out

def load(student):
    from apo_kit.models import tiny_student, embedded_student
    return embedded_student() if student == 'embedded' else tiny_student('vlm' if student == 'vlm' else 'text')

def linear_params(model):
    import torch
    from apo_kit.models import vision_tower
    vt = vision_tower(model); skip = {id(m) for m in vt.modules()} if vt is not None else set()
    return sum(m.weight.numel() for m in model.modules() if isinstance(m, torch.nn.Linear) and id(m) not in skip)

def matmul_flops(threads, n=512, reps=60):
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    for _ in range(3): a @ b
    t = time.process_time()                             # CPU time, like the training figures
    for _ in range(reps): a @ b
    return 2 * n**3 * reps / (time.process_time() - t)

def worker(student, method, steps, chars, out):
    import logging, warnings, torch
    from transformers import TrainerCallback
    warnings.simplefilter('ignore'); logging.getLogger('transformers').setLevel(logging.ERROR)
    os.environ['TQDM_DISABLE'] = '1'
    vlm = student == 'vlm'
    recs = records(vlm, chars)[:steps]                  # one study per step: only these are read (and precomputed)
    model, proc = load(student)
    n_lin = linear_params(model)
    rss_loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    from apo_kit.models import lora_config
    from apo_kit.apo import APOCollator, APOConfig, APOTrainer
    lora = lora_config(model, dict(r=8, lora_alpha=32, lora_dropout=0.05))
    # non-pad tokens per study: APO scores prompt + each of the 1+K completions once; TRL 2 sequences per pair
    coll = APOCollator(proc, max_length=None)
    enc = [coll.encode(r) for r in recs]
    apo_tok = [sum(len(e['prompt_ids']) + len(c) for c in e['completion_ids']) for e in enc]
    pre_tok = [len(e['prompt_ids']) - 1 + sum(1 + len(c) for c in e['completion_ids']) for e in enc]
    trl_tok = [sum(2 * len(e['prompt_ids']) + len(e['completion_ids'][0]) + len(c) for c in e['completion_ids'][1:]) for e in enc]
    times, cpu = [], []
    class Clock(TrainerCallback):
        def on_step_end(self, *a, **k): times.append(time.perf_counter()); cpu.append(time.process_time())
    common = dict(output_dir=out + '.run', max_steps=steps, learning_rate=5e-7, use_cpu=True, bf16=False, report_to='none',
                  save_strategy='no', logging_steps=10**6, disable_tqdm=True, gradient_checkpointing=False, seed=0)
    if method in ('apo', 'apo_prefix'):
        args = APOConfig(per_device_train_batch_size=1, max_length=None, precompute_ref_logps=True,
                         share_prompt=method == 'apo_prefix', **common)
        tr = APOTrainer(model, args, train_dataset=recs, processing_class=proc, peft_config=lora, callbacks=[Clock()])
    else:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer
        from apo_kit.models import user_messages
        from apo_kit.apo import _open_images
        rows = []
        for r in recs:
            for u in range(K):
                row = {'prompt': user_messages(r['prompt'], len(r['images']) if vlm else 0),
                       'chosen': [{'role': 'assistant', 'content': r['chosen']}],
                       'rejected': [{'role': 'assistant', 'content': r['rejected'][u]}]}
                if vlm: row['images'] = _open_images(r['images'])
                rows.append(row)
        if method == 'trl_default':     # TRL's own defaults, as the released recipe runs: reference on the fly, checkpointing
            common.update(gradient_checkpointing=True)
        args = DPOConfig(per_device_train_batch_size=K, beta=0.1, loss_type=['sigmoid'], max_length=None,
                         precompute_ref_log_probs=not vlm and method == 'trl', **common)
        tr = DPOTrainer(model, args=args, train_dataset=Dataset.from_list(rows), processing_class=proc,
                        peft_config=lora, callbacks=[Clock()])
    rss_ready = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter(); tr.train(); total = time.perf_counter() - t0
    dt = [b - a for a, b in zip(times, times[1:])]                    # steps after the first (warm-up)
    dc = [b - a for a, b in zip(cpu, cpu[1:])]
    step = statistics.median(dt) if dt else total
    cpu_step = statistics.median(dc) if dc else total
    n = len(dt) or 1
    tokens = statistics.mean({'apo': apo_tok, 'apo_prefix': pre_tok, 'trl': trl_tok, 'trl_default': trl_tok}[method][i % len(recs)] for i in range(1, 1 + n))
    flops = 4 * n_lin * tokens / step
    json.dump(dict(student=student, method=method, studies_per_s=1 / step, step_s=step, steps_timed=len(dt),
                   studies_per_cpu_s=1 / cpu_step, cpu_step_s=cpu_step, flops_per_cpu_s=4 * n_lin * tokens / cpu_step,
                   peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rss_after_load_mb=rss_loaded,
                   rss_before_train_mb=rss_ready, tokens_per_study=tokens, flops_per_s=flops,
                   matmul_flops_per_s=matmul_flops(torch.get_num_threads()), threads=torch.get_num_threads(),
                   apo_tokens_per_study=statistics.mean(apo_tok), trl_tokens_per_study=statistics.mean(trl_tok),
                   prefix_tokens_per_study=statistics.mean(pre_tok)),
              open(out, 'w'))

def run(student, method, steps, chars, threads):
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}
    with tempfile.TemporaryDirectory() as d:
        out = str(Path(d)/'r.json')
        r = subprocess.run([sys.executable, __file__, '--worker', student, method, str(steps), str(chars), out],
                           env=env, capture_output=True, text=True)
        if r.returncode: raise RuntimeError(f"{student}/{method} failed:\n{r.stderr[-4000:]}")
        return json.load(open(out))

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--full', action='store_true', help='SmolLM2 at full length, more steps and repeats (slow)')
    p.add_argument('--students', default='tiny,vlm,embedded', help='comma-separated: tiny, vlm, embedded')
    p.add_argument('--repeats', type=int); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--no-prefix', action='store_true', help="skip APO with the prompt's forward shared (share_prompt)")
    p.add_argument('--reverse', action='store_true', help='start with the reversed order of variants (for a second run)')
    p.add_argument('--no-default', action='store_true', help="skip TRL with its defaults (reference on the fly, checkpointing)")
    p.add_argument('--worker', nargs=5, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker: return worker(a.worker[0], a.worker[1], int(a.worker[2]), int(a.worker[3]), a.worker[4])
    # (timed steps + 1, characters kept per trajectory (0 = all), repeats) per student
    plan = {'tiny': (6, 0, 3), 'vlm': (5, 0, 3), 'embedded': (3, 0, 2) if a.full else (2, 160, 1)}
    print(f"threads per run: {a.threads}; the machine has {os.cpu_count()} cores shared with other jobs "
          f"(load average {os.getloadavg()[0]:.1f}): absolute figures are noisy, compare the ratios", flush=True)
    rows = []
    for student in a.students.split(','):
        steps, chars, reps = plan[student]
        reps = a.repeats or reps
        methods = ['apo', 'trl'] + ([] if a.no_prefix or student == 'vlm' else ['apo_prefix']) + ([] if a.no_default else ['trl_default'])
        res = {m: [] for m in methods}
        for i in range(reps):
            for m in (methods if (i + a.reverse) % 2 == 0 else methods[::-1]):  # alternate the order
                res[m].append(run(student, m, steps, chars, a.threads))
                x = res[m][-1]
                print(f"  {student:8s} {m:10s}: {x['studies_per_cpu_s']:.4f} studies per CPU-s, {x['studies_per_s']:.4f} studies/s "
                      f"wall, peak {x['peak_rss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}", flush=True)
        med = lambda m, k: statistics.median(x[k] for x in res[m])
        R = lambda a, b, k: statistics.median(x[k] / y[k] for x, y in zip(res[a], res[b]))
        rows.append(dict(student=student, chars=chars or 'all', reps=reps,
                         apo=med('apo', 'studies_per_cpu_s'), trl=med('trl', 'studies_per_cpu_s'),
                         ratio=R('apo', 'trl', 'studies_per_cpu_s'), wall_ratio=R('apo', 'trl', 'studies_per_s'),
                         apo_wall=med('apo', 'studies_per_s'), trl_wall=med('trl', 'studies_per_s'),
                         apo_mb=med('apo', 'peak_rss_mb'), trl_mb=med('trl', 'peak_rss_mb'),
                         apo_train_mb=med('apo', 'peak_rss_mb') - med('apo', 'rss_before_train_mb'),
                         trl_train_mb=med('trl', 'peak_rss_mb') - med('trl', 'rss_before_train_mb'),
                         apo_tok=res['apo'][0]['apo_tokens_per_study'], trl_tok=res['apo'][0]['trl_tokens_per_study'],
                         apo_flops=med('apo', 'flops_per_cpu_s'), trl_flops=med('trl', 'flops_per_cpu_s'),
                         mm=med('apo', 'matmul_flops_per_s'),
                         pre=med('apo_prefix', 'studies_per_cpu_s') if 'apo_prefix' in res else None,
                         pre_ratio=R('apo_prefix', 'trl', 'studies_per_cpu_s') if 'apo_prefix' in res else None,
                         pre_wall_ratio=R('apo_prefix', 'trl', 'studies_per_s') if 'apo_prefix' in res else None,
                         pre_mb=med('apo_prefix', 'peak_rss_mb') if 'apo_prefix' in res else None,
                         pre_flops=med('apo_prefix', 'flops_per_cpu_s') if 'apo_prefix' in res else None,
                         pre_tok=res['apo'][0]['prefix_tokens_per_study'],
                         dflt=R('apo', 'trl_default', 'studies_per_cpu_s') if 'trl_default' in res else None,
                         dflt_wall=R('apo', 'trl_default', 'studies_per_s') if 'trl_default' in res else None,
                         dflt_pre=R('apo_prefix', 'trl_default', 'studies_per_cpu_s') if 'trl_default' in res and 'apo_prefix' in res else None,
                         dflt_st=med('trl_default', 'studies_per_cpu_s') if 'trl_default' in res else None,
                         dflt_mb=med('trl_default', 'peak_rss_mb') if 'trl_default' in res else None))
    print(f"\n{'student':9s} {'text':>5s} {'reps':>4s} {'APO st/s':>9s} {'TRL st/s':>9s} {'ratio':>6s} {'wall':>5s} {'APO MB':>7s} {'TRL MB':>7s} "
          f"{'APO +MB':>8s} {'TRL +MB':>8s} {'tok APO':>8s} {'tok TRL':>8s} {'APO GF/s':>9s} {'TRL GF/s':>9s} {'mm GF/s':>8s} {'APO/mm':>7s}")
    for r in rows:
        print(f"{r['student']:9s} {str(r['chars']):>5s} {r['reps']:>4d} {r['apo']:9.4f} {r['trl']:9.4f} {r['ratio']:6.2f} {r['wall_ratio']:5.2f} "
              f"{r['apo_mb']:7.0f} {r['trl_mb']:7.0f} {r['apo_train_mb']:8.0f} {r['trl_train_mb']:8.0f} {r['apo_tok']:8.0f} "
              f"{r['trl_tok']:8.0f} {r['apo_flops']/1e9:9.2f} {r['trl_flops']/1e9:9.2f} {r['mm']/1e9:8.2f} {r['apo_flops']/r['mm']:7.2f}")
    print(f"\nAPO with the prompt's forward shared (share_prompt=True, one packed row per study):")
    print(f"{'student':9s} {'st/s':>7s} {'÷TRL':>6s} {'wall':>5s} {'÷APO':>6s} {'peak MB':>8s} {'tokens':>7s} {'GF/s':>6s} {'/mm':>5s}")
    for r in rows:
        if r['pre'] is not None:
            print(f"{r['student']:9s} {r['pre']:7.4f} {r['pre_ratio']:6.2f} {r['pre_wall_ratio']:5.2f} {r['pre']/r['apo']:6.2f} {r['pre_mb']:8.0f} "
                  f"{r['pre_tok']:7.0f} {r['pre_flops']/1e9:6.2f} {r['pre_flops']/r['mm']:5.2f}")
    print("\nAgainst TRL with its own defaults (the released recipe as it runs: reference on the fly with the adapter off, "
          "gradient checkpointing on):")
    print(f"{'student':9s} {'TRL st/s':>9s} {'TRL MB':>7s} {'APO÷':>6s} {'wall':>5s} {'APO+prefix÷':>12s}")
    for r in rows:
        if r['dflt'] is not None:
            print(f"{r['student']:9s} {r['dflt_st']:9.4f} {r['dflt_mb']:7.0f} {r['dflt']:6.2f} {r['dflt_wall']:5.2f} "
                  f"{(r['dflt_pre'] if r['dflt_pre'] is not None else float('nan')):12.2f}")
    print("\nst/s = studies per CPU-second of the training process (1 thread: on an idle machine this is studies/s; on this "
          "shared machine wall-clock depends on other jobs' load, so CPU time is the primary figure; 'wall' = the same ratio "
          "from wall-clock). ratio = median over repeats of APO ÷ TRL (target ≥ 2.5 for the embedded student). "
          "MB = peak RSS of the run; +MB = peak minus RSS before training. tok = non-pad tokens per study. "
          "'text' = characters kept per trajectory.")
    print("main table, tiny/embedded: reference precomputed for both, no checkpointing. vlm: APO precomputed + vision tower once per study; "
          "TRL reference on the fly (it refuses to precompute for images) and the image encoded per sequence.")

if __name__ == '__main__': main()
