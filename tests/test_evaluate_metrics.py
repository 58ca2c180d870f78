"Report metrics: equal to pycocoevalcap's own scorers on the same inputs; R2Gen preprocessing on hand-checked examples."
import json, random
from pathlib import Path
import numpy as np, pytest
from fastcore.test import test_eq as eq_, test_close as close_, test_fail as fail_
from apo_kit import evaluate as E

ROOT = Path(__file__).parent.parent
TEXTS = [t['text'] for l in open(ROOT/'data_samples'/'nih_multimodel.jsonl') for t in json.loads(l)['trajectories']]

def _inputs(n=12, seed=0):
    rng = random.Random(seed)
    return [rng.choice(TEXTS) for _ in range(n)], [rng.sample(TEXTS, rng.randint(1, 4)) for _ in range(n)]

def _theirs(hyps, refs):
    "pycocoevalcap's scorers called as R2Gen's compute_scores calls them."
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.rouge.rouge import Rouge
    from pycocoevalcap.cider.cider import Cider
    g = {i: [E.r2gen_clean(r) for r in rs] for i, rs in enumerate(refs)}
    r = {i: [E.r2gen_clean(h)] for i, h in enumerate(hyps)}
    out = dict(zip(E.REPORT_METRICS[:4], Bleu(4).compute_score(g, r, verbose=0)[0]))
    out.update({'ROUGE-L': Rouge().compute_score(g, r)[0], 'CIDEr': Cider().compute_score(g, r)[0],
                'METEOR': E.meteor_scorer().compute_score(g, r)[0]})
    return out

@pytest.mark.slow                                                               # starts the METEOR jar (~30 s)
def test_equal_to_pycocoevalcap():
    hyps, refs = _inputs()
    ours, X = E.report_stats(hyps, refs)
    theirs = _theirs(hyps, refs)
    for k in E.REPORT_METRICS: close_(ours[k], theirs[k], eps=1e-9)
    close_(X[:, 11].mean(), ours['ROUGE-L'], eps=1e-12)                        # corpus = mean of per-study scores
    close_(X[:, 12].mean(), ours['CIDEr'], eps=1e-12)

def test_bleu_resample_equals_scorer_on_resampled_corpus():
    "A bootstrap resample re-sums per-study BLEU counts: it must equal pycocoevalcap's BLEU on the duplicated corpus."
    from pycocoevalcap.bleu.bleu import Bleu
    hyps, refs = _inputs(20, seed=1)
    _, X = E.report_stats(hyps, refs, metrics=('BLEU-1',))
    idx = np.random.default_rng(0).integers(0, 20, 20)                          # a resample with repeats
    w = np.bincount(idx, minlength=20)
    ours = E.bleu_from_stats((w[:, None] * X[:, :10]).sum(0))
    g = {j: [E.r2gen_clean(r) for r in refs[i]] for j, i in enumerate(idx)}
    r = {j: [E.r2gen_clean(hyps[i])] for j, i in enumerate(idx)}
    close_(ours, Bleu(4).compute_score(g, r, verbose=0)[0], eps=1e-12)

@pytest.mark.parametrize('raw,clean', [
    ("1. Small left pleural effusion.  2. No pneumothorax.", "small left pleural effusion . no pneumothorax ."),
    ("Heart size is normal.\nLungs are clear...", "heart size is normal . lungs are clear ."),
    ("ET tube (4 cm above carina); \"stable\" R/L lines: ok!", "et tube 4 cm above carina stable rl lines ok ."),
    ("The patient's heart, 3 x 2 cm: <normal> @ baseline", "the patients heart 3 x 2 cm normal baseline ."),
    ("FINDINGS: __ No acute process. 3. Stable.", "findings no acute process . stable ."),    # _ and : dropped
])
def test_r2gen_preprocessing(raw, clean): eq_(E.r2gen_clean(raw), clean)

def test_no_java_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(E.shutil, 'which', lambda name: None)
    fail_(lambda: E.report_stats(['a b'], [['a c']], metrics=('METEOR',)), contains="program 'java' was not found")
    eq_(E.report_stats(['a b'], [['a b']], metrics=('ROUGE-L',))[0], {'ROUGE-L': 1.0})   # the others need no Java

def test_a_study_without_reference_is_an_error():
    fail_(lambda: E.report_stats(['a'], [[]]), contains='at least one reference')
