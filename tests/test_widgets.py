"Widgets: render functions checked by their content (hostile text stays text), wiring checked headless."
from html.parser import HTMLParser
from html import unescape
from pathlib import Path
import re
import numpy as np, pandas as pd
import pytest
from hypothesis import given, settings, strategies as st
from fastcore.test import test_eq as eq_, test_close as close_
from apo_kit.data import load_studies, Study, Trajectory
from apo_kit.widgets import (Finding, findings, compare_findings, render_chip, render_chips, render_study,
                             render_trajectory, render_heatmap, render_bars, render_ranked, inspection_records,
                             study_disagreement, PreferenceInspector, DisagreementExplorer, ANY, EXPLORER_METRICS,
                             html_page)

ROOT = Path(__file__).resolve().parent.parent
NIH = ROOT/'data_samples'/'nih_multimodel.jsonl'
SIM = ROOT/'data_samples'/'simulated_cxrmax.jsonl'

class Tags(HTMLParser):
    "Every start tag and its attributes, as a browser's parser sees them."
    def __init__(self, s):
        super().__init__(); self.tags = []; self.feed(s); self.close()
    def handle_starttag(self, tag, attrs): self.tags.append((tag, dict(attrs)))

def active(s):
    "Tags and attributes that would run code or load something: scripts, event handlers, non-data images."
    bad = []
    for tag, attrs in Tags(s).tags:
        if tag in ('script', 'iframe', 'object', 'embed'): bad.append(tag)
        bad += [f"{tag}[{k}]" for k in attrs if k.startswith('on')]
        if tag == 'img' and not attrs.get('src', '').startswith('data:image/png;base64,'): bad.append('img[src]')
    return bad

def rec(chosen, rejected, teachers=None, **kw):
    return dict(study_id='s1', prompt='Read this chest X-ray.', images=[], chosen=chosen, rejected=rejected,
                teachers=teachers or [f't{i}' for i in range(len(rejected))], **kw)

def test_disputed_pathology_is_marked():
    r = rec("Small right pleural effusion. No pneumothorax.", ["Small left pleural effusion. No pneumothorax.",
                                                             "Small right pleural effusion. No pneumothorax."])
    cards = re.findall(r"<div class='ak-card'.*?</div></div>", render_study(r), re.S)
    eq_(len(cards), 3)
    assert "ak-differs' data-pathology='Pleural Effusion'" in cards[1] and '≠ consensus: right' in cards[1]
    assert 'ak-differs' not in cards[2] and 'ak-differs' not in cards[0]          # agreeing teacher, consensus itself

def test_chip_shows_side_and_label_in_words():
    c = render_chip(Finding('Pneumothorax', -1, 'left'))
    assert '? unc Pneumothorax · left' in c
    plain = render_chip(Finding('Edema', 0, 'unspecified'))
    assert '· ' not in plain and '− neg Edema' in plain                            # no side stated, none shown
    eq_(findings("Moderate right pneumothorax.")['Pneumothorax'], Finding('Pneumothorax', 1, 'right'))

def test_missed_and_extra_findings():
    mine, cons = findings("Mild edema."), findings("Left effusion. Mild edema.")
    eq_(compare_findings(mine, cons), {'Pleural Effusion': 'missing (consensus: pos)'})
    eq_(compare_findings(cons, mine), {'Pleural Effusion': 'not in consensus'})
    assert '∅ Pleural Effusion' in render_chips(mine, cons)

HOSTILE = ['<script>alert(1)</script>', '<img src=x onerror=alert(1)>', '"><svg onload=alert(1)>',
           "' onmouseover='alert(1)", '<iframe src=javascript:alert(1)>', '</div></div><script>x</script>']

@pytest.mark.parametrize('evil', HOSTILE)
def test_hostile_text_renders_as_text(evil):
    r = rec(f"Left effusion. {evil}", [evil, f"No effusion {evil}"], teachers=[evil, 'b'],
            context={'indication': evil}, flags=[evil], stand_in=None)
    r['study_id'] = evil
    for view in (render_study(r), render_study(r, diff=False), render_study(r, teacher=evil)):
        eq_(active(view), [])
        assert evil.replace('<', '&lt;').replace('>', '&gt;').replace('"', '&quot;').replace("'", '&#x27;') in view

@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_any_text_round_trips_and_stays_inert(text):
    card = render_trajectory(text, 'teacher')
    eq_(active(card), [])
    body = re.search(r"<div class='ak-text'>(.*)</div></div>$", card, re.S).group(1)
    if text: eq_(unescape(body), text)                                        # shown exactly, as text

@pytest.mark.parametrize('text, flag', [('', 'EMPTY'), ('  \n ', 'EMPTY'),
                                        ("As an AI, I'm not able to interpret medical images.", 'REFUSAL'),
                                        ('I cannot interpret x-ray images.', 'REFUSAL')])
def test_empty_or_refused_trajectory_is_flagged(text, flag):
    view = render_study(rec('Left effusion.', [text, 'Right effusion.']))
    cards = re.findall(r"<div class='ak-card'.*?</div></div>", view, re.S)
    assert f"<span class='ak-flag'>{flag}</span>" in cards[1]
    assert 'ak-flag' not in cards[2].split('<div>')[0]                        # the ordinary teacher has no flag

def test_standalone_page(tmp_path):
    r = rec('Left effusion.', ['Right effusion.'])
    page = html_page(render_study(r), render_study(r))
    eq_(page.count('<style>'), 1); eq_(page.count("class='ak-card'"), 4); eq_(active(page), [])
    (tmp_path/'p.html').write_text(page, encoding='utf-8')

def test_charts_print_their_values():
    m = pd.DataFrame([[.25, np.nan]], index=['a'], columns=['Edema', 'Fracture'])
    svg = render_heatmap(m, 'x')
    assert '>0.25<' in svg and '>n/a<' in svg and svg.startswith('<svg') and svg.endswith('</svg>')
    assert '>0.70<' in render_bars(pd.Series({'Edema': .7}), 'k')

@pytest.fixture(scope='module')
def nih(): return load_studies(NIH)

def test_stand_in_and_disagreement(nih):
    recs = inspection_records(nih)
    for s, r in zip(nih, recs):
        eq_(sorted([r['stand_in'], *r['teachers']]), sorted(s.teachers))
        assert r['stand_in'] != 'GPT4V' or 'REFUSAL' not in r['chosen']
    dis, ent = study_disagreement(__import__('apo_kit.drift', fromlist=['x']).teacher_labels(nih))
    eq_(dis.refused.str.contains('GPT4V').sum(), 4)
    close_(ent.sum(axis=1).to_numpy(), dis.entropy.to_numpy())

def test_entropy_of_a_split_vote():
    ss = [Study('a', [Trajectory('x', 'Left effusion.'), Trajectory('y', 'No effusion.')]),
          Study('b', [Trajectory('x', 'Left effusion.'), Trajectory('y', 'Right effusion.')])]
    from apo_kit.drift import teacher_labels
    dis, ent = study_disagreement(teacher_labels(ss))
    close_(ent.loc['a', 'Pleural Effusion'], 1.0)                              # one yes, one no: one bit
    close_(ent.loc['b', 'Pleural Effusion'], 0.0)                              # both say yes (sides differ)
    assert 'Pleural Effusion' in dis.set_index('study_id').disputed['a']

def test_inspector_wiring(nih):
    insp = PreferenceInspector(inspection_records(nih), max_side=32)
    h0, s0 = insp.html.value, insp.current
    insp.next.click()
    assert insp.current != s0 and insp.html.value != h0 and f"data-study='{insp.current}'" in insp.html.value
    insp.prev.click(); eq_(insp.current, s0)
    insp.pick.value = nih[7].study_id; eq_(insp.current, nih[7].study_id)
    insp.teacher.value = 'MAIRA-2'
    assert all('MAIRA-2' in insp.records[i]['teachers'] for i in insp.order)
    eq_(insp.html.value.count("class='ak-card'"), 2)
    insp.teacher.value = ANY
    insp.min_entropy.value = insp.min_entropy.max
    eq_(len(insp.order), 1)                                                    # only the most disputed study is left
    insp.min_entropy.value = 0
    insp.search.value = 'PaceMaker'
    want = [i for i, r in enumerate(insp.records)
            if any('pacemaker' in t.lower() for t in [r['chosen'], *r['rejected']])]
    eq_(insp.order.tolist(), want); assert 0 < len(want) < 10
    hidden = next(r['study_id'] for i, r in enumerate(insp.records) if i not in want)
    insp.open(hidden); eq_(insp.current, hidden); eq_(insp.search.value, '')   # filters that hid it are cleared

def test_inspector_pages_large_sets():
    from apo_kit import widgets
    ss = [Study(f"s{i:04d}", [Trajectory('a', 'Left effusion.'), Trajectory('b', 'No effusion.')]) for i in range(1203)]
    insp = PreferenceInspector(inspection_records(ss, {s.study_id: 'Left effusion.' for s in ss}))
    eq_(len(insp.pick.options), widgets.MAX_OPTIONS)
    insp.open('s1100'); eq_(insp.current, 's1100'); assert 's1100' in insp.pick.options
    insp.prev.click(); insp.next.click(); insp.next.click(); eq_(insp.current, 's1101')
    eq_(insp.where.value, '1102 of 1203')

def test_explorer_wiring(tmp_path):
    ex = DisagreementExplorer(load_studies(SIM), max_side=32)
    heat, kappa = ex.heat.value, ex.kappa.value
    for m in EXPLORER_METRICS:
        ex.metric.value = m; assert f'{m} per teacher' in ex.heat.value and '>0.' in ex.heat.value
    ex.metric.value = 'specificity'; assert ex.heat.value != heat
    ex.pathology.value = 'Pneumothorax'
    assert ex.kappa.value != kappa and 'Pneumothorax' in ex.kappa.value
    sel = ex.selection()
    assert len(sel) and (sel.entropy >= ex.threshold.value).all()
    close_(sel.entropy.to_numpy(), ex.entropy.loc[sel.study_id, 'Pneumothorax'].to_numpy())
    ex.study.value = sel.study_id[0]
    eq_(ex.inspector.current, sel.study_id[0])
    assert f"data-study='{sel.study_id[0]}'" in ex.inspector.html.value
    ex.path.value = str(tmp_path/'sel.csv'); ex.export_button.click()
    eq_(pd.read_csv(tmp_path/'sel.csv').study_id.tolist(), sel.study_id.tolist())
    assert 'wrote' in ex.note.value

def test_reward_view_with_tiny_models():
    from apo_kit.models import tiny_student
    from apo_kit.widgets import implicit_rewards
    pol, tok = tiny_student('text', seed=0); ref, _ = tiny_student('text', seed=1)
    texts = ['Small left effusion.', 'Small right effusion.', 'No effusion. Heart size normal.', '']
    prompt = rec('', [''])['prompt']
    same = implicit_rewards(pol, pol, tok, prompt, texts[:3])
    close_(same.rewards, np.zeros(3)); close_(same.push, np.full(2, 1 / 3))       # policy = reference: no preference
    sr = implicit_rewards(pol, ref, tok, prompt, texts)
    r = sr.rewards
    assert np.isnan(r[3]) and sr.push[2] == 0 and sr.rank[2] == 3                  # the empty text: no reward, last
    eq_(sr.rank[:2].tolist(), [1, 2] if r[1] > r[2] else [2, 1])                   # rank 1 = largest reward
    close_(sr.push[:2], np.exp(r[1:3]) / np.exp(r[:3]).sum())                      # ∂L_PL/∂r_u
    close_(np.array([x.sum() for x in sr.token_rewards[:3]]), r[:3])
    view = PreferenceInspector([rec(texts[0], texts[1:])], model=(pol, tok), ref_model=ref).html.value
    for i in (1, 2): assert f"r = {r[i]:+.4f} · push {sr.push[i-1]:.0%} · rank {sr.rank[i-1]} of 3" in view
    assert "<span class='ak-flag'>EMPTY</span> no reward (empty text)" in view
    eq_(view.count("title='r="), sum(map(len, sr.tokens[:3])))                     # every token of the others coloured
