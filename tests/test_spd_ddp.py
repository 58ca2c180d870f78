"""SPD under `accelerate launch --multi_gpu --num_processes 2` on CPU (two gloo processes): the weight total is
gathered over processes, so one SGD step on 2 ranks x 2 examples equals one step on 1 process x 4 examples.

Run as a script, this file is the training job; pytest launches it (see DESIGN.md §6 for the launcher flags).
"""
import json, os, subprocess, sys
from pathlib import Path
from fastcore.test import test_close as close_, test_eq as eq_
import pytest
pytestmark = pytest.mark.slow        # minutes: subprocesses, kills or whole trainings; `make test` and CI run it
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _launch import ENV, run_two_processes

ROOT = Path(__file__).resolve().parent.parent

def worker(out, batch):
    import logging, torch
    from safetensors.torch import save_file
    from apo_kit.data import load_studies
    from apo_kit.models import tiny_student
    from apo_kit.spd import SPDSettings, spd_dataset, spd_trainer
    logging.getLogger('transformers').setLevel(logging.ERROR)
    ds = spd_dataset(load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl'), verbose=False).select(range(4))
    ds = ds.map(lambda r, i: {'weight': [1.0, 3.0, 0.5, 2.0][i]}, with_indices=True)    # all 4 in the one step
    cfg = SPDSettings(lora=False, learning_rate=0.1, max_steps=1, weight_decay=0.0, max_grad_norm=1e9,
                      per_device_train_batch_size=batch, gradient_accumulation_steps=1, max_length=128, use_cpu=True,
                      bf16=False, save_steps=10_000, sft_args={'optim': 'sgd', 'disable_tqdm': True, 'ddp_timeout': 120,
                                **({'ddp_backend': 'gloo'} if int(os.environ.get('WORLD_SIZE', 1)) > 1 else {})})
    tr = spd_trainer(tiny_student('text'), ds, out, cfg)
    tr.train()
    acc = tr.accelerator
    if acc.is_main_process:
        save_file({k: v.contiguous() for k, v in tr.model.state_dict().items()}, os.path.join(out, 'final.safetensors'))
        Path(out, 'info.json').write_text(json.dumps({'world': acc.num_processes, 'type': str(acc.distributed_type)}))
    acc.wait_for_everyone()
    acc.end_training()                                  # destroy the process group: without it, exits may abort
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)     # results are written: skip interpreter teardown, where a gloo rank was seen to hang (1 in ~10)

def test_ddp_weights_are_exact(tmp_path):
    from safetensors.torch import load_file
    one = subprocess.run([sys.executable, __file__, str(tmp_path/'one'), '4'], env=ENV, capture_output=True, text=True,
                         timeout=600)
    assert one.returncode == 0, one.stderr[-3000:]
    rc, out, err = run_two_processes(__file__, tmp_path/'two', 2)
    assert rc == 0, out[-3000:] + err[-3000:]
    eq_(json.loads((tmp_path/'two'/'info.json').read_text()), {'world': 2, 'type': 'DistributedType.MULTI_CPU'})
    eq_(json.loads((tmp_path/'one'/'info.json').read_text())['world'], 1)
    a, b = load_file(tmp_path/'one'/'final.safetensors'), load_file(tmp_path/'two'/'final.safetensors')
    eq_(sorted(a), sorted(b))
    for k in a: close_(a[k], b[k], eps=1e-5)

if __name__ == '__main__': worker(sys.argv[1], int(sys.argv[2]))
