"""Run notebooks' code cells (as nbdev_test does) and list every FutureWarning/DeprecationWarning with the apo_kit or
notebook frame that led to it: `python tools/warnings_survey.py nbs/05_spd.ipynb ...` (add --slow for slow cells).
A warning whose chain holds no apo_kit frame comes from third-party internals; one raised in a call apo_kit makes
with a deprecated argument is ours to fix."""
import os, sys, traceback, warnings
from pathlib import Path

def survey(nb_path, slow=False):
    from execnb.nbio import read_nb
    from execnb.shell import CaptureShell
    os.environ['IN_TEST'] = '1'
    seen = {}
    def show(message, category, filename, lineno, file=None, line=None):
        if not issubclass(category, (FutureWarning, DeprecationWarning)): return
        ours = [f"{Path(f.filename).name}:{f.lineno} {f.name}" for f in traceback.extract_stack()
                if '/apo_kit/' in f.filename or f.filename.startswith('<ipython-input')]
        key = (category.__name__, str(message)[:160])
        seen.setdefault(key, (f"{filename}:{lineno}", ours[-3:]))
    warnings.showwarning = show
    nb = read_nb(nb_path)
    os.chdir(Path(nb_path).parent)
    shell = CaptureShell()
    for cell in nb.cells:
        if cell.cell_type != 'code': continue
        flags = [l for l in cell.source.splitlines() if l.startswith('#|')]
        if any('eval: false' in l or l.strip() == '#| eval:false' for l in flags): continue
        if not slow and any(l.split()[-1] == 'slow' for l in flags): continue
        with warnings.catch_warnings():
            warnings.simplefilter('always', FutureWarning); warnings.simplefilter('always', DeprecationWarning)
            warnings.showwarning = show
            shell.run(cell.source)
    return seen

if __name__ == '__main__':
    slow = '--slow' in sys.argv
    for nb in [a for a in sys.argv[1:] if not a.startswith('--')]:
        for (cat, msg), (where, ours) in survey(str(Path(nb).resolve()), slow).items():
            print(f"{Path(nb).name}\t{cat}\t{msg}\n\traised at {where}\n\tvia {ours}")
