"""apo_kit.labels reads markdown rationales as it reads plain text: wrapping each report sentence of the development set
in the markup real LLM teachers use (bold, bullets, numbers, headings, check marks) changes no label, and every
mention's span still points at the words that produced it. Simulated rationales are read exactly as planted."""
from pathlib import Path
import numpy as np, pytest
from fastcore.test import test_eq as eq_
from apo_kit import labels as L
from apo_kit.simulate import simulate

DEV = Path(__file__).parent/'data'/'labels_dev_reports.psv'
MARKUP = [lambda s: f"- {s}", lambda s: f"**{s}**", lambda s: f"1. {s}", lambda s: f"### {s}", lambda s: f"\u2714 {s}",
          lambda s: f"* **Finding:** {s}", lambda s: f"\u2022 {s}"]

@pytest.fixture(scope='module')
def dev(): return L.read_dev_sentences(DEV)

@pytest.mark.parametrize('k', range(len(MARKUP)))
def test_markup_changes_no_label(dev, k):
    plain = L.label_texts(dev.text)
    marked = L.label_texts([MARKUP[k](t) for t in dev.text])
    bad = [(t, a, b) for t, a, b in zip(dev.text, plain.to_dict('records'), marked.to_dict('records'))
           if {p: v for p, v in a.items() if v == v} != {p: v for p, v in b.items() if v == v}]
    assert not bad, bad[:5]

def test_spans_point_at_the_phrase(dev):
    text = '\n'.join(MARKUP[i % len(MARKUP)](t) for i, t in enumerate(dev.text))
    ms = L.extract_mentions(text)
    assert len(ms) > 300
    for m in ms: eq_(text[m.span[0]:m.span[1]], m.text)

def test_simulated_rationales_read_as_planted():
    sim = simulate(150, seed=11, style='rationale')
    pa = L.planted_agreement([{'trajectories': [dict(text=t.text, labels=t.labels, meta=t.meta) for t in s.trajectories]}
                              for s in sim.studies])
    eq_(pa['labels agree'], pa['label cells']); eq_(pa['sides read'], pa['sides planted']); eq_(pa['sides wrong'], 0)
    eq_(pa['steps found'], pa['steps planted'])
    assert pa['sides planted'] > 50

def test_refusals_of_simulated_rationales():
    sim = simulate(150, seed=12, style='rationale')
    got = [L.is_refusal(t.text) for s in sim.studies for t in s.trajectories]
    want = [bool(t.meta.get('refused')) for s in sim.studies for t in s.trajectories]
    eq_(got, want)
    assert any(w for w in want) and any(t.text.startswith(("I'm not a radiologist", 'While I cannot'))
                                        for s in sim.studies for t in s.trajectories)
