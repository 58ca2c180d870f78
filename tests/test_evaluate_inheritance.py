"""Planted effects are recovered: copying one teacher is inheritance from that teacher only; a majority student
beats the average teacher; bootstrap intervals cover the truth at their nominal rate; given-diagnoses teachers are
never scored."""
import time
from dataclasses import replace
import numpy as np, pytest
from fastcore.test import test_eq as eq_, test_close as close_
from apo_kit import evaluate as E
from apo_kit.data import Trajectory
from apo_kit.simulate import simulate

@pytest.fixture(scope='module')
def sim(): return simulate(800, seed=3)

def _inh(sim, u, p, kind='finding'):
    sc = E.scoring(E.source_labels(E.copying_student(sim.studies, u, p, seed=1), source='labels'), E.STUDENT)
    return E.inheritance(sc, n_boot=100).query('kind == @kind').set_index('teacher')

def test_copying_teacher_u_is_inherited_from_u_only(sim):
    u = sim.teachers[4].name
    res = {p: _inh(sim, u, p) for p in (0, .25, .5, .75, 1)}
    rates = [res[p].inheritance[u] for p in res]
    assert all(a < b for a, b in zip(rates, rates[1:])), rates                   # rises with p
    eq_(rates[0], 0.0)                                          # the majority never repeats a lone error
    eq_(rates[-1], 1.0)                                                         # a full copy repeats them all
    for p, d in res.items():
        others = d.drop(u)
        assert (others.inheritance <= others.chance + .02).all(), (p, others[['inheritance', 'chance']])
    assert res[.5].excess_lo[u] > 0                                             # the planted inheritance is significant

def test_laterality_inheritance_from_copied_texts(sim):
    u = sim.teachers[1].name
    d = {p: _inh(sim, u, p, 'laterality') for p in (0, .5, 1)}
    assert d[0].inheritance[u] == 0 and d[.5].inheritance[u] < d[1].inheritance[u], {p: d[p].inheritance[u] for p in d}
    assert d[1].unique_errors[u] > 0

def test_majority_student_beats_average_teacher(sim):
    sc = E.scoring(E.source_labels(E.copying_student(sim.studies, sim.teachers[0].name, 0), source='labels'), E.STUDENT)
    t, reps = E.classification_table(sc, n_boot=200)
    for g in ('macro all 14', 'micro all 14', 'macro five'):
        f1 = t.query('metric == "f1" and pathology == @g').set_index('source').value
        assert f1[E.STUDENT] > f1.drop(E.STUDENT).mean(), (g, f1)
    d = E.paired_differences(sc, t, reps).query('metric == "f1" and pathology == "micro all 14"')
    assert ((d.difference > d.lo) & (d.difference < d.hi)).all()
    assert d.p_value.between(0, 1).all()

def _draw(rng, S=150, prev=.3, sens=.8, spec=.9):
    y = rng.random(S) < prev
    said = np.where(y, rng.random(S) < sens, rng.random(S) < 1 - spec)
    return np.stack([said & y, said & ~y, ~said & y, ~said & ~y], -1).astype(np.float32)

def test_bootstrap_coverage_is_nominal():
    "400 data sets: a 95% interval covers ~380 (SE ~4.4); an 80% one would cover ~320. Under 20 s."
    t = time.perf_counter()
    true = {'sensitivity': .8, 'specificity': .9, 'accuracy': .3 * .8 + .7 * .9}
    cov = E.coverage(true, _draw, repeats=400, n_boot=400)
    assert all(.91 <= v <= .985 for v in cov.values()), cov
    cov80 = E.coverage({'sensitivity': .8}, _draw, repeats=400, n_boot=400, level=.8)
    assert .72 <= cov80['sensitivity'] <= .88, cov80
    assert time.perf_counter() - t < 40

def _asked(studies, flags):
    "Copies of `studies` whose i-th teacher trajectory carries meta['diagnoses_given'] = flags[i] (None: no key)."
    out = []
    for s in studies:
        ts = [replace(t, meta={**t.meta, **({} if f is None else
                                            {'diagnoses_given': f, 'style': 'rationale' if f else 'report'})})
              for t, f in zip(s.trajectories, flags)]
        out.append(replace(s, trajectories=ts))
    return out

def test_teachers_given_the_diagnoses_are_not_scored(sim):
    studies = _asked(sim.studies[:200], [True] * 7)
    rep = E.evaluation_report(studies, report_metrics=(), n_boot=50)
    t = rep.classification
    assert t.value.isna().all() and (t.asked == E.NOT_SCORED).all() and (t.n == 0).all()
    assert any('every teacher trajectory was written with the diagnoses given' in n for n in rep.notes), rep.notes
    assert (rep.table('f1') == E.NOT_SCORED).all().all()

def test_only_blind_trajectories_count(sim):
    "Teachers 0-2 blind, 3-6 given: the blind teachers' figures equal those computed on the blind teachers alone."
    studies = _asked(sim.studies[:300], [False] * 3 + [True] * 4)
    t = E.evaluation_report(studies, report_metrics=(), n_boot=50, reference='truth').classification
    alone = E.evaluation_report([replace(s, trajectories=s.trajectories[:3]) for s in studies], report_metrics=(),
                                n_boot=50, reference='truth').classification
    key = ['source', 'pathology', 'metric']
    m = t.merge(alone, on=key, suffixes=('', '_alone'))
    close_(m.value.fillna(-1).to_numpy(), m.value_alone.fillna(-1).to_numpy())
    eq_(set(t[t.asked == E.NOT_SCORED].source), {x.name for x in sim.teachers[3:]})

def test_unknown_given_excludes_unmarked(sim):
    studies = _asked(sim.studies[:100], [False] + [None] * 6)
    t = E.evaluation_report(studies, report_metrics=(), n_boot=20, unknown='given').classification
    eq_(set(t[t.n > 0].source), {sim.teachers[0].name})
