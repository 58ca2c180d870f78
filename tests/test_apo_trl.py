"""apo_kit's APO loss against TRL's DPOTrainer on the same model and the same token ids: loss and gradients.

For K = 1, `apo_loss` ('pl' and 'pairwise') must equal TRL's DPO sigmoid loss; for K > 1, 'pairwise' must equal the
mean of TRL's losses over the K flattened (consensus, teacher) pairs. Gradients w.r.t. every policy parameter too.
"""
import copy, os, warnings
os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('HF_HUB_OFFLINE', '1')
from pathlib import Path
import pytest, torch
from fastcore.test import test_eq as eq_

from apo_kit.data import load_studies
from apo_kit.models import tiny_student, user_messages
from apo_kit.apo import apo_loss, completion_logps, stand_in_records, APOCollator

ROOT = Path(__file__).resolve().parent.parent
TOL = dict(atol=1e-5, rtol=1e-5)

@pytest.fixture(scope='module')
def setup():
    torch.manual_seed(0)
    policy, tok = tiny_student('text')
    ref = copy.deepcopy(policy)
    with torch.no_grad():                                  # the policy has moved away from the reference
        for p in policy.parameters(): p.add_(0.02 * torch.randn_like(p))
    recs = stand_in_records(load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl'))[:3]
    for r in recs: r['chosen'], r['rejected'] = r['chosen'][:300], [t[:300] for t in r['rejected']]
    return policy, ref, tok, recs

def _trl(policy, ref, tok, rows, tmp_path):
    "TRL's DPOTrainer loss and policy gradients on `rows` (one pair each), all in one batch; and its token ids."
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer
    pol, rf = copy.deepcopy(policy), copy.deepcopy(ref)
    args = DPOConfig(str(tmp_path/'trl'), beta=0.1, loss_type=['sigmoid'], use_cpu=True, bf16=False, report_to='none',
                     max_length=None, per_device_train_batch_size=len(rows), precompute_ref_log_probs=False,
                     activation_checkpointing=False)          # TRL's default sets the alias that transformers deprecates
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        tr = DPOTrainer(pol, ref_model=rf, args=args, train_dataset=Dataset.from_list(rows), processing_class=tok)
    ds = tr.train_dataset
    batch = tr.data_collator([ds[i] for i in range(len(ds))])
    pol.zero_grad()
    loss = tr.compute_loss(tr.model, batch)
    loss.backward()
    grads = {n: p.grad.clone() for n, p in pol.named_parameters() if p.grad is not None}
    return loss.detach(), grads, ds

def _ours(policy, ref, tok, studies, loss_type):
    "apo_kit's loss and policy gradients; `studies` are encoded studies (prompt ids, 1+K completion ids)."
    pol = copy.deepcopy(policy)
    batch = APOCollator(tok, max_length=None).collate(studies)
    with torch.no_grad(): ref_lp, _ = completion_logps(copy.deepcopy(ref), batch)
    lp, _ = completion_logps(pol, batch)
    loss, _ = apo_loss(lp, ref_lp, beta=0.1, loss_type=loss_type, mask=batch['mask'])
    loss.backward()
    return loss.detach(), {n: p.grad.clone() for n, p in pol.named_parameters() if p.grad is not None}

def _pair_rows(recs, teachers):
    return [{'prompt': user_messages(r['prompt']), 'chosen': [{'role': 'assistant', 'content': r['chosen']}],
             'rejected': [{'role': 'assistant', 'content': r['rejected'][u]}]} for r in recs for u in teachers]

def _close(ours, trl):
    (l1, g1), (l2, g2) = ours, trl
    torch.testing.assert_close(l1, l2, **TOL)
    eq_(sorted(g1), sorted(g2))
    for n in g1: torch.testing.assert_close(g1[n], g2[n], **TOL, msg=lambda m: f"{n}: {m}")
    assert any(g.abs().sum() > 0 for g in g1.values())

@pytest.mark.parametrize('loss_type', ['pl', 'pairwise'])
def test_k1_equals_trl_dpo_sigmoid(setup, tmp_path, loss_type):
    "K = 1: both losses are TRL's DPO sigmoid loss, value and gradient, on the same model and batch."
    policy, ref, tok, recs = setup
    trl_loss, trl_grads, ds = _trl(policy, ref, tok, _pair_rows(recs, [2]), tmp_path)
    studies = [{'prompt_ids': ds[i]['prompt_ids'], 'completion_ids': [ds[i]['chosen_ids'], ds[i]['rejected_ids']]}
               for i in range(len(ds))]
    _close(_ours(policy, ref, tok, studies, loss_type), (trl_loss, trl_grads))

def test_pairwise_equals_trl_over_flattened_pairs(setup, tmp_path):
    "K = 6: 'pairwise' is the mean of TRL's losses over the K flattened pairs (the released recipe)."
    policy, ref, tok, recs = setup
    K = len(recs[0]['rejected'])
    trl_loss, trl_grads, ds = _trl(policy, ref, tok, _pair_rows(recs, range(K)), tmp_path)
    studies = []
    for s in range(len(recs)):
        rows = [ds[s * K + u] for u in range(K)]
        assert all(r['prompt_ids'] == rows[0]['prompt_ids'] and r['chosen_ids'] == rows[0]['chosen_ids'] for r in rows)
        studies.append({'prompt_ids': rows[0]['prompt_ids'], 'completion_ids': [rows[0]['chosen_ids']] + [r['rejected_ids'] for r in rows]})
    ours = _ours(policy, ref, tok, studies, 'pairwise')
    _close(ours, (trl_loss, trl_grads))
    pl = _ours(policy, ref, tok, studies, 'pl')[0]
    assert not torch.isclose(pl, trl_loss, **TOL), "PL is a different objective from the flattened pairs for K > 1"
