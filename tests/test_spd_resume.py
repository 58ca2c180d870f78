"SPD killed with SIGKILL right after a checkpoint, then resumed, ends with the same weights as an uninterrupted run."
import os, subprocess, sys
from pathlib import Path
import torch
from safetensors.torch import load_file
from fastcore.test import test_eq as eq_, test_close as close_
import pytest
pytestmark = pytest.mark.slow        # minutes: subprocesses, kills or whole trainings; `make test` and CI run it

_RUN = r'''
import os, signal, sys
from pathlib import Path
from transformers import TrainerCallback
from safetensors.torch import save_file
from apo_kit.data import load_studies
from apo_kit.models import tiny_student
from apo_kit.spd import SPDSettings, spd_dataset, spd_trainer
out, mode = sys.argv[1], sys.argv[2]
studies = load_studies(sys.argv[3])
ds = spd_dataset(studies, verbose=False).select(range(16))
ds = ds.map(lambda r, i: {'weight': [1.0, 2.0, 0.5, 1.5][i % 4]}, with_indices=True)
cfg = SPDSettings(learning_rate=3e-3, max_steps=8, save_steps=2, per_device_train_batch_size=2,
                  gradient_accumulation_steps=2, max_length=128, use_cpu=True, bf16=False, logging_steps=100)
class Kill(TrainerCallback):
    def on_save(self, args, state, control, **kw):
        if mode == 'kill' and state.global_step == 4: os.kill(os.getpid(), signal.SIGKILL)   # no clean-up at all
tr = spd_trainer(tiny_student('text'), ds, out, cfg, callbacks=[Kill()])
tr.train(resume_from_checkpoint=(mode == 'resume') or None)
save_file({k: v.contiguous() for k, v in tr.model.state_dict().items() if 'lora_' in k}, os.path.join(out, 'final.safetensors'))
'''

def _run(out, mode, samples):
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1'}
    return subprocess.run([sys.executable, '-c', _RUN, str(out), mode, str(samples)], env=env, capture_output=True,
                          text=True, timeout=600)

def test_kill_and_resume(tmp_path):
    samples = Path(__file__).parents[1]/'data_samples'/'nih_multimodel.jsonl'
    r = _run(tmp_path/'full', 'full', samples); assert r.returncode == 0, r.stderr[-3000:]
    r = _run(tmp_path/'cut', 'kill', samples); eq_(r.returncode, -9)
    eq_(sorted(p.name for p in (tmp_path/'cut').glob('checkpoint-*')), ['checkpoint-2', 'checkpoint-4'])
    assert not (tmp_path/'cut'/'final.safetensors').exists()
    r = _run(tmp_path/'cut', 'resume', samples); assert r.returncode == 0, r.stderr[-3000:]
    a, b = load_file(tmp_path/'full'/'final.safetensors'), load_file(tmp_path/'cut'/'final.safetensors')
    eq_(sorted(a), sorted(b)); assert len(a) > 0
    for k in a: close_(a[k], b[k], eps=1e-6)
    assert any(a[k].abs().sum() > 0 for k in a if 'lora_B' in k)          # the adapters did train
