"""APO under `accelerate launch --multi_gpu --num_processes 2` on CPU: two gloo processes train the tiny text student.

Run as a script, this file is the training job (each rank writes what it saw); pytest launches it as a subprocess.
On this CPU-only machine `accelerate launch --cpu --num_processes 2` starts only one process, while `--multi_gpu`
starts two gloo processes once the code asks for the CPU (`use_cpu=True`); see DESIGN.md §6.
"""
import json, os, sys
import pytest
from pathlib import Path
sys.path.insert(0, str(Path(__file__).parent))
from _launch import run_two_processes
pytestmark = pytest.mark.slow        # minutes: subprocesses, kills or whole trainings; `make test` and CI run it

ROOT = Path(__file__).resolve().parent.parent

def worker(out, share_prompt=False):
    import logging, torch
    from apo_kit.data import load_studies
    from apo_kit.models import tiny_student
    from apo_kit.apo import APOConfig, APOTrainer, stand_in_records
    logging.getLogger('transformers').setLevel(logging.ERROR)
    recs = stand_in_records(load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl'))
    model, tok = tiny_student('text')
    cfg = APOConfig(out, learning_rate=2e-3, max_steps=4, per_device_train_batch_size=1, max_length=256,
                    max_completion_length=48, logging_steps=1, use_cpu=True, save_strategy='steps', save_steps=4,
                    seed=0, disable_tqdm=True, ddp_backend='gloo', share_prompt=share_prompt,
                    ddp_timeout=120)              # a rank whose peer died gives up instead of waiting 30 minutes
    tr = APOTrainer(model, cfg, train_dataset=recs, processing_class=tok, peft_config=dict(r=8, lora_alpha=32, lora_dropout=0.0))
    acc = tr.accelerator
    tr.train()
    tr.save_model(out + '/final')
    w = sum(float(p.detach().double().sum()) for n, p in tr.model.named_parameters() if p.requires_grad)
    losses = [h['loss'] for h in tr.state.log_history if 'loss' in h]
    Path(out, f'rank{acc.process_index}.json').write_text(json.dumps(dict(
        rank=acc.process_index, world=acc.num_processes, distributed=str(acc.distributed_type), losses=losses, weight_sum=w,
        teacher_keys=sorted(k for h in tr.state.log_history for k in h if k.startswith('rewards/') and 'MAIRA' in k))))
    acc.wait_for_everyone()
    acc.end_training()                                  # destroy the process group: without it, exits may abort
    sys.stdout.flush(); sys.stderr.flush()
    os._exit(0)     # results are written: skip interpreter teardown, where a gloo rank was seen to hang (1 in ~10)

@pytest.mark.parametrize('share_prompt', [False, True])
def test_two_gloo_processes(tmp_path, share_prompt):
    rc, out, err = run_two_processes(__file__, tmp_path, *(['share_prompt'] if share_prompt else []))
    assert rc == 0, out[-3000:] + err[-3000:]
    ranks = [json.loads((tmp_path/f'rank{i}.json').read_text()) for i in (0, 1)]
    assert [x['rank'] for x in ranks] == [0, 1] and all(x['world'] == 2 for x in ranks)
    assert all(x['distributed'] == 'DistributedType.MULTI_CPU' for x in ranks), ranks
    import math
    assert len(ranks[0]['losses']) == 4 and all(math.isfinite(l) for l in ranks[0]['losses'])
    assert abs(ranks[0]['weight_sum'] - ranks[1]['weight_sum']) < 1e-6      # DDP kept both ranks' weights identical
    assert ranks[0]['teacher_keys'], 'per-teacher rewards were logged'
    assert (tmp_path/'final'/'adapter_model.safetensors').exists() and (tmp_path/'checkpoint-4').is_dir()

if __name__ == '__main__': worker(sys.argv[1], share_prompt='share_prompt' in sys.argv[2:])
