"Two processes building the same tiny student into an empty cache at once both get the same, complete student."
import json, os, subprocess, sys
from fastcore.test import test_eq as eq_
import pytest
pytestmark = pytest.mark.slow        # minutes: subprocesses, kills or whole trainings; `make test` and CI run it

_BUILD = r'''
import json, torch
from apo_kit.models import tiny_student
m, processor = tiny_student('{kind}', seed=3)
tokenize = processor if '{kind}' == 'text' else processor.tokenizer
print(json.dumps({{'sum': float(sum(x.double().sum() for x in m.parameters())), 'processor': type(processor).__name__,
                   'ids': tokenize('left pleural effusion')['input_ids']}}))
'''

def test_parallel_build(tmp_path):
    env = {**os.environ, 'APO_KIT_CACHE': str(tmp_path), 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1'}
    for kind in ('text', 'vlm'):
        procs = [subprocess.Popen([sys.executable, '-c', _BUILD.format(kind=kind)], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(3)]
        outs = []
        for p in procs:
            out, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-3000:]
            outs.append(json.loads(out.strip().splitlines()[-1]))
        eq_(outs[0], outs[1]); eq_(outs[0], outs[2])
        eq_(outs[0]['processor'], 'Qwen2Tokenizer' if kind == 'text' else 'StudentVLProcessor')
    eq_(sorted(p.name for p in tmp_path.iterdir()), ['tiny-text-seed3-v1', 'tiny-vlm-seed3-v1'])   # no leftovers
