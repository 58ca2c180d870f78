"""The lock is the test environment: `.venv` holds exactly constraints.txt, and the lock satisfies settings.ini."""
import configparser, os, sys
from pathlib import Path
import pytest
from packaging.requirements import Requirement

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import lock

def _requirements(key):
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    return [Requirement(r) for r in cfg['DEFAULT'][key].split()]

@pytest.mark.skipif(os.environ.get('APO_KIT_UNLOCKED') == '1', reason='make test-latest tests the newest releases')
def test_environment_is_the_lock():
    "Every distribution this environment holds is locked at the version it has, and nothing locked is missing."
    diff = lock.differences(lock.installed(), lock.read_lock())
    assert not diff, 'the environment departs from constraints.txt (run `make lock`):\n' + '\n'.join(diff)

@pytest.mark.parametrize('key', ['requirements', 'dev_requirements'])
def test_lock_satisfies_settings(key):
    "A requirement in settings.ini that the lock leaves out or contradicts fails here, not on a user's machine."
    pins = lock.read_lock()
    for req in _requirements(key):
        name = lock.norm(req.name)
        assert name in pins, f'settings.ini {key}: {req} is not in constraints.txt (run `make lock`)'
        assert req.specifier.contains(pins[name], prereleases=True), f'{req} excludes the locked {name}=={pins[name]}'

def test_differences_names_each_kind():
    "The check names a package missing from the lock, a version mismatch, and a locked package not installed."
    diff = lock.differences({'a': '1', 'b': '2'}, {'b': '3', 'c': '1'})
    assert diff == ['a==1 is installed but not in the lock', 'b: lock 3, installed 2', 'c==1 is in the lock but not installed']

def test_read_lock_rejects_ranges(tmp_path):
    (tmp_path/'c.txt').write_text('# header\nfoo==1.0\nbar>=2\n')
    with pytest.raises(ValueError, match=r'c.txt:3'): lock.read_lock(tmp_path/'c.txt')
