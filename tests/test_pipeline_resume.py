"""`apo-kit run` killed with SIGKILL during the consensus and during APO, then rerun: it finishes without redoing
finished work and ends where an uninterrupted run ends; changing one APO setting reruns APO and evaluate only."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from safetensors.torch import load_file
from fastcore.test import test_eq as eq_, test_close as close_

SAMPLES = Path(__file__).parents[1]/'data_samples'/'nih_multimodel.jsonl'
APO_KIT = Path(sys.executable).parent/'apo-kit'
CONFIG = '''name = "{name}"
runs = "{runs}"
data = "{data}"
student = "tiny-text"
drift_plots = false
[spd]
max_steps = 2
max_length = 256
save_steps = 1
[consensus]
max_new_tokens = 24
batch_size = 1
max_length = 800
[gate]
keep_flagged = true
[apo]
max_steps = 6
learning_rate = 2e-3
max_length = 256
max_completion_length = 48
save_steps = 1
beta = {beta}
[evaluate]
max_new_tokens = 8
[evaluate.extra]
n_boot = 100
'''

def _config(tmp, name, beta=0.1):
    p = tmp/f'{name}-{beta}.toml'
    p.write_text(CONFIG.format(name=name, runs=tmp, data=SAMPLES, beta=beta))
    return p

def _env(): return {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1'}

def _run(cfg):
    r = subprocess.run([str(APO_KIT), 'run', str(cfg)], env=_env(), capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stderr[-3000:]
    return r

def _kill_when(cfg, ready, timeout=600):
    "Start `apo-kit run cfg`, SIGKILL it as soon as `ready()` holds; return what `ready` saw."
    p = subprocess.Popen([str(APO_KIT), 'run', str(cfg)], env=_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    t = time.time()
    try:
        while time.time() - t < timeout:
            seen = ready()
            if seen: os.kill(p.pid, signal.SIGKILL); p.wait(); return seen
            assert p.poll() is None, "the run ended before it could be killed"
            time.sleep(0.005)
        raise TimeoutError
    finally:
        if p.poll() is None: p.kill(); p.wait()

def _lines(path): return path.read_bytes().split(b'\n')[:-1] if path.exists() else []
def _state(run): return json.loads((run/'state.json').read_text())
def _statuses(run): return {k: v['status'] for k, v in json.loads((run/'metrics.json').read_text()).items()}
def _complete(run): return sorted((run/'checkpoints'/'apo').glob('checkpoint-*/complete'))

@pytest.mark.slow
def test_kill_resume_and_changed_setting(tmp_path):
    full, cut = tmp_path/'full', tmp_path/'cut'
    _run(_config(tmp_path, 'full'))                                  # the reference: one uninterrupted run

    # 1. killed during the consensus, after at least one study's line was written
    seen = _kill_when(_config(tmp_path, 'cut'), lambda: len(_lines(cut/'consensus.jsonl')) >= 2 and _lines(cut/'consensus.jsonl'))
    before = _lines(cut/'consensus.jsonl')
    assert 2 <= len(before) < 10, len(before)
    eq_(_state(cut)['consensus']['status'], 'running'); eq_(_state(cut)['spd']['status'], 'done')
    spd_stamp = (cut/'spd'/'model.safetensors').stat().st_mtime_ns

    # 2. rerun, killed during APO once a checkpoint is complete
    _kill_when(_config(tmp_path, 'cut'), lambda: _complete(cut))
    after = _lines(cut/'consensus.jsonl')
    eq_(after[:len(before)], before)                                  # the lines written before the kill are kept as they were
    eq_(len(after), 10); eq_(len({json.loads(l)['study_id'] for l in after}), 10)   # every study once
    eq_((cut/'spd'/'model.safetensors').stat().st_mtime_ns, spd_stamp)             # SPD was not redone
    eq_(_state(cut)['consensus']['result']['resumed_with'], len(before))
    eq_(_state(cut)['apo']['status'], 'running')
    assert not (cut/'apo').exists()

    # 3. rerun to the end: APO resumes from its last complete checkpoint
    _run(_config(tmp_path, 'cut'))
    st = _statuses(cut)
    eq_(st, {'data': 'skipped', 'drift': 'skipped', 'spd': 'skipped', 'consensus': 'skipped', 'preferences': 'skipped',
             'apo': 'resumed', 'evaluate': 'ran'})
    res = _state(cut)['apo']['result']
    assert res['resumed_from'].startswith('checkpoint-') and res['steps'] == 6, res
    assert f"apo: resuming from {cut/'checkpoints'/'apo'/res['resumed_from']}" in (cut/'log.txt').read_text()

    # ... and ends where the uninterrupted run ended
    eq_((cut/'consensus.jsonl').read_text().count('\n'), 10)
    cons = lambda run: {json.loads(l)['study_id']: json.loads(l)['consensus'] for l in _lines(run/'consensus.jsonl')}
    eq_(cons(cut), cons(full))
    a, b = load_file(full/'apo'/'model.safetensors'), load_file(cut/'apo'/'model.safetensors')
    eq_(sorted(a), sorted(b))
    for k in a: close_(a[k], b[k], eps=1e-5)
    ma, mb = _state(full)['apo']['result']['margins'], res['margins']
    for part in ('train', 'heldout'):
        for k in ma[part]: close_(ma[part][k], mb[part][k], eps=1e-4)

    # 4. one APO setting changed: APO and evaluate rerun, nothing else is touched
    stamps = {p: p.stat().st_mtime_ns for p in (cut/'spd').iterdir()} | {cut/'consensus.jsonl': (cut/'consensus.jsonl').stat().st_mtime_ns}
    _run(_config(tmp_path, 'cut', beta=0.5))
    eq_(_statuses(cut), {**dict.fromkeys(['data', 'drift', 'spd', 'consensus', 'preferences'], 'skipped'),
                         'apo': 'reran', 'evaluate': 'reran'})
    eq_({p: p.stat().st_mtime_ns for p in stamps}, stamps)
    assert _state(cut)['apo']['result']['resumed_from'] is None         # old checkpoints are never resumed
    assert 'apo: settings or inputs changed: rerunning' in (cut/'log.txt').read_text()
