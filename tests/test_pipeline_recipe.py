"""The GPU recipe (configs/qwen2.5-vl-7b.toml) holds the paper's settings, and the same config code path runs the whole
method on the CPU with the tiny VLM once the model, the data and the sizes are overridden."""
import dataclasses, json, math, tomllib
from pathlib import Path
import pytest
from fastcore.test import test_eq as eq_
from apo_kit.data import settings_from_dict
from apo_kit.pipeline import load_config, run_pipeline, STAGES

ROOT = Path(__file__).parents[1]
RECIPE = ROOT/'configs'/'qwen2.5-vl-7b.toml'

def test_recipe_has_the_papers_settings():
    c = load_config(RECIPE)
    eq_(c.student, 'Qwen/Qwen2.5-VL-7B-Instruct')
    eq_((c.spd.learning_rate, c.spd.num_train_epochs, c.spd.per_device_train_batch_size, c.spd.gradient_accumulation_steps,
         c.spd.max_length, c.spd.lora, c.spd.bf16), (1e-4, 1.0, 2, 4, 2304, True, True))
    eq_((c.apo.learning_rate, c.apo.beta, c.apo.num_train_epochs, c.apo.per_device_train_batch_size, c.apo.max_length,
         c.apo.loss_type, c.apo.lora, c.apo.bf16), (5e-7, 0.1, 1.0, 2, 4096, 'pl', True, True))
    eq_(c.consensus.max_new_tokens, 2048)
    acc = (ROOT/'configs'/'accelerate_zero2.yaml').read_text()
    assert 'distributed_type: DEEPSPEED' in acc and 'configs/ds_zero2.json' in acc and 'num_processes: 4' in acc
    ds = json.loads((ROOT/'configs'/'ds_zero2.json').read_text())
    eq_(ds['zero_optimization']['stage'], 2)
    eq_(ds['train_micro_batch_size_per_gpu'], 'auto')               # filled from the TOML by transformers

CPU = {'student': 'tiny-vlm', 'data': str(ROOT/'data_samples'/'nih_multimodel.jsonl'), 'drift_plots': False,
       'spd': {'max_steps': 2, 'max_length': 1024, 'gradient_accumulation_steps': 1, 'bf16': False, 'save_steps': 1},
       'consensus': {'max_new_tokens': 8, 'batch_size': 5, 'max_length': 3000},
       'gate': {'keep_flagged': True},
       'apo': {'max_steps': 2, 'learning_rate': 1e-3, 'max_length': 1024, 'max_completion_length': 32, 'bf16': False,
               'save_steps': 1},
       'evaluate': {'max_new_tokens': 8, 'extra': {'n_boot': 100}}}

@pytest.mark.slow
def test_recipe_runs_on_cpu_with_the_tiny_vlm(tmp_path):
    c = settings_from_dict(load_config(RECIPE), {**CPU, 'runs': str(tmp_path)}, 'cpu overrides')
    eq_((c.spd.learning_rate, c.spd.activation_checkpointing, c.apo.beta, c.apo.extra),
        (1e-4, True, 0.1, {'activation_checkpointing': True}))      # the recipe's settings, only sizes overridden
    res = run_pipeline(c)
    eq_(list(res), list(STAGES))
    eq_((res['spd']['steps'], res['apo']['steps']), (2, 2))
    prefs = [json.loads(l) for l in (c.run_dir/'preferences.jsonl').read_text().splitlines()]
    assert prefs and all(len(r['images']) >= 1 for r in prefs)            # the VLM path: studies carry their images
    assert all(math.isfinite(v) for v in res['apo']['margins']['heldout'].values())
    assert abs(res['apo']['margins']['train']['mean']) > 0          # APO moved away from π_ref (with checkpointing on)
    assert (c.run_dir/'report.html').exists() and (c.run_dir/'apo'/'config.json').exists()
