"""Block attention for the 1+K layout (each prompt once, each completion over its prompt and itself): exact against the
dense packed row and against separate rows (text and VLM), under gradient checkpointing, and the m-hardest option."""
import logging, os
os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('HF_HUB_OFFLINE', '1')
from pathlib import Path
import pytest, torch
from fastcore.test import test_eq as eq_

from apo_kit.data import load_studies
from apo_kit.models import tiny_student
from apo_kit.apo import APOCollator, APOConfig, APOTrainer, stand_in_records, completion_logps, block_layout, pack_prompt

logging.getLogger('transformers').setLevel(logging.ERROR)
ROOT = Path(__file__).resolve().parent.parent
LORA = dict(r=8, lora_alpha=32, lora_dropout=0.0)

def _recs(vlm): return stand_in_records(load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl'), vlm=vlm)

def _perturbed_lora(model):
    "A LoRA whose B is not zero, so that the adapter changes the outputs and has gradients everywhere."
    from peft import get_peft_model
    from apo_kit.models import lora_config
    model = get_peft_model(model, lora_config(model, LORA))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'lora_B' in n: p.normal_(0, 0.05)
    return model

def _run(model, batch, **kw):
    "Summed log-probs (B, 1+K) and the gradients of their sum."
    model.zero_grad()
    lp, _ = completion_logps(model, batch, **kw); lp.sum().backward()
    return lp.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}

def _close(a, b):
    "Equal to float32 rounding, relative to each tensor's magnitude."
    torch.testing.assert_close(a, b, rtol=1e-5, atol=2e-6 * b.abs().max().item())

def _same(ra, rb):
    _close(ra[0], rb[0]); eq_(sorted(ra[1]), sorted(rb[1]))
    for n in rb[1]: _close(ra[1][n], rb[1][n])

def test_text_blocks_equal_dense_packed_and_separate_rows():
    torch.manual_seed(0)
    model, tok = tiny_student('text')
    model = _perturbed_lora(model)
    recs = _recs(False)[:3]
    recs[1] = {**recs[1], 'prompt': recs[1]['prompt'] + ' Compare with the prior study.'}   # a longer prompt
    b = APOCollator(tok, max_length=None, max_completion_length=40)(recs)
    assert len(set(b['prompt_lengths'].tolist())) > 1                    # unequal prompts: the padded prompt path
    blocks = _run(model, b, share_prompt=True, attention='blocks')
    _same(blocks, _run(model, b, share_prompt=True, attention='dense'))
    _same(blocks, _run(model, b, share_prompt=False))
    assert (blocks[0][b['mask']] < 0).all()

def test_layout_covers_every_token_once():
    model, tok = tiny_student('text')
    b = APOCollator(tok, max_length=None, max_completion_length=20)(_recs(False)[:2])
    pk = pack_prompt(b); lay = block_layout(pk['block'], b['seq_study'])
    idx = torch.cat([lay['p_idx'][lay['p_ok']], lay['b_idx'][lay['b_ok']]])
    eq_(len(idx), len(set(idx.tolist()))); eq_(len(idx), int((pk['block'] != -2).sum()))
    # a block's keys: its own study's prompt (all of it) and its own tokens up to the query
    n = 9; s = int(b['seq_study'][n]); P = int(lay['p_ok'][s].sum()); c = int(lay['b_ok'][n].sum())
    eq_(lay['b_mask'][n, 0, c - 1, :P].all().item(), True); eq_(lay['b_mask'][n, 0, 0, P + 1:].any().item(), False)

def test_vlm_prompt_once_equals_separate_rows():
    "VLM: one prompt pass (images included, M-RoPE continued) per study equals running each completion separately."
    torch.manual_seed(0)
    model, proc = tiny_student('vlm')
    model = _perturbed_lora(model)
    b = APOCollator(proc, max_length=320, max_completion_length=32)(_recs(True)[:2])
    shared = _run(model, b, share_prompt=True)
    _same(shared, _run(model, b, share_prompt=False, share_vision=False))
    model.base_model.model.model.visual.requires_grad_(True)          # a trainable tower: its gradients agree too
    shared = _run(model, b, share_prompt=True)
    assert any('visual' in n for n in shared[1])
    _same(shared, _run(model, b, share_prompt=False, share_vision=False))

def _train(tmp_path, recs, tok, peft=LORA, **kw):
    torch.manual_seed(0)
    model, _ = tiny_student('text')
    base = dict(learning_rate=2e-3, max_steps=3, per_device_train_batch_size=2, max_length=320, max_completion_length=40,
                logging_steps=1, use_cpu=True, save_strategy='no', seed=0, disable_tqdm=True)
    tr = APOTrainer(model, APOConfig(str(tmp_path), **{**base, **kw}), train_dataset=recs, processing_class=tok, peft_config=peft)
    tr.train()
    return tr, [h['loss'] for h in tr.state.log_history if 'loss' in h]

@pytest.mark.parametrize('every', [1, 2])
def test_gradient_checkpointing_trains_identically(tmp_path, every):
    "APOTrainer with gradient checkpointing (all layers, or every 2nd: block attention replayed) gives the same run."
    _, tok = tiny_student('text')
    recs = _recs(False)[:6]
    runs = {gc: _train(tmp_path/str(gc), recs, tok, activation_checkpointing=gc,
                       activation_checkpointing_kwargs={'every_n_layers': every}) for gc in (False, True)}
    layers = [m for m in runs[True][0].model.modules() if hasattr(m, 'gradient_checkpointing')
              and type(m).__name__.endswith('DecoderLayer')]
    eq_(sum(m.gradient_checkpointing for m in layers), len(layers) // every)
    for a, b in zip(runs[False][1], runs[True][1]): torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    wa = {n: p for n, p in runs[False][0].model.named_parameters() if p.requires_grad}
    for n, p in runs[True][0].model.named_parameters():
        if p.requires_grad: torch.testing.assert_close(p, wa[n], rtol=1e-5, atol=1e-6)
    assert max(float(p.detach().abs().max()) for n, p in wa.items() if 'lora_B' in n) > 0

def test_hardest_teachers(tmp_path):
    "m = K is the full loss; m < K trains on the consensus and the m highest-reward teachers, a lower bound of PL."
    _, tok = tiny_student('text')
    recs = _recs(False)[:6]
    full, l_full = _train(tmp_path/'a', recs, tok)
    _, l_all = _train(tmp_path/'b', recs, tok, hardest_teachers=6)
    for a, b in zip(l_full, l_all): torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
    _, l_two = _train(tmp_path/'c', recs, tok, hardest_teachers=2)
    assert l_two[0] <= l_full[0] + 1e-6 and l_two[0] < l_full[0] - 0.1   # same start, fewer terms in the sum
    ev = full.evaluate(full.train_dataset)
    assert 'eval_loss' in ev
