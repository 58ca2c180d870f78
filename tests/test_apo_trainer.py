"""APOTrainer on the tiny students: APO raises the consensus's margin over every teacher (text and VLM), the reference
is what it should be, and resuming from a checkpoint matches an uninterrupted run."""
import logging, math, os
os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('HF_HUB_OFFLINE', '1')
from pathlib import Path
import pytest, torch
from fastcore.test import test_eq as eq_, test_close as close_

from apo_kit.data import load_studies
from apo_kit.models import tiny_student
from apo_kit.apo import APOConfig, APOTrainer, stand_in_records, completion_logps

logging.getLogger('transformers').setLevel(logging.ERROR)
ROOT = Path(__file__).resolve().parent.parent
LORA = dict(r=8, lora_alpha=32, lora_dropout=0.0)

def _recs(vlm):
    return stand_in_records(load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl'), vlm=vlm)

def _cfg(d, **kw):
    base = dict(learning_rate=2e-3, max_steps=10, per_device_train_batch_size=2, max_length=320, max_completion_length=48,
                logging_steps=1, use_cpu=True, save_strategy='no', seed=0, disable_tqdm=True)
    return APOConfig(str(d), **{**base, **kw})

def _margins(tr):
    return [h['rewards/margins_worst'] for h in tr.state.log_history if 'rewards/margins_worst' in h]

@pytest.mark.parametrize('kind', ['text', 'vlm'])
def test_short_run_raises_margin_over_every_teacher(tmp_path, kind):
    torch.manual_seed(0)
    model, proc = tiny_student(kind)
    recs = _recs(kind == 'vlm')
    tr = APOTrainer(model, _cfg(tmp_path, max_steps=15), train_dataset=recs, processing_class=proc, peft_config=LORA)
    eq_(len(tr.train_dataset['ref_logps'][0]), 7)                         # (1+K) reference log-probs, images included
    eq_(tr._share_prompt, True)                                            # prompt once per study: text and VLM
    tr.train()
    m = _margins(tr)
    close_(m[0], 0.0, eps=1e-4)                                            # fresh adapter: policy == reference
    assert sum(m[-3:]) / 3 > 0.1, m                                       # consensus above every teacher after training
    # evaluated on the whole set after training: the consensus beats every teacher in most studies
    ev = tr.evaluate(tr.train_dataset)
    assert ev['eval_rewards/margins_worst'] > 0 and ev['eval_rewards/accuracies'] >= 0.7, ev
    assert any(k.startswith('eval_rewards/') and 'MAIRA-2' in k for k in ev)

def test_vlm_shared_vision_equals_repeated_pixels():
    "Running the vision tower once per study gives the same log-probs and gradients as repeating the pixels per row."
    torch.manual_seed(0)
    model, proc = tiny_student('vlm')
    from apo_kit.apo import APOCollator
    b = APOCollator(proc, max_length=320, max_completion_length=32)(_recs(True)[:2])
    a, _ = completion_logps(model, b, share_vision=True); a.sum().backward()
    ga = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    model.zero_grad()
    c, _ = completion_logps(model, b, share_vision=False); c.sum().backward()
    torch.testing.assert_close(a, c, atol=1e-5, rtol=1e-5)
    assert any('visual' in n for n in ga)
    for n, p in model.named_parameters():
        if p.grad is not None: torch.testing.assert_close(ga[n], p.grad, atol=1e-4, rtol=1e-4)

@pytest.mark.parametrize('precompute', [True, False])
def test_reference_is_the_model_with_the_adapter_off(tmp_path, precompute):
    "Reference log-probs, precomputed or on the fly, are the base model's; full fine-tuning keeps the starting model."
    torch.manual_seed(0)
    model, tok = tiny_student('text')
    recs = _recs(False)[:4]
    from apo_kit.apo import APOCollator
    batch = APOCollator(tok, max_length=320, max_completion_length=48)(recs)
    with torch.no_grad(): want, _ = completion_logps(model, batch)
    for peft in (LORA, None):
        tr = APOTrainer(model if peft is None else tiny_student('text')[0], _cfg(tmp_path, precompute_ref_logps=precompute),
                        train_dataset=recs, processing_class=tok, peft_config=peft)
        with torch.no_grad():                                                    # move the policy: the reference must not move
            for p in tr.model.parameters():
                if p.requires_grad: p.add_(0.05)
        got = torch.tensor(tr.train_dataset['ref_logps']) if precompute else tr.ref_logps(batch)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
        with torch.no_grad(): pol, _ = completion_logps(tr.model, batch)
        assert (pol - want).abs().max() > 1e-2

def test_resume_matches_uninterrupted_run(tmp_path):
    "Stop after 3 of 6 steps, resume from the checkpoint: the same weights and losses as 6 steps in one go."
    def run(out, resume=None, steps=6):
        torch.manual_seed(0)
        model, tok = tiny_student('text')
        tr = APOTrainer(model, _cfg(out, max_steps=steps, save_strategy='steps', save_steps=3, lr_scheduler_type='linear'),
                        train_dataset=_recs(False), processing_class=tok, peft_config=LORA)
        tr.train(resume_from_checkpoint=resume)
        w = {n: p.detach().clone() for n, p in tr.model.named_parameters() if p.requires_grad}
        return w, {h['step']: h['loss'] for h in tr.state.log_history if 'loss' in h}
    full_w, full_loss = run(tmp_path/'a')
    assert (tmp_path/'a'/'checkpoint-3').is_dir()
    res_w, res_loss = run(tmp_path/'a', resume=str(tmp_path/'a'/'checkpoint-3'))
    for s in (4, 5, 6): close_(res_loss[s], full_loss[s], eps=1e-5)
    eq_(sorted(full_w), sorted(res_w))
    for n in full_w: torch.testing.assert_close(res_w[n], full_w[n], atol=1e-6, rtol=1e-5)
    assert max(full_w[n].abs().max() for n in full_w if 'lora_B' in n) > 0      # LoRA's B starts at zero: it trained

def test_share_prompt_trains_like_separate_rows(tmp_path):
    "Computing each prompt once (one packed row per study) gives the same training run as 1+K separate rows."
    hist = {}
    for share in (False, True):
        torch.manual_seed(0)
        model, tok = tiny_student('text')
        tr = APOTrainer(model, _cfg(tmp_path/str(share), max_steps=4, share_prompt=share), train_dataset=_recs(False),
                        processing_class=tok, peft_config=LORA)
        tr.train()
        hist[share] = [h['loss'] for h in tr.state.log_history if 'loss' in h]
        torch.testing.assert_close(torch.tensor(tr.train_dataset['ref_logps'][0]),
                                   torch.tensor(hist.setdefault('ref', tr.train_dataset['ref_logps'][0])), atol=1e-3, rtol=1e-5)
    for a, b in zip(hist[False], hist[True]): close_(a, b, eps=1e-4)
    with pytest.raises(NotImplementedError, match='text students'):         # the dense packed mask: text only
        model, proc = tiny_student('vlm')
        from apo_kit.apo import APOCollator
        completion_logps(model, APOCollator(proc, max_length=320)(_recs(True)[:1]), share_prompt=True, attention='dense')

def test_reference_of_an_already_trained_adapter_is_that_adapter(tmp_path):
    "A PEFT student whose adapter is trained (say, the SPD adapter): the reference keeps it on, as the paper's SPD model."
    from peft import get_peft_model
    from apo_kit.models import lora_config
    from apo_kit.apo import APOCollator
    torch.manual_seed(0)
    model, tok = tiny_student('text')
    model = get_peft_model(model, lora_config(model, LORA))
    with torch.no_grad():
        for n, p in model.named_parameters():
            if 'lora_B' in n: p.normal_(0, 0.05)                            # a trained adapter: B is not zero
    recs = _recs(False)[:3]
    batch = APOCollator(tok, max_length=320, max_completion_length=48)(recs)
    with torch.no_grad():
        want, _ = completion_logps(model, batch)
        with model.disable_adapter(): base, _ = completion_logps(model, batch)
    assert (want - base).abs().max() > 1e-2
    for precompute in (True, False):
        tr = APOTrainer(model, _cfg(tmp_path, precompute_ref_logps=precompute), train_dataset=recs, processing_class=tok)
        with torch.no_grad():
            for n, p in tr.model.named_parameters():
                if 'lora_B' in n: p.add_(0.05)                              # training moves the adapter
        got = torch.tensor(tr.train_dataset['ref_logps']) if precompute else tr.ref_logps(batch)
        torch.testing.assert_close(got, want, atol=1e-4, rtol=1e-5)
        with torch.no_grad():
            for n, p in tr.model.named_parameters():
                if 'lora_B' in n: p.sub_(0.05)

def test_takes_stage_two_preference_records(tmp_path):
    "The data set stage 2 writes (`consensus.preference_records`) trains as is; K = 7 teachers here."
    from apo_kit.apo import preference_records
    studies = load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl')
    stand_in = {s.study_id: s.trajectories[0].text for s in studies}          # stand-in consensus texts
    ds = preference_records(studies, stand_in)
    model, tok = tiny_student('text')
    tr = APOTrainer(model, _cfg(tmp_path, max_steps=2), train_dataset=ds, processing_class=tok, peft_config=LORA)
    eq_(len(tr.train_dataset['ref_logps'][0]), 8)
    tr.train()
    assert all(math.isfinite(h['loss']) for h in tr.state.log_history if 'loss' in h)
