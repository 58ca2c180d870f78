"""A consensus run killed with SIGKILL mid-run and restarted must hold every study exactly once and equal an
uninterrupted greedy run; a torn last line (kill during a write) must be repaired, never counted."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import pytest
from fastcore.test import test_eq as eq_
pytestmark = pytest.mark.slow        # minutes: subprocesses, kills or whole trainings; `make test` and CI run it

ROOT = Path(__file__).resolve().parent.parent
N_STUDIES, BATCH = 30, 4

# The child: 30 studies made from the bundled sample (teachers' texts rotated and cut, so prompts differ in length),
# the tiny text student, greedy, batch 4. `delay` slows each batch so that the parent can kill it mid-run.
CHILD = r"""
import sys, time
from pathlib import Path
from apo_kit.data import load_studies, Study, Trajectory
from apo_kit.models import tiny_student
from apo_kit.consensus import synthesize
out, delay = sys.argv[1], float(sys.argv[2])
base = load_studies(sys.argv[3])
studies = []
for k in range({n}):
    s = base[k % len(base)]
    trajs = [Trajectory(t.teacher, t.text[: 80 + 37 * ((k + i) % 9)]) for i, t in enumerate(s.trajectories)]
    studies.append(Study(f"sim{{k:02d}}", trajs[k % 3:], images=s.images, root=s.root, context=s.context))
def slow(ids): time.sleep(delay)
synthesize(tiny_student('text'), studies, out, batch_size={b}, max_new_tokens=24, max_length=700, progress=False,
           before_generate=slow if delay else None)
""".format(n=N_STUDIES, b=BATCH)

def _run(out, delay=0.0):
    return subprocess.Popen([sys.executable, '-c', CHILD, str(out), str(delay), str(ROOT/'data_samples'/'nih_multimodel.jsonl')],
                            cwd=Path(out).parent, env={**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1',
                            'PYTHONPATH': os.pathsep.join(filter(None, [os.environ.get('PYTHONPATH'), str(ROOT)]))},
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

def _finish(p, timeout=300):
    out, err = p.communicate(timeout=timeout)
    assert p.returncode == 0, err[-3000:]

def _lines(path): return [l for l in Path(path).read_text().split('\n') if l]

def _by_id(path):
    recs = [json.loads(l) for l in _lines(path)]
    ids = [r['study_id'] for r in recs]
    eq_(len(ids), len(set(ids)))                                   # nothing duplicated
    return {r['study_id']: r for r in recs}

@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "An uninterrupted greedy run."
    out = tmp_path_factory.mktemp('ref')/'consensus.jsonl'
    _finish(_run(out))
    return out

def test_sigkill_then_resume_equals_uninterrupted(reference, tmp_path):
    out = tmp_path/'consensus.jsonl'
    p = _run(out, delay=1.0)
    t0 = time.time()
    while time.time() - t0 < 240:                                 # wait for at least two batches on disk
        if out.exists() and out.read_text().count('\n') >= 2 * BATCH: break
        if p.poll() is not None: break
        time.sleep(0.05)
    assert p.poll() is None, "the run ended before it could be killed"
    os.kill(p.pid, signal.SIGKILL); p.wait()
    eq_(p.returncode, -signal.SIGKILL)
    n_killed = out.read_text().count('\n')
    assert 2 * BATCH <= n_killed < N_STUDIES, n_killed
    _finish(_run(out))                                            # restart: no delay
    got, ref = _by_id(out), _by_id(reference)
    eq_(len(got), N_STUDIES)
    eq_(got, ref)                                                 # every field, consensus text included
    eq_(_lines(out), _lines(reference))                           # even the order of the lines

def test_torn_last_line_is_repaired(reference, tmp_path):
    out = tmp_path/'consensus.jsonl'
    lines = _lines(reference)
    out.write_text('\n'.join(lines[:9]) + '\n' + lines[9][:len(lines[9]) // 2])   # killed in the middle of line 10
    _finish(_run(out))
    eq_(_by_id(out), _by_id(reference))
    eq_(len(_lines(out)), N_STUDIES)
