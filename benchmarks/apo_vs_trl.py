"""apo_kit's APOTrainer (one-step Plackett–Luce over [t⁺; τ¹..τᴷ]) against TRL's DPOTrainer over the K flattened
(t⁺, τᵘ) pairs (the authors' released recipe), same student, same LoRA, same studies per optimizer step.

    python benchmarks/apo_vs_trl.py            # quick (default): tiny Qwen2, tiny Qwen2.5-VL, SmolLM2 cut short
    python benchmarks/apo_vs_trl.py --full     # SmolLM2 at full length (~1,280 tokens per study): slow on CPU

Variants, each run in its own subprocess (so peak memory, ru_maxrss, is per variant), alternating, medians over repeats:
  apo          APOTrainer, PL loss, reference precomputed, one policy pass over the 1+K rows of a study
               (share_prompt=False: the layout TRL uses, one row per completion)
  apo_dense    share_prompt=True with attention='dense': one packed row per study, the prompt computed once, dense
               attention under a block-causal mask (the default before issue 15)
  apo_prefix   share_prompt=True, attention='blocks' (APOTrainer's default, text and VLM): the prompt (images too)
               once per study, each completion attending to its prompt and itself only
  apo_ckpt     apo_prefix with gradient (activation) checkpointing; apo_ckptN: every N-th decoder layer only
  apo_arena    apo_prefix with activation_arena=True: saved activations copied into slabs reused every step
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
--malloc lean runs every variant alike under apo_kit.cli.LEAN_MALLOC (glibc's tcache and fast bins off, what the
`apo-kit` console script uses); default: glibc's defaults.
"""
import argparse, json, os, re, resource, statistics, subprocess, sys, tempfile, time
from concurrent.futures import ThreadPoolExecutor
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
    if method.startswith('apo'):
        every = int(method[len('apo_ckpt'):] or 1) if method.startswith('apo_ckpt') else 0   # apo_ckpt2: every 2nd layer
        common.update(activation_checkpointing=bool(every), activation_checkpointing_kwargs={'every_n_layers': every or 1})
        del common['gradient_checkpointing']
        if method == 'apo_arena': common['activation_arena'] = True
        args = APOConfig(per_device_train_batch_size=1, max_length=None, precompute_ref_logps=True,
                         share_prompt=method != 'apo', attention='dense' if method == 'apo_dense' else 'blocks', **common)
        tr = APOTrainer(model, args, train_dataset=recs, processing_class=proc, peft_config=lora, callbacks=[Clock()])
    else:
        from datasets import Dataset
        from trl import DPOConfig, DPOTrainer
        from apo_kit.models import user_messages
        from apo_kit.apo import open_images
        rows = []
        for r in recs:
            for u in range(K):
                row = {'prompt': user_messages(r['prompt'], len(r['images']) if vlm else 0),
                       'chosen': [{'role': 'assistant', 'content': r['chosen']}],
                       'rejected': [{'role': 'assistant', 'content': r['rejected'][u]}]}
                if vlm: row['images'] = open_images(r['images'])
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
    tok = apo_tok if method == 'apo' else pre_tok if method.startswith('apo') else trl_tok
    tokens = statistics.mean(tok[i % len(recs)] for i in range(1, 1 + n))
    flops = 4 * n_lin * tokens / step
    json.dump(dict(student=student, method=method, studies_per_s=1 / step, step_s=step, steps_timed=len(dt),
                   studies_per_cpu_s=1 / cpu_step, cpu_step_s=cpu_step, flops_per_cpu_s=4 * n_lin * tokens / cpu_step,
                   peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, rss_after_load_mb=rss_loaded,
                   rss_before_train_mb=rss_ready, tokens_per_study=tokens, flops_per_s=flops,
                   matmul_flops_per_s=matmul_flops(torch.get_num_threads()), threads=torch.get_num_threads(),
                   apo_tokens_per_study=statistics.mean(apo_tok), trl_tokens_per_study=statistics.mean(trl_tok),
                   prefix_tokens_per_study=statistics.mean(pre_tok)),
              open(out, 'w'))

def worker_env(threads:int, malloc:str='default') -> dict:
    "A benchmark worker's environment: offline, `threads` threads, glibc's allocator as asked ('default' or 'lean')."
    from apo_kit.cli import LEAN_MALLOC
    env = {k: v for k, v in os.environ.items() if k != 'GLIBC_TUNABLES'}
    env.update(OMP_NUM_THREADS=str(threads), HF_HUB_OFFLINE='1', TOKENIZERS_PARALLELISM='false', TQDM_DISABLE='1')
    if malloc == 'lean': env['GLIBC_TUNABLES'] = LEAN_MALLOC
    return env

def run(student, method, steps, chars, threads, malloc='default'):
    env = worker_env(threads, malloc)
    with tempfile.TemporaryDirectory() as d:
        out = str(Path(d)/'r.json')
        r = subprocess.run([sys.executable, __file__, '--worker', student, method, str(steps), str(chars), out],
                           env=env, capture_output=True, text=True)
        if r.returncode: raise RuntimeError(f"{student}/{method} failed:\n{r.stderr[-4000:]}")
        return json.load(open(out))


def _category(e):
    "Where one profiler event's self time goes: the innermost optimizer / head / attention, else its operator."
    names, a = [], e
    while a is not None: names.append(a.name); a = a.cpu_parent
    if any(n.startswith('Optimizer.') for n in names): return 'optimizer'
    if any('ChunkedLogProb' in n or 'CompletionLogProb' in n for n in names): return 'head (log-probs)'
    if any('scaled_dot_product' in n or 'ScaledDotProduct' in n for n in names): return 'attention'
    if e.name in ('aten::mm', 'aten::addmm', 'aten::bmm', 'aten::addmm_'):
        return 'matmul LoRA (r 8)' if any(8 in (x or []) for x in e.input_shapes[:2]) else 'matmul linear'
    if e.name == 'aten::bernoulli_': return 'dropout masks'
    if e.name in ('aten::mul', 'aten::add', 'aten::add_', 'aten::div_', 'aten::mul_', 'aten::div', 'aten::sub', 'aten::pow',
                  'aten::rsqrt', 'aten::mean', 'aten::silu', 'aten::silu_backward', 'aten::neg', 'aten::sum', 'aten::cos',
                  'aten::sin', 'aten::fill_', 'aten::zero_'): return 'elementwise'
    if e.name in ('aten::copy_', 'aten::index', 'aten::index_put_', 'aten::_index_put_impl_', 'aten::cat', 'aten::clone',
                  'aten::index_add_', 'aten::empty', 'aten::empty_strided', 'aten::scatter', 'aten::gather'):
        return 'copies and indexing'
    return 'other'

def profile_step(attention, dropout):
    "Profile one APO step (SmolLM2, the first NIH study at full length, K = 7): shares of the time by category."
    import collections, torch
    from torch.profiler import profile, ProfilerActivity
    from apo_kit.models import lora_config
    from apo_kit.apo import APOCollator, completion_logps, fuse_lora_dropout
    from peft import get_peft_model
    torch.manual_seed(0)
    model, tok = load('embedded')
    model = get_peft_model(model, lora_config(model, dict(r=8, lora_alpha=32, lora_dropout=dropout)))
    fuse_lora_dropout(model); model.train()                           # as APOTrainer does (fused_lora_dropout=True)
    b = APOCollator(tok, max_length=None)(records(False, 0)[:1])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    def step():
        lp, _ = completion_logps(model, b, share_prompt=True, attention=attention)
        lp.sum().backward(); opt.step(); opt.zero_grad()
    step()
    t = time.process_time()
    with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof: step()
    cpu = time.process_time() - t
    tot = collections.Counter()
    for e in prof.events(): tot[_category(e)] += e.self_cpu_time_total
    T = sum(tot.values())
    print(f"attention={attention}, lora_dropout={dropout}: {int(b['attention_mask'].sum())} tokens, step {cpu:.1f} CPU-s "
          f"(profiler on); shares of the profiled time:")
    for k, v in tot.most_common(): print(f"  {k:28s} {100 * v / T:5.1f}%")

VARIANTS = ('apo', 'apo_dense', 'apo_prefix', 'apo_arena', 'apo_ckpt', 'trl', 'trl_default')

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--full', action='store_true', help='SmolLM2 at full length, more steps and repeats (slow)')
    p.add_argument('--students', default='tiny,vlm,embedded', help='comma-separated: tiny, vlm, embedded')
    p.add_argument('--variants', default='apo,apo_dense,apo_prefix,trl,trl_default',
                   help=f"comma-separated, from {', '.join(VARIANTS)} (apo_dense: text students only)")
    p.add_argument('--repeats', type=int); p.add_argument('--threads', type=int, default=1)
    p.add_argument('--jobs', type=int, default=1, help='variants run side by side (watch memory: TRL at full length ~11 GB)')
    p.add_argument('--malloc', choices=('default', 'lean'), default='default',
                   help="glibc's allocator, the same for every variant: its defaults, or apo_kit.cli.LEAN_MALLOC")
    p.add_argument('--reverse', action='store_true', help='start with the reversed order of variants (for a second run)')
    p.add_argument('--profile', nargs=2, metavar=('ATTENTION', 'DROPOUT'),
                   help="instead: torch.profiler table of one step, e.g. --profile blocks 0.05 (or dense)")
    p.add_argument('--worker', nargs=5, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.profile: return profile_step(a.profile[0], float(a.profile[1]))
    if a.worker: return worker(a.worker[0], a.worker[1], int(a.worker[2]), int(a.worker[3]), a.worker[4])
    bad = {v for v in a.variants.split(',') if v not in VARIANTS and not re.fullmatch(r'apo_ckpt\d+', v)}
    if bad: p.error(f"unknown variants {sorted(bad)}; choose from {', '.join(VARIANTS)}")
    # (timed steps + 1, characters kept per trajectory (0 = all), repeats) per student
    plan = {'tiny': (6, 0, 3), 'vlm': (5, 0, 3), 'embedded': (3, 0, 2) if a.full else (2, 160, 1)}
    print(f"allocator: {a.malloc}; threads per run: {a.threads}; the machine has {os.cpu_count()} cores shared with "
          f"other jobs (load average {os.getloadavg()[0]:.1f}): absolute figures are noisy, compare the ratios", flush=True)
    rows = []
    for student in a.students.split(','):
        steps, chars, reps = plan[student]
        reps = a.repeats or reps
        methods = [m for m in a.variants.split(',') if not (student == 'vlm' and m == 'apo_dense')]
        res = {m: [] for m in methods}
        def one(m):
            x = run(student, m, steps, chars, a.threads, a.malloc); res[m].append(x)
            print(f"  {student:8s} {m:11s}: {x['studies_per_cpu_s']:.4f} studies per CPU-s, {x['studies_per_s']:.4f} studies/s "
                  f"wall, peak {x['peak_rss_mb']:.0f} MB, load {os.getloadavg()[0]:.1f}", flush=True)
        with ThreadPoolExecutor(a.jobs) as pool:                 # jobs > 1: variants side by side (CPU time is per process)
            for i in range(reps):
                list(pool.map(one, methods if (i + a.reverse) % 2 == 0 else methods[::-1]))   # alternate the order
        med = lambda m, k: statistics.median(x[k] for x in res[m])
        R = lambda a, b, k: statistics.median(x[k] / y[k] for x, y in zip(res[a], res[b])) if a in res and b in res else float('nan')
        for m in methods:
            rows.append(dict(student=student, variant=m, chars=chars or 'all', reps=len(res[m]), st=med(m, 'studies_per_cpu_s'),
                             trl=R(m, 'trl', 'studies_per_cpu_s'), dflt=R(m, 'trl_default', 'studies_per_cpu_s'),
                             wall=R(m, 'trl', 'studies_per_s'), wall_dflt=R(m, 'trl_default', 'studies_per_s'),
                             mb=med(m, 'peak_rss_mb'), train_mb=med(m, 'peak_rss_mb') - med(m, 'rss_before_train_mb'),
                             tok=res[m][0]['tokens_per_study'], gf=med(m, 'flops_per_cpu_s') / 1e9,
                             mm=statistics.median(x['flops_per_cpu_s'] / x['matmul_flops_per_s'] for x in res[m])))
    print(f"\n{'student':9s} {'variant':11s} {'text':>5s} {'reps':>4s} {'st/CPU-s':>9s} {'÷TRL':>6s} {'÷TRLdef':>8s} {'wall÷TRL':>9s} "
          f"{'wall÷def':>9s} {'peak MB':>8s} {'+MB':>6s} {'tokens':>7s} {'GF/s':>6s} {'÷mm':>5s}")
    for r in rows:
        print(f"{r['student']:9s} {r['variant']:11s} {str(r['chars']):>5s} {r['reps']:>4d} {r['st']:9.4f} {r['trl']:6.2f} {r['dflt']:8.2f} "
              f"{r['wall']:9.2f} {r['wall_dflt']:9.2f} {r['mb']:8.0f} {r['train_mb']:6.0f} {r['tok']:7.0f} {r['gf']:6.2f} {r['mm']:5.2f}")
    print("\nst/CPU-s = studies per CPU-second of the training process (1 thread: on an idle machine this is studies/s; on this "
          "shared machine wall-clock depends on other jobs' load, so CPU time is the primary figure). ÷TRL, ÷TRLdef = median "
          "over repeats of the per-repeat ratio to TRL given the same advantages (reference precomputed; for the VLM TRL "
          "refuses that and runs it on the fly) and to TRL with its defaults (reference on the fly, checkpointing); wall÷ = the "
          "same from wall-clock. peak MB = peak RSS of the run; +MB = peak minus RSS before training. tokens = non-pad tokens "
          "per study. ÷mm = achieved FLOP/s over a float32 512×512 matmul in the same process. 'text' = characters kept per "
          "trajectory.")

if __name__ == '__main__': main()
