"""lower-bounds.txt is what `make test-min` tests: it must pin exactly the lower bounds settings.ini states."""
import configparser
from pathlib import Path
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
UNTESTED = {'torch'}        # one CPU build on the test machines: torch's floor is transformers', not tested here

def _lower_bounds():
    cfg = configparser.ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini')
    reqs = [Requirement(r) for r in cfg['DEFAULT']['requirements'].split()]
    return {canonicalize_name(r.name): [s.version for s in r.specifier if s.operator == '>='] for r in reqs}

def _pins(path=ROOT/'lower-bounds.txt'):
    out = {}
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.split('#')[0].strip()
        if not line: continue
        name, sep, version = line.partition('==')
        if not sep: raise ValueError(f"{path.name}:{n}: expected name==version, got {line!r}")
        out[canonicalize_name(name.strip())] = version.strip()
    return out

def test_every_lower_bound_is_pinned():
    "Each `>=` floor of settings.ini is pinned at that version in lower-bounds.txt (so `make test-min` tests it)."
    pins = _pins()
    for name, floors in _lower_bounds().items():
        if name in UNTESTED: continue
        assert len(floors) == 1, f'settings.ini requirements: {name} needs exactly one >= lower bound, has {floors}'
        assert name in pins, f'settings.ini: {name}>={floors[0]} is not pinned in lower-bounds.txt'
        assert pins[name] == floors[0], f'{name}: settings.ini says >={floors[0]}, lower-bounds.txt tests {pins[name]}'

def test_nothing_else_is_pinned():
    "lower-bounds.txt pins only libraries settings.ini requires (a stray pin would test something users don't get)."
    extra = set(_pins()) - set(_lower_bounds())
    assert not extra, f'lower-bounds.txt pins {sorted(extra)}, which settings.ini does not require'

def test_pins_reject_ranges(tmp_path):
    (tmp_path/'c.txt').write_text('# header\nfoo==1.0\nbar>=2\n')
    try: _pins(tmp_path/'c.txt')
    except ValueError as e: assert 'c.txt:3' in str(e)
    else: raise AssertionError('a range in lower-bounds.txt was accepted')
