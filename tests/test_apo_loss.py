"""Properties of `apo_loss` that must hold for any rewards (hypothesis): both the paper's PL loss and 'pairwise'."""
import math
import pytest, torch
from hypothesis import given, settings, strategies as st, HealthCheck
from fastcore.test import test_close as close_

from apo_kit.apo import apo_loss

LOSSES = ['pl', 'pairwise']
small = st.floats(-50, 50, allow_nan=False, width=32)
huge = st.floats(-1e4, 1e4, allow_nan=False, width=32)
cfg = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

@st.composite
def batches(draw, vals=small, kmax=7):
    "policy and reference log-probs (B, 1+K), a mask with column 0 on, and per-teacher log-weights."
    B, K = draw(st.integers(1, 3)), draw(st.integers(1, kmax))
    t = lambda: torch.tensor(draw(st.lists(st.lists(vals, min_size=1+K, max_size=1+K), min_size=B, max_size=B)), dtype=torch.float64)
    pol, ref = t(), t()
    mask = torch.tensor(draw(st.lists(st.lists(st.booleans(), min_size=1+K, max_size=1+K), min_size=B, max_size=B)))
    mask[:, 0] = True
    logw = torch.tensor(draw(st.lists(st.floats(-2, 2, width=32), min_size=K, max_size=K)), dtype=torch.float64)
    return pol, ref, mask, logw

@pytest.mark.parametrize('lt', LOSSES)
@cfg
@given(b=batches(), seed=st.integers(0, 2**16))
def test_invariant_under_permuting_teachers(lt, b, seed):
    pol, ref, mask, logw = b
    perm = torch.randperm(pol.shape[1] - 1, generator=torch.Generator().manual_seed(seed)) + 1
    cols = torch.cat([torch.tensor([0]), perm])
    a = apo_loss(pol, ref, loss_type=lt, mask=mask, teacher_weights=logw)[0]
    p = apo_loss(pol[:, cols], ref[:, cols], loss_type=lt, mask=mask[:, cols], teacher_weights=logw[perm - 1])[0]
    close_(a, p, eps=1e-9)

@given(K=st.integers(1, 12), c=small, B=st.integers(1, 4))
@cfg
def test_equal_rewards_give_log_1_plus_k(K, c, B):
    pol = torch.full((B, 1+K), float(c), dtype=torch.float64)
    close_(apo_loss(pol, torch.zeros_like(pol))[0], math.log(1 + K), eps=1e-9)
    close_(apo_loss(pol, torch.zeros_like(pol), loss_type='pairwise')[0], math.log(2), eps=1e-9)

@pytest.mark.parametrize('lt', LOSSES)
@cfg
@given(b=batches(), d=st.floats(1e-3, 20))
def test_decreasing_in_the_chosen_reward(lt, b, d):
    pol, ref, mask, logw = b
    pol = pol.clone().requires_grad_()
    loss = apo_loss(pol, ref, loss_type=lt, mask=mask, teacher_weights=logw)[0]
    loss.backward()
    assert (pol.grad[:, 0] <= 0).all()                                          # ∂L/∂ log π(t⁺) ≤ 0
    up = pol.detach().clone(); up[:, 0] += d
    later = apo_loss(up, ref, loss_type=lt, mask=mask, teacher_weights=logw)[0]
    assert later <= loss.detach() + 1e-12
    if mask[:, 1:].any() and loss > 1e-6: assert later < loss.detach()       # strictly, while there is loss left

@pytest.mark.parametrize('lt', LOSSES)
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
@cfg
@given(b=batches(vals=huge), beta=st.sampled_from([0.1, 1.0]), eps=st.sampled_from([0.0, 0.1]))
def test_finite_for_rewards_up_to_1e4(lt, dtype, b, beta, eps):
    pol, ref, mask, logw = b
    pol = (pol / beta).to(dtype).requires_grad_(); ref = torch.zeros_like(pol)   # rewards r = β·pol up to ±1e4
    loss, m = apo_loss(pol, ref, beta=beta, loss_type=lt, mask=mask, teacher_weights=logw.to(dtype), label_smoothing=eps)
    loss.backward()
    assert torch.isfinite(loss) and torch.isfinite(pol.grad).all()

@pytest.mark.parametrize('lt', LOSSES)
@cfg
@given(b=batches(kmax=5), junk=st.sampled_from([0.0, 1e4, -1e4, float('inf'), float('nan')]), eps=st.sampled_from([0.0, 0.2]))
def test_masked_teachers_change_nothing(lt, b, junk, eps):
    "Adding masked teachers (holding anything, even NaN) changes neither the loss nor any gradient; theirs are 0."
    pol, ref, mask, logw = b
    B, C = pol.shape
    x = pol.clone().requires_grad_()
    base = apo_loss(x, ref, loss_type=lt, mask=mask, teacher_weights=logw, label_smoothing=eps)[0]
    base.backward()
    y = torch.cat([pol, torch.full((B, 2), junk, dtype=pol.dtype)], 1).requires_grad_()
    ref2 = torch.cat([ref, torch.full((B, 2), junk, dtype=ref.dtype)], 1)
    mask2 = torch.cat([mask, torch.zeros(B, 2, dtype=torch.bool)], 1)
    more = apo_loss(y, ref2, loss_type=lt, mask=mask2, teacher_weights=torch.cat([logw, torch.zeros(2, dtype=logw.dtype)]), label_smoothing=eps)[0]
    more.backward()
    close_(base, more, eps=1e-12)                       # equal up to float summation order
    close_(x.grad, y.grad[:, :C], eps=1e-12)
    assert torch.equal(y.grad[:, C:], torch.zeros(B, 2, dtype=y.dtype))    # exactly nothing reaches them
    assert torch.equal(y.grad[:, 1:C][~mask[:, 1:]], torch.zeros_like(y.grad[:, 1:C][~mask[:, 1:]]))

def test_sft_term_and_errors():
    pol, ref = torch.randn(2, 4), torch.randn(2, 4)
    with pytest.raises(ValueError, match='column 0 is the consensus'):
        apo_loss(pol, ref, mask=torch.tensor([[0, 1, 1, 1], [1, 1, 1, 1]]).bool())
    with pytest.raises(ValueError, match='chosen_nll'): apo_loss(pol, ref, sft_weight=1.0)
