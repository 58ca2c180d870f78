"The simulator ablation: the channel's planted noise, its perfect reader, scoring by apo_kit.evaluate, the CLI."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pandas as pd
import pytest
from fastcore.test import test_eq as eq_, test_close as close_, test_fail as fail_
from apo_kit.simulate import simulate, FINDINGS
from apo_kit.data import PATHOLOGIES
from apo_kit.models import study_text
from apo_kit.evaluate import source_labels, scoring
from apo_kit.ablation import (with_signal, read_signal, truth_matrix, findings_text, arm_scoring, arm_scores, macro_f1,
                              majority_calls, best_teacher, pooled_inheritance, ARMS, AblationConfig, ablation_studies)

ROOT = Path(__file__).resolve().parents[1]
IDX = [PATHOLOGIES.index(p) for p in FINDINGS]


@pytest.fixture(scope='module')
def sim(): return simulate(600, seed=3)


def test_channel_has_the_planted_noise(sim):
    T = truth_matrix(sim.studies)
    S = np.stack([read_signal(study_text(s)) for s in with_signal(sim.studies, miss=.2, false_alarm=.05, seed=1)])
    n_pos, n_neg = T.sum(), (~T).sum()
    close_(1 - S[T].mean(), .2, eps=3 * np.sqrt(.2 * .8 / n_pos))       # within 3 standard errors
    close_(S[~T].mean(), .05, eps=3 * np.sqrt(.05 * .95 / n_neg))


def test_channel_noise_is_independent_of_the_simulators_draws():
    "Regression: seeding the channel like the simulator reused the uniforms that made the truth (sensitivity .45)."
    sim = simulate(600, seed=0)
    T = truth_matrix(sim.studies)
    S = np.stack([read_signal(study_text(s)) for s in with_signal(sim.studies, miss=.1, false_alarm=.02, seed=0)])
    close_(1 - S[T].mean(), .1, eps=3 * np.sqrt(.1 * .9 / T.sum()))
    close_(S[~T].mean(), .02, eps=3 * np.sqrt(.02 * .98 / (~T).sum()))


def test_every_finding_written_out_is_read_back(sim):
    "`findings_text` speaks the evaluate labeler's language: each finding alone, and none, read back exactly."
    studies = sim.studies[:len(FINDINGS) + 1]
    calls = np.vstack([np.eye(len(FINDINGS), dtype=bool), np.zeros((1, len(FINDINGS)), bool)])
    sc = arm_scoring(studies, [findings_text(c) for c in calls], 'written')
    eq_(sc.y[:, -1][:, IDX], calls.astype(float))


def test_noiseless_channel_scores_one_and_noise_costs(sim):
    exact = with_signal(sim.studies, miss=0, false_alarm=0)
    eq_(np.stack([read_signal(study_text(s)) for s in exact]), truth_matrix(sim.studies))
    f1 = macro_f1(arm_scoring(exact, [findings_text(read_signal(study_text(s))) for s in exact], 'channel'))
    close_(f1['channel'], 1., eps=1e-12)
    noisy = with_signal(sim.studies, miss=.3, false_alarm=.1)
    f1n = macro_f1(arm_scoring(noisy, [findings_text(read_signal(study_text(s))) for s in noisy], 'channel'))
    assert f1n['channel'] < .8, f1n['channel']


def test_majority_and_copies_inherit_as_they_must(sim):
    studies = sim.studies[:300]
    T = truth_matrix(studies)
    maj = majority_calls(studies)
    _, inh = arm_scores(studies, [findings_text(c) for c in maj], 'majority vote', n_boot=50)
    eq_(inh.query("kind == 'finding'").inherited.sum(), 0)          # a lone wrong teacher never wins the vote
    _, inh = arm_scores(studies, [s.trajectory('GPT-5-nano').text for s in studies], 'copy', n_boot=50)
    own = inh.query("kind == 'finding' and teacher == 'GPT-5-nano'")
    eq_(own.inherited.item(), own.unique_errors.item())           # a copy repeats every one of its own unique errors
    f1 = macro_f1(scoring(source_labels(studies), reference='truth'))
    eq_(best_teacher(studies), f1.idxmax())
    sc = arm_scoring(studies, [findings_text(c) for c in maj], 'majority vote')
    assert macro_f1(sc)['majority vote'] > f1.median(), (macro_f1(sc), f1)
    close_((maj == T).mean(), 1., eps=.05)


def test_pooled_inheritance_by_hand():
    inh = pd.DataFrame(dict(arm=['a', 'a', 'a', 'b'], kind=['finding', 'finding', 'laterality', 'finding'],
                            unique_errors=[10, 30, 5, 4], inherited=[5, 3, 5, 0], chance=[.2, .1, .9, np.nan]))
    p = pooled_inheritance(inh)
    close_(p.loc['a', 'rate'], 8 / 40)
    close_(p.loc['a', 'chance'], (10 * .2 + 30 * .1) / 40)
    close_(p.loc['b', 'rate'], 0.)


def test_bad_input_fails_clearly(sim):
    fail_(lambda: with_signal(sim.studies[:3], miss=-.1), contains='miss')
    s = sim.studies[0]
    bad = type(s)(s.study_id, s.trajectories, labels={'Edema': 1})
    fail_(lambda: truth_matrix([bad]), contains=s.study_id)
    fail_(lambda: read_signal('Signal: unicorns.'), contains='unicorns')
    fail_(lambda: ablation_studies(AblationConfig(n_test=0)), contains='n_test')
    fail_(lambda: arm_scoring(sim.studies[:3], ['a', 'b'], 'short'), contains='2 texts for 3')
    fail_(lambda: AblationConfig.from_dict({'n_tests': 3}), contains='n_tests')


@pytest.mark.slow
def test_quick_benchmark_end_to_end(tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'ablation.py'), '--quick', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    times = json.loads((tmp_path/'times.json').read_text())
    trained = ARMS if times['preference_records'] else ARMS[:4]   # no consensus survived: SPD only, and it says so
    eq_(len((tmp_path/'table.md').read_text().splitlines()), 2 + len(trained))   # header, rule, one row per arm
    cfg = json.loads((tmp_path/'config.json').read_text())
    ids = [f"sim{i:06d}" for i in range(cfg['n_train'], cfg['n_train'] + cfg['n_test'])]
    for f in sorted((tmp_path/'reports').glob('*.json')):            # every held-out study answered exactly once
        eq_(list(json.loads(f.read_text())), ids)
    eq_(len(list((tmp_path/'reports').glob('*.json'))), len(trained) - 3)
    scores = pd.read_csv(tmp_path/'scores.csv')
    eq_(list(scores.arm.unique()), list(trained))
    assert times['cpu_s'] > 0 and 'SPD' in times['stages'], times
