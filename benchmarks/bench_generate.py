"""Batched vs one-at-a-time greedy generation of consensus trajectories with the embedded student (SmolLM2-135M).

Same prompts (consensus prompts of the bundled sample, cut to a token budget), same greedy decoding; the two ways
run alternately in this one process, and the table reports medians over the repeats. Outputs must be identical:
any difference is counted (rows and tokens, from the first divergent token on) and shown.

    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_generate.py                      # a few minutes
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_generate.py --batch 8 --n 16 --repeats 5 --new 128
"""
import argparse, os, statistics, sys, time
from pathlib import Path

os.environ.setdefault('HF_HUB_OFFLINE', '1')
import torch

ROOT = Path(__file__).resolve().parent.parent

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--n', type=int, default=8, help='number of prompts (studies, cycled)')
    ap.add_argument('--batch', type=int, default=8, help='batch size of the batched run')
    ap.add_argument('--prompt_tokens', type=int, default=256, help='token budget of each prompt (the longest; others up to 48 fewer)')
    ap.add_argument('--new', type=int, default=128, help='max_new_tokens')
    ap.add_argument('--repeats', type=int, default=3)
    ap.add_argument('--threads', type=int, default=int(os.environ.get('OMP_NUM_THREADS', 1)))
    ap.add_argument('--data', default=str(ROOT/'data_samples'/'nih_multimodel.jsonl'))
    a = ap.parse_args(argv)
    torch.set_num_threads(a.threads)
    from apo_kit.data import load_studies
    from apo_kit.models import embedded_student
    from apo_kit.consensus import consensus_prompt, generate_batch
    model, tok = embedded_student(); model.eval()
    studies = load_studies(a.data)
    # vary the budget a little so prompts differ in length (padding is the interesting case)
    chats = [consensus_prompt(studies[i % len(studies)], tok, seed=i, budget=a.prompt_tokens - 16 * (i % 4))
             for i in range(a.n)]
    chats.sort(key=lambda m: -len(tok(tok.apply_chat_template(m, add_generation_prompt=True, tokenize=False))['input_ids']))
    kw = dict(max_new_tokens=a.new, do_sample=False)

    def one_at_a_time():
        return [generate_batch(model, tok, [c], [0], **kw)[0] for c in chats]
    def batched():
        out = []
        for i in range(0, len(chats), a.batch): out += generate_batch(model, tok, chats[i:i + a.batch], [0] * len(chats[i:i + a.batch]), **kw)
        return out

    times = {'one at a time': [], f'batched ({a.batch})': []}
    cpu = {k: [] for k in times}
    outs = {}
    generate_batch(model, tok, chats[:1], [0], max_new_tokens=2)                      # warm-up
    for r in range(a.repeats):
        for name, fn in (('one at a time', one_at_a_time), (f'batched ({a.batch})', batched)):
            t0, c0 = time.perf_counter(), time.process_time(); res = fn()
            times[name].append(time.perf_counter() - t0); cpu[name].append(time.process_time() - c0)
            outs.setdefault(name, res)
            print(f"  repeat {r + 1}/{a.repeats}  {name:<14} {times[name][-1]:7.2f} s wall {cpu[name][-1]:7.2f} s CPU",
                  file=sys.stderr, flush=True)
    single, batch = outs['one at a time'], outs[f'batched ({a.batch})']
    n_tokens = sum(o[1] for o in single)
    diff_rows, diff_tokens = 0, 0
    for s, b in zip(single, batch):
        if s[3] != b[3]:
            diff_rows += 1
            k = next((i for i, (x, y) in enumerate(zip(s[3], b[3])) if x != y), min(len(s[3]), len(b[3])))
            diff_tokens += max(len(s[3]), len(b[3])) - k
    print(f"\nembedded student (SmolLM2-135M-Instruct, float32, CPU, {a.threads} thread(s)); {a.n} prompts of "
          f"{a.prompt_tokens - 48}..{a.prompt_tokens} tokens, greedy, max_new_tokens={a.new}; median of {a.repeats}")
    print("(the machine is shared: wall time counts waiting for a core, CPU time is the work this process did)")
    print(f"{'mode':<16}{'new tokens':>11}{'wall s':>9}{'tokens/s':>10}{'speed-up':>10}{'CPU s':>9}{'tokens/CPU s':>14}{'speed-up':>10}")
    base, cbase = statistics.median(times['one at a time']), statistics.median(cpu['one at a time'])
    for name in times:
        m, c = statistics.median(times[name]), statistics.median(cpu[name])
        print(f"{name:<16}{n_tokens:>11}{m:>9.2f}{n_tokens / m:>10.1f}{base / m:>9.2f}x{c:>9.2f}{n_tokens / c:>14.1f}{cbase / c:>9.2f}x")
    print(f"identical outputs: {len(single) - diff_rows}/{len(single)} prompts; "
          f"{diff_tokens} of {n_tokens} generated tokens differ (from the first divergent token on)")
    return 0 if diff_rows == 0 else 1

if __name__ == '__main__': sys.exit(main())
