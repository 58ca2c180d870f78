"""The test environment's lock: `constraints.txt` lists every distribution a fresh `.venv` holds, exactly.

`python tools/lock.py freeze > constraints.txt` writes it from the running environment (`make lock` runs this in a
clean venv); `python tools/lock.py check` exits 1, naming each difference, when the running environment is not
the lock. Local version labels (`+cpu`) are dropped so that a GPU build of the same torch satisfies the lock."""
import re, sys
from importlib.metadata import distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCK = ROOT/'constraints.txt'
SKIP = {'apo-kit', 'pip', 'setuptools', 'wheel'}   # the project itself, and what `python -m venv` brings

def norm(name: str) -> str:
    "PEP 503 normalised distribution name."
    return re.sub(r'[-_.]+', '-', name).lower()

def installed() -> dict:
    "Distributions in the running environment, {normalised name: version without local label}."
    return {norm(d.metadata['Name']): d.version.split('+')[0] for d in distributions()
            if d.metadata['Name'] and norm(d.metadata['Name']) not in SKIP}

def read_lock(path=LOCK) -> dict:
    "The lock as {normalised name: version}."
    pins = {}
    for n, line in enumerate(Path(path).read_text().splitlines(), 1):
        line = line.split('#')[0].strip()
        if not line: continue
        m = re.fullmatch(r'([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;]+)', line)
        if not m: raise ValueError(f"{path}:{n}: expected 'name==version', got {line!r}")
        pins[norm(m.group(1))] = m.group(2)
    return pins

def differences(have: dict, want: dict) -> list:
    "Each way the environment `have` departs from the lock `want`."
    out = [f"{k}=={v} is installed but not in the lock" for k, v in sorted(have.items()) if k not in want]
    out += [f"{k}: lock {want[k]}, installed {have[k]}" for k in sorted(have) if k in want and want[k] != have[k]]
    out += [f"{k}=={v} is in the lock but not installed" for k, v in sorted(want.items()) if k not in have]
    return out

if __name__ == '__main__':
    cmd = sys.argv[1] if len(sys.argv) > 1 else 'check'
    if cmd == 'freeze':
        print('# The locked test and demo environment: `make install` installs exactly this set (pip --no-deps -r).')
        print('# Regenerate with `make lock` (a clean venv, the newest releases that settings.ini allows); never by hand.')
        for k, v in sorted(installed().items()): print(f'{k}=={v}')
    else:
        diff = differences(installed(), read_lock())
        print('\n'.join(diff) or 'the environment is the lock')
        sys.exit(1 if diff else 0)
