"""Peak RSS step after step when one APO step is repeated (SmolLM2, the first NIH study at full length, K = 7, LoRA r 8
with dropout 0.05): glibc's default allocator against apo_kit.cli.LEAN_MALLOC, with and without
apo_kit.apo.ActivationArena, each in its own process (glibc reads its tunables only when a process starts).

    OMP_NUM_THREADS=1 python benchmarks/bench_heap.py [--steps 4]

Per step: forward (`completion_logps`, block attention), backward, AdamW. Printed: the process's peak RSS after each
step, glibc's main heap in use and free after the last forward (`mallinfo2`), and the median CPU seconds of the steps
after the first.
"""
import argparse, contextlib, ctypes, json, os, resource, statistics, subprocess, sys, time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

class _MallInfo2(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in
                'arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost'.split()]

def heap_mb() -> tuple[float, float]:
    "glibc's heap: MB in use and MB free inside it (mallinfo2)."
    libc = ctypes.CDLL('libc.so.6')
    libc.mallinfo2.restype = _MallInfo2
    m = libc.mallinfo2()
    return m.uordblks / 2**20, m.fordblks / 2**20

def worker(arena:bool, steps:int):
    "Train `steps` steps on one study; print one JSON line of per-step figures."
    import torch
    sys.path.insert(0, str(ROOT/'benchmarks'))
    from apo_vs_trl import load, records
    from peft import get_peft_model
    from apo_kit.models import lora_config
    from apo_kit.apo import APOCollator, ActivationArena, completion_logps, fuse_lora_dropout
    torch.manual_seed(0)
    model, tok = load('embedded')
    model = get_peft_model(model, lora_config(model, dict(r=8, lora_alpha=32, lora_dropout=0.05)))
    fuse_lora_dropout(model); model.train()                              # as APOTrainer does
    batch = APOCollator(tok, max_length=None)(records(False, 0)[:1])
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-6)
    box, out = ActivationArena() if arena else None, []
    for _ in range(steps):
        t = time.process_time()
        with box.saving(model) if box else contextlib.nullcontext():
            lp, _ = completion_logps(model, batch, share_prompt=True)
        inuse, free = heap_mb()
        lp.sum().backward(); opt.step(); opt.zero_grad()
        out.append(dict(peak_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
                        cpu_s=time.process_time() - t, heap_inuse_mb=inuse, heap_free_mb=free))
    print(json.dumps(out))

def run(malloc:str, arena:bool, steps:int) -> list[dict]:
    sys.path.insert(0, str(ROOT/'benchmarks'))
    from apo_vs_trl import worker_env
    env = worker_env(int(os.environ.get('OMP_NUM_THREADS', '1')), malloc)
    r = subprocess.run([sys.executable, __file__, '--worker', str(int(arena)), str(steps)], env=env,
                       capture_output=True, text=True)
    if r.returncode: raise RuntimeError(f"{malloc}, arena={arena} failed:\n{r.stderr[-4000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])

def main():
    p = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    p.add_argument('--steps', type=int, default=4)
    p.add_argument('--worker', nargs=2, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.worker: return worker(bool(int(a.worker[0])), int(a.worker[1]))
    print(f"{'allocator':10s} {'arena':6s} {'peak RSS after each step, GB':32s} {'heap in use / free, GB':24s} "
          "CPU-s/step")
    for malloc in ('default', 'lean'):
        for arena in (False, True):
            r = run(malloc, arena, a.steps)
            peaks = ' / '.join(f"{x['peak_mb'] / 1024:.2f}" for x in r)
            h = f"{r[-1]['heap_inuse_mb'] / 1024:.2f} / {r[-1]['heap_free_mb'] / 1024:.2f}"
            cpu = statistics.median(x['cpu_s'] for x in r[1:]) if len(r) > 1 else r[0]['cpu_s']
            print(f"{malloc:10s} {str(arena):6s} {peaks:32s} {h:24s} {cpu:.2f}", flush=True)

if __name__ == '__main__': main()
