"predict: the student's own answer to the training prompt, batched and resumable like stage 2."
import json, os
from pathlib import Path
import pytest
from fastcore.test import test_eq as eq_, test_fail as fail_
from apo_kit import evaluate as E
from apo_kit.data import load_studies
from apo_kit.models import tiny_student, study_messages

ROOT = Path(__file__).parent.parent
os.environ.setdefault('OMP_NUM_THREADS', '1')

@pytest.fixture(scope='module')
def tiny(): return tiny_student('text')

@pytest.fixture(scope='module')
def studies(): return load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl', check_images=False)[:4]

def test_prompt_has_no_teacher_context(tiny, studies):
    model, tok = tiny
    (s, msgs, n), *_ = E.study_prompts(studies[:1], tok, False, None, 10_000)
    eq_(msgs, study_messages(s, False))                                          # exactly the training prompt
    for t in s.trajectories: assert t.text[:40] not in json.dumps(msgs)

def test_rerun_generates_nothing_and_torn_line_is_redone(tiny, studies, tmp_path):
    out, seen = tmp_path/'pred.jsonl', []
    first = E.predict(tiny, studies, out, batch_size=2, max_new_tokens=6, progress=False,
                      before_generate=lambda ids: seen.extend(ids))
    eq_(sorted(seen), sorted(s.study_id for s in studies))
    eq_(len(first), 4); assert all(set(r) >= {'study_id', 'text', 'generation'} for r in first)
    seen.clear()
    eq_(E.predict(tiny, studies, out, batch_size=2, max_new_tokens=6, progress=False,
                  before_generate=lambda ids: seen.extend(ids)), first)
    eq_(seen, [])                                                                # nothing regenerated
    lines = out.read_bytes().split(b'\n')
    out.write_bytes(b'\n'.join(lines[:3]) + b'\n' + lines[3][:20])               # a killed writer: last record torn
    again = E.predict(tiny, studies, out, batch_size=2, max_new_tokens=6, progress=False,
                      before_generate=lambda ids: seen.extend(ids))
    eq_(len(seen), 1); eq_(sorted(r['study_id'] for r in again), sorted(s.study_id for s in studies))
    eq_({r['study_id']: r['text'] for r in again}, {r['study_id']: r['text'] for r in first})   # greedy: same text
    eq_(len(out.read_text().splitlines()), 4)                                    # no duplicate

def test_changed_setting_is_refused(tiny, studies, tmp_path):
    out = tmp_path/'pred.jsonl'
    E.predict(tiny, studies[:1], out, max_new_tokens=4, progress=False)
    for kw in (dict(max_new_tokens=5), dict(max_new_tokens=4, do_sample=True),
               dict(max_new_tokens=4, system='Be brief.')):
        fail_(lambda: E.predict(tiny, studies[:1], out, progress=False, **kw), contains='other settings')

def test_predictions_feed_the_report(tiny, studies, tmp_path):
    recs = E.predict(tiny, studies, tmp_path/'p.jsonl', max_new_tokens=6, progress=False)
    rep = E.evaluation_report(studies, tmp_path/'p.jsonl', report_metrics=('BLEU-1',), n_boot=20)
    assert E.STUDENT in set(rep.classification.source) and len(rep.differences)
    eq_(E.read_predictions(tmp_path/'p.jsonl'), {r['study_id']: r['text'] for r in recs})

def test_duplicate_ids_and_long_prompts(tiny, studies, tmp_path):
    fail_(lambda: E.predict(tiny, [studies[0], studies[0]], tmp_path/'d.jsonl', progress=False),
          contains='duplicate study ids')
    fail_(lambda: E.predict(tiny, studies[:1], tmp_path/'l.jsonl', max_length=40, max_new_tokens=30, progress=False),
          contains=f"study {studies[0].study_id!r}: the prompt takes")
