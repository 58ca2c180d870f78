"`apo-kit simulate` end to end: writes a valid, reproducible file through the console script."
import subprocess, sys
from pathlib import Path
from fastcore.test import test_eq as eq_

BIN = Path(sys.executable).parent


def run(*args):
    return subprocess.run([str(BIN/'apo-kit'), *args], capture_output=True, text=True, timeout=300)


def test_simulate_writes_valid_reproducible_file(tmp_path):
    a, b, c = tmp_path/'a.jsonl', tmp_path/'b.jsonl', tmp_path/'c.jsonl'
    for f, seed in ((a, '1'), (b, '1'), (c, '2')):
        r = run('simulate', str(f), '--n_studies', '12', '--seed', seed)
        eq_(r.returncode, 0); assert '12 studies, 84 trajectories' in r.stdout, r.stdout
    eq_(a.read_text(), b.read_text())
    assert a.read_text() != c.read_text()
    r = run('validate', str(a))
    eq_(r.returncode, 0); assert '0 error(s)' in r.stderr


def test_simulate_bad_arguments_fail_clearly(tmp_path):
    r = run('simulate', str(tmp_path/'x.jsonl'), '--n_studies', '0')
    assert r.returncode != 0 and 'n_studies must be a positive integer' in r.stderr, r.stderr
    r = run('simulate', str(tmp_path/'x.jsonl'), '--n_teachers', '1')
    assert r.returncode != 0 and 'n_teachers must be an integer >= 2' in r.stderr, r.stderr
