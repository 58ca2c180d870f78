"The simulator ablation's machinery: the channel's planted noise, its perfect reader, the scores, the benchmark CLI."
import json, os, subprocess, sys
from pathlib import Path
import numpy as np
import pytest
from fastcore.test import test_eq as eq_, test_close as close_, test_fail as fail_
from apo_kit.simulate import simulate, FINDINGS
from apo_kit.models import study_text
from apo_kit.ablation import (with_signal, read_signal, truth_matrix, teacher_votes, majority_vote, score_table,
                              bootstrap_weights, inheritance, unique_errors, ARMS, AblationConfig, ablation_studies)

ROOT = Path(__file__).resolve().parents[1]


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


def test_noiseless_channel_is_read_exactly_and_scores_one(sim):
    T = truth_matrix(sim.studies)
    S = np.stack([read_signal(study_text(s)) for s in with_signal(sim.studies, miss=0, false_alarm=0)])
    eq_(S, T)
    t = score_table(S, T, bootstrap_weights(len(T), 100))
    eq_(t.loc['macro balanced accuracy', ['value', 'lo', 'hi']].tolist(), [1., 1., 1.])


def test_majority_beats_and_never_inherits_unique_errors(sim):
    V, names = teacher_votes(sim.studies)
    T = truth_matrix(sim.studies)
    w = bootstrap_weights(len(T), 100)
    maj = majority_vote(V)
    eq_(inheritance(maj, V, T, w)['rate'], 0.)
    U = unique_errors(V, T)
    eq_(U.sum(1).max() <= 1, True)                                     # at most one teacher errs uniquely per cell
    for u in range(len(names)):                    # a copy repeats its own unique errors (and, where it refused and so
        c = np.nan_to_num(V[:, u]).astype(bool)    # calls nothing, the misses of others)
        rate, own = inheritance(c, V, T, w)['rate'], U[:, u].sum() / U.sum()
        if np.isnan(V[:, u]).any(): assert rate >= own, (names[u], rate, own)
        else: close_(rate, own, eps=1e-12)
    best = max(score_table(np.nan_to_num(V[:, u]).astype(bool), T, w).loc['macro balanced accuracy', 'value']
               for u in range(len(names)))
    assert score_table(maj, T, w).loc['macro balanced accuracy', 'value'] > best - .05


def test_bad_input_fails_clearly(sim):
    fail_(lambda: with_signal(sim.studies[:3], miss=-.1), contains='miss')
    s = sim.studies[0]
    bad = type(s)(s.study_id, s.trajectories, labels={'Edema': 1})
    fail_(lambda: truth_matrix([bad]), contains=s.study_id)
    fail_(lambda: read_signal('Signal: unicorns.'), contains='unicorns')
    fail_(lambda: ablation_studies(AblationConfig(n_test=0)), contains='n_test')


@pytest.mark.slow
def test_quick_benchmark_end_to_end(tmp_path):
    env = {**os.environ, 'OMP_NUM_THREADS': '1'}
    r = subprocess.run([sys.executable, str(ROOT/'benchmarks'/'ablation.py'), '--quick', '--out', str(tmp_path)],
                       capture_output=True, text=True, timeout=900, env=env, cwd=ROOT)
    assert r.returncode == 0, r.stderr[-3000:]
    table = (tmp_path/'table.md').read_text().splitlines()
    eq_(len(table), 2 + len(ARMS))                                    # header, rule, one row per arm
    cfg = json.loads((tmp_path/'config.json').read_text())
    ids = [f"sim{i:06d}" for i in range(cfg['n_train'], cfg['n_train'] + cfg['n_test'])]
    for f in sorted((tmp_path/'reports').glob('*.json')):            # every held-out study answered exactly once
        eq_(list(json.loads(f.read_text())), ids)
    times = json.loads((tmp_path/'times.json').read_text())
    n_trained = 4 if times['preference_records'] else 1            # no consensus survived: SPD only, and the table says so
    eq_(len(list((tmp_path/'reports').glob('*.json'))), n_trained)
    assert times['cpu_s'] > 0 and 'SPD' in times['stages'], times
