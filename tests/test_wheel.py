"""The built wheel installs into a fresh virtualenv (torch pinned first, as the Makefile does) and its data module
loads the bundled sample there: the package declares every requirement `apo_kit.data` and `apo_kit.formats` need."""
import os, subprocess, sys, time
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent
TORCH = os.environ.get('APO_KIT_TORCH', 'torch==2.13.0')      # the CPU build on this machine; a bare `torch` pulls CUDA

def sh(*cmd, cwd=None, timeout=1200):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=timeout,
                       env={**os.environ, 'PIP_DISABLE_PIP_VERSION_CHECK': '1', 'PYTHONNOUSERSITE': '1'})
    assert r.returncode == 0, f"{' '.join(map(str, cmd))} failed:\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    return r

@pytest.fixture(scope='module')
def wheel(tmp_path_factory):
    "The wheel `pip wheel` builds from the working tree."
    dist = tmp_path_factory.mktemp('dist')
    sh(sys.executable, '-m', 'pip', 'wheel', '-q', '--no-deps', ROOT, '-w', dist)
    wheels = list(dist.glob('apo_kit-*.whl'))
    assert len(wheels) == 1, wheels
    return wheels[0]

API_HEAVY = {'transformers', 'trl', 'peft', 'accelerate', 'datasets'}   # upper-bounded at their next major release

def test_wheel_requirements_are_ranges(wheel):
    "A library user's resolver is never forced into exact pins; the API-heavy libraries are capped below a major."
    import zipfile
    from email.parser import Parser
    from packaging.requirements import Requirement
    with zipfile.ZipFile(wheel) as z:
        meta = Parser().parsestr(z.read(next(n for n in z.namelist() if n.endswith('.dist-info/METADATA'))).decode())
    sys.path.insert(0, str(ROOT/'tools')); import lock; locked = lock.read_lock()
    runtime = [Requirement(r) for r in meta.get_all('Requires-Dist') if 'extra ==' not in r]
    assert {r.name for r in runtime} >= API_HEAVY | {'torch'}, runtime
    for r in runtime:
        assert not any(s.operator in ('==', '===') for s in r.specifier), f'exact pin in the wheel: {r}'
        assert any(s.operator == '>=' for s in r.specifier), f'no tested lower bound: {r}'
        if r.name in API_HEAVY:
            upper = [s.version for s in r.specifier if s.operator == '<']
            tested = locked[r.name]                                          # the version the suite ran with
            assert upper == [str(int(tested.split('.')[0]) + 1)], f'{r}: cap at the release after {tested}'

@pytest.mark.slow
def test_wheel_installs_in_a_fresh_venv_and_loads_the_sample(tmp_path, wheel):
    "pip resolves the wheel's ranges into an empty venv (torch installed first) and the package works there."
    t0 = time.perf_counter()
    wheels = [wheel]
    t_wheel = time.perf_counter()
    sh(sys.executable, '-m', 'venv', tmp_path/'venv')
    py = tmp_path/'venv'/'bin'/'python'
    sh(py, '-m', 'pip', 'install', '-q', *TORCH.split())
    sh(py, '-m', 'pip', 'install', '-q', wheels[0])
    t_install = time.perf_counter()
    code = ("import apo_kit, apo_kit.data as d, apo_kit.formats as f, sys; from pathlib import Path\n"
            "assert Path(apo_kit.__file__).resolve().is_relative_to(Path(sys.prefix).resolve()), apo_kit.__file__\n"
            f"s = d.load_studies({str(ROOT/'data_samples'/'nih_multimodel.jsonl')!r})\n"
            "assert len(s) == 10 and all(len(x.trajectories) == 7 for x in s)\n"
            "ds = f.to_dataset(s); assert len(ds) == 10\n"
            "print(apo_kit.__version__, len(s))")
    r = sh(py, '-c', code, cwd=tmp_path)                      # outside the repo: the installed package, not the tree
    from configparser import ConfigParser
    cfg = ConfigParser(); cfg.read(ROOT/'settings.ini')
    assert r.stdout.split() == [cfg['DEFAULT']['version'], '10'], r.stdout
    r = sh(tmp_path/'venv'/'bin'/'apo-kit', 'validate', ROOT/'data_samples'/'nih_multimodel.jsonl', cwd=tmp_path)
    assert r.stdout == '' and '0 error(s)' in r.stderr
    t_end = time.perf_counter()
    print(f"\nwheel build {t_wheel - t0:.1f}s, venv + install {t_install - t_wheel:.1f}s, import + load {t_end - t_install:.1f}s, "
          f"total {t_end - t0:.1f}s")
