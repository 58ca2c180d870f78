"apo-kit evaluate: CSV, JSON and PNG from a file of studies and a file of predictions; clear errors."
import json, subprocess, sys
from pathlib import Path
from fastcore.test import test_eq as eq_
from apo_kit.data import save_studies
from apo_kit.simulate import simulate
from apo_kit import evaluate as E

def _files(tmp_path, n=60):
    sim = simulate(n, seed=5)
    save_studies(sim.studies, tmp_path/'studies.jsonl')
    st = E.copying_student(sim.studies, sim.teachers[0].name, .5)
    with open(tmp_path/'pred.jsonl', 'w') as f:
        for s in st: f.write(json.dumps({'study_id': s.study_id, 'text': s.trajectories[-1].text}) + '\n')
    return sim

def _run(*args):
    code = 'import sys; from apo_kit.cli import main; sys.exit(main())'
    return subprocess.run([sys.executable, '-c', code, 'evaluate', *map(str, args)], capture_output=True, text=True)

def test_cli_writes_tables_json_and_figures(tmp_path):
    _files(tmp_path)
    r = _run(tmp_path/'studies.jsonl', '--predictions', tmp_path/'pred.jsonl', '--out', tmp_path/'ev', '--n_boot', 50,
             '--no_report_metrics')
    assert r.returncode == 0, r.stderr
    names = {p.name for p in (tmp_path/'ev').iterdir()}
    assert {'classification.csv', 'differences.csv', 'temporal.csv', 'inheritance.csv', 'evaluation.json',
            'classification_f1.png', 'inheritance_finding.png', 'summary.txt'} <= names, names
    js = json.loads((tmp_path/'ev'/'evaluation.json').read_text())
    eq_(js['n_studies'], 60); assert js['classification'] and js['inheritance']
    assert 'macro F1' in r.stdout

def test_cli_errors(tmp_path):
    _files(tmp_path)
    r = _run(tmp_path/'nope.jsonl', '--out', tmp_path/'ev')
    assert r.returncode == 1 and 'nope.jsonl: file not found' in r.stderr, r.stderr
    lines = (tmp_path/'pred.jsonl').read_text().splitlines()
    (tmp_path/'short.jsonl').write_text('\n'.join(lines[:-1]) + '\n')
    r = _run(tmp_path/'studies.jsonl', '--predictions', tmp_path/'short.jsonl', '--out', tmp_path/'ev',
             '--no_report_metrics')
    assert r.returncode == 1 and '1 of 60 studies have no prediction' in r.stderr, r.stderr
