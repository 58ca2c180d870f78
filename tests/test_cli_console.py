"""The `apo-kit` console script starts itself again under LEAN_MALLOC (Linux), once; `python -m apo_kit.cli` works."""
import os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = str(ROOT/'data_samples'/'nih_multimodel.jsonl')
CONSOLE = [sys.executable, '-c', 'from apo_kit.cli import console; console()']
PROBE = ("import os; from apo_kit import cli; "                       # console's decision, without starting a process
         "os.execve = lambda exe, argv, env: print('restart', argv[1:3], env['GLIBC_TUNABLES']) or os._exit(0); "
         "cli.main = lambda: print('main', os.environ.get('GLIBC_TUNABLES')) or 0; cli.console()")

def _env(**kw):
    env = {k: v for k, v in os.environ.items() if k not in ('GLIBC_TUNABLES', 'APO_KIT_MALLOC')}
    return {**env, **kw}

def test_module_entry_runs_a_command():
    r = subprocess.run([sys.executable, '-m', 'apo_kit.cli', 'info', SAMPLE], capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    assert 'studies' in r.stdout

@pytest.mark.skipif(sys.platform != 'linux', reason='glibc tunables: Linux only')
def test_console_restarts_under_lean_malloc():
    from apo_kit.cli import LEAN_MALLOC
    r = subprocess.run(CONSOLE + ['info', SAMPLE], capture_output=True, text=True, cwd=ROOT, env=_env())
    assert r.returncode == 0, r.stderr
    assert 'studies' in r.stdout
    r = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, cwd=ROOT, env=_env())
    assert r.stdout.strip() == f"restart ['-m', 'apo_kit.cli'] {LEAN_MALLOC}", r.stdout + r.stderr

@pytest.mark.skipif(sys.platform != 'linux', reason='glibc tunables: Linux only')
def test_console_keeps_the_users_choice():
    r = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, cwd=ROOT,
                       env=_env(GLIBC_TUNABLES='glibc.malloc.arena_max=2'))
    assert r.stdout.strip() == 'main glibc.malloc.arena_max=2', r.stdout + r.stderr
    r = subprocess.run([sys.executable, '-c', PROBE], capture_output=True, text=True, cwd=ROOT,
                       env=_env(APO_KIT_MALLOC='default'))
    assert r.stdout.strip() == 'main None', r.stdout + r.stderr
