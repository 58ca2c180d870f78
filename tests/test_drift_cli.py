"`apo-kit drift` as a user runs it: a subprocess on the real NIH sample, checking exit codes, files and the summary."
import subprocess, sys
from pathlib import Path
import pandas as pd
import pytest
from fastcore.test import test_eq as eq_

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT/'data_samples'/'nih_multimodel.jsonl'
CSVS = ['teacher_pathology.csv', 'agreement.csv', 'ranking.csv', 'steps.csv', 'stream.csv', 'change_points.csv']
PNGS = ['heatmap_sensitivity.png', 'heatmap_specificity.png', 'heatmap_positive_rate.png', 'agreement.png',
        'disagreement.png', 'steps.png', 'stream.png', 'teachers.png']

def apo_kit(*args, cwd=ROOT):
    return subprocess.run([sys.executable, '-c', 'import sys; from apo_kit.cli import main; sys.exit(main())', *map(str, args)],
                          cwd=cwd, capture_output=True, text=True, timeout=600, env={'OMP_NUM_THREADS': '1', 'MPLBACKEND': 'Agg',
                          'PATH': '/usr/bin:/bin', 'HOME': str(Path.home())})

@pytest.fixture(scope='module')
def nih_run(tmp_path_factory):
    out = tmp_path_factory.mktemp('drift')/'nih'
    return apo_kit('drift', SAMPLE, '--out', out), out

def test_exit_code_and_files(nih_run):
    r, out = nih_run
    eq_(r.returncode, 0)
    for name in CSVS + PNGS + ['summary.txt']:
        assert (out/name).stat().st_size > 0, name
    for name in PNGS: eq_((out/name).read_bytes()[:8], b'\x89PNG\r\n\x1a\n')

def test_tables_and_summary(nih_run):
    r, out = nih_run
    t = pd.read_csv(out/'teacher_pathology.csv')
    eq_(list(t.columns[:4]), ['teacher', 'pathology', 'metric', 'value'])
    eq_(set(t.teacher) - {'all'}, {'MedVersa', 'MAIRA-2', 'CheXpertPlus_mimiccxr', 'CheXpertPlus_chexpert',
                                   'CheXpertPlus_chexpert_mimiccxr', 'GPT4V', 'CheXagent'})
    refusal = t.query('metric == "refusal_rate" and pathology == "all"').set_index('teacher').value
    eq_(refusal['GPT4V'], .4)                                        # four of GPT-4V's ten reports refuse
    eq_(refusal.drop('GPT4V').max(), 0)
    ref = t.query('metric == "sensitivity"').groupby('pathology').reference.first()
    eq_(ref['Cardiomegaly'], 'truth'); eq_(ref['Support Devices'], 'majority')
    k = pd.read_csv(out/'agreement.csv', index_col=0)
    eq_(k.shape, (7, 7))
    assert 'most disagreed pathologies' in r.stdout and 'GPT4V' in r.stdout and 'refusal' in r.stdout
    eq_((out/'summary.txt').read_text().strip(), r.stdout.split('\n\nwrote ')[0].strip())

def test_options_change_the_policy(tmp_path):
    r = apo_kit('drift', SAMPLE, '--out', tmp_path, '--uncertain', 'exclude', '--reference', 'majority', '--no_plots')
    eq_(r.returncode, 0)
    t = pd.read_csv(tmp_path/'teacher_pathology.csv')
    eq_(set(t.query('metric == "sensitivity"').reference), {'majority'})
    assert not list(tmp_path.glob('*.png'))
    assert 'uncertain=exclude' in r.stdout

def test_clear_errors(tmp_path):
    r = apo_kit('drift', tmp_path/'missing.jsonl', '--out', tmp_path)
    eq_(r.returncode, 1); assert 'file not found' in r.stderr
    r = apo_kit('drift', SAMPLE, '--out', tmp_path, '--uncertain', 'maybe')
    eq_(r.returncode, 1); assert "uncertain must be one of" in r.stderr
    bad = tmp_path/'bad.jsonl'; bad.write_text('{"study_id": "x", "trajectories": []}\n')
    r = apo_kit('drift', bad, '--out', tmp_path)
    eq_(r.returncode, 1); assert 'bad.jsonl:1' in r.stderr

def test_help_lists_drift():
    r = apo_kit('--help')
    eq_(r.returncode, 0); assert 'drift' in r.stdout
    r = apo_kit('drift', '-h')
    eq_(r.returncode, 0); assert '--uncertain' in r.stdout and '--out' in r.stdout

def test_progress_bar_on_large_input(tmp_path):
    pytest.importorskip('apo_kit.simulate')
    from apo_kit.simulate import simulate
    from apo_kit.data import save_studies
    f = save_studies(simulate(800, seed=1).studies, tmp_path/'sim.jsonl')     # 5,600 trajectories
    r = apo_kit('drift', f, '--out', tmp_path/'out', '--no_plots')
    eq_(r.returncode, 0)
    assert 'labelling trajectories' in r.stderr and '5600' in r.stderr
