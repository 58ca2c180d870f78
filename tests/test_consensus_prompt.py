"""Consensus prompts, fuzzed: no teacher name leaks, the seed shuffles the sources, the token budget holds."""
import re
import pytest
from hypothesis import given, settings, strategies as st, HealthCheck
from fastcore.test import test_eq as eq_

from apo_kit.data import Study, Trajectory
from apo_kit.models import tiny_student, radiology_corpus
from apo_kit.consensus import (consensus_prompt, source_order, fit_prompt, chat_text, chat_token_count, name_parts,
                               TRUNCATION_MARKER, STYLES)

PROCESSOR = tiny_student('text')[1]
SENTS = radiology_corpus(200, seed=1)
NAMES = ['GPT-5-nano', 'Claude Sonnet-4', 'GLM-4.5V', 'Gemini-2.5-flash-lite', 'Moonshot-v1', 'Qwen-VL-Max', 'Grok-4',
         'MAIRA-2', 'CheXagent', 'MedVersa', 'GPT4V', 'RadFM_large', 'llava-med/v1.5']

def leaks(text, names):
    return [p for n in names for p in name_parts(n) if re.search(rf'(?<!\w){re.escape(p)}(?!\w)', text, re.I)]

@st.composite
def studies(draw):
    names = draw(st.lists(st.sampled_from(NAMES), min_size=2, max_size=7, unique=True))
    trajs = []
    for n in names:
        body = ' '.join(draw(st.lists(st.sampled_from(SENTS), min_size=1, max_size=40)))
        other = draw(st.sampled_from(names))
        how = draw(st.sampled_from(['As {n}, I see: {b}', '{b} ({o} agrees.)', '{b}', 'I am {n}. {b} Unlike {o}.']))
        trajs.append(Trajectory(n, how.format(n=n, o=other.upper(), b=body)))
    return Study(f"s{draw(st.integers(0, 10**6))}", trajs)

@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(studies(), st.integers(0, 1000), st.sampled_from(STYLES), st.integers(420, 1500))
def test_no_leak_and_budget(study, seed, style, budget):
    msgs, info = fit_prompt(study, PROCESSOR, seed=seed, style=style, budget=budget)
    text = chat_text(PROCESSOR, msgs)
    eq_(leaks(text, study.teachers), [])
    assert info['prompt_tokens'] == chat_token_count(PROCESSOR, msgs) <= budget
    eq_(list(info['sources'].values()), source_order(study, seed))          # the recorded mapping is the shown order
    eq_(text.count(TRUNCATION_MARKER), len(info['truncated']))
    for letter, teacher in info['sources'].items():                           # uncut sources are shown whole
        if letter not in info['truncated']: assert f"Source {letter}:\n" in text
    eq_(msgs, consensus_prompt(study, PROCESSOR, seed=seed, style=style, budget=budget))   # the public face agrees

def test_seeds_shuffle():
    s = Study('x', [Trajectory(n, f"text {i}") for i, n in enumerate(NAMES[:7])])
    orders = {tuple(source_order(s, k)) for k in range(20)}
    assert len(orders) >= 15                                                  # 7! orders: collisions are rare
    firsts = {o[0] for o in orders}
    assert len(firsts) >= 4                                                   # Source A is not always the same teacher
    eq_(consensus_prompt(s, PROCESSOR, seed=3), consensus_prompt(s, PROCESSOR, seed=3))

def test_long_trajectories_fit():
    s = Study('long', [Trajectory(n, ' '.join(SENTS) * (k + 1)) for k, n in enumerate(NAMES[:5])])
    full = fit_prompt(s, PROCESSOR)[1]['prompt_tokens']
    assert full > 20_000
    for budget in (600, 1000, 4096 - 256):
        msgs, info = fit_prompt(s, PROCESSOR, budget=budget)
        assert budget - 10 <= info['prompt_tokens'] <= budget                 # uses the room, never more
        eq_(sorted(info['truncated']), list('ABCDE'))

def test_short_source_beside_a_long_one_fits():
    "Regression (found by hypothesis): a 2-token trajectory kept whole must not count as a too-short cut."
    s = Study('s0', [Trajectory('GPT-5-nano', ' '.join(SENTS[:3]) * 20), Trajectory('Claude Sonnet-4', 'There is')])
    msgs, info = fit_prompt(s, PROCESSOR, budget=420)
    assert info['prompt_tokens'] <= 420 and len(info['truncated']) == 1
    assert 'There is' in chat_text(PROCESSOR, msgs)

def test_too_small_budget_is_a_clear_error():
    s = Study('s1', [Trajectory('GPT-5-nano', ' '.join(SENTS) * 3), Trajectory('Claude Sonnet-4', ' '.join(SENTS))])
    with pytest.raises(ValueError, match=r"study 's1': the prompt without trajectories takes \d+ tokens"):
        fit_prompt(s, PROCESSOR, budget=80)
    with pytest.raises(ValueError, match='style must be one of'):
        fit_prompt(s, PROCESSOR, style='freeform')
