"""The completion head (`CompletionLogProb`: log-probs of completion tokens only, d/dh formed in the forward) against
TRL's fused kernel and against full logits: values and gradients, text and VLM, every attention layout."""
import logging, os
os.environ.setdefault('OMP_NUM_THREADS', '1'); os.environ.setdefault('HF_HUB_OFFLINE', '1')
import pytest, torch
from apo_kit.models import tiny_student
from apo_kit.apo import APOCollator, CompletionLogProb, HEAD_CHUNK, completion_logps
from test_apo_blocks import _close, _perturbed_lora, _recs, _run, _same

logging.getLogger('transformers').setLevel(logging.ERROR)

def test_head_equals_full_logits_and_trl_kernel():
    from trl.kernels import ChunkedLogProbFunction
    torch.manual_seed(0)
    M, H, V = 2 * HEAD_CHUNK + 7, 32, 300                          # several tiles, the last one partial
    h, W, b = torch.randn(M, H, requires_grad=True), torch.randn(V, H), torch.randn(V)
    y, g = torch.randint(0, V, (M,)), torch.randn(M)
    ours = CompletionLogProb.apply(h, W, b, y)
    (gh,) = torch.autograd.grad((ours * g).sum(), h)
    full = torch.log_softmax(h @ W.t() + b, -1)[torch.arange(M), y]
    (gf,) = torch.autograd.grad((full * g).sum(), h)
    trl = ChunkedLogProbFunction.apply(h, W, b, y, 1.0, 4096, None, 1.0, ('log_probs',))[0]
    (gt,) = torch.autograd.grad((trl * g).sum(), h)
    for ref, gref in ((full, gf), (trl, gt)): _close(ours, ref); _close(gh, gref)
    with torch.no_grad(): _close(CompletionLogProb.apply(h, W, b, y), full)    # no gradient: no d/dh kept

@pytest.mark.parametrize('vlm,kw', [(False, {}), (False, dict(share_prompt=True, attention='dense')),
                                    (False, dict(share_prompt=True)), (True, dict(share_prompt=True))])
def test_completion_head_equals_trl_head_in_the_model(vlm, kw, monkeypatch):
    "A LoRA student: our head (frozen LM head) and TRL's (forced by a trainable head) give the same values and grads."
    torch.manual_seed(0)
    model, proc = tiny_student('vlm' if vlm else 'text')
    model = _perturbed_lora(model)
    b = APOCollator(proc, max_length=None, max_completion_length=30)(_recs(vlm)[:2])
    head = model.get_base_model().get_output_embeddings().weight
    calls, apply = [], CompletionLogProb.apply
    monkeypatch.setattr(CompletionLogProb, 'apply', lambda *a: calls.append(1) or apply(*a))
    ours = _run(model, b, **kw)                                       # a frozen head: CompletionLogProb
    assert calls
    head.requires_grad_(True)                                         # TRL's fused kernel handles a trainable head
    calls.clear()
    trl = _run(model, b, **kw)
    assert not calls
    head.requires_grad_(False)
    trl[1].pop([n for n in trl[1] if n not in ours[1]][0])            # the head's own gradient: TRL's path only
    _same(ours, trl)

def test_fused_lora_dropout_is_peft_dropout_with_the_same_mask(monkeypatch):
    "A LoRA student with dropout 0.3: fused (DropoutLinear) and PEFT's nn.Dropout given the same masks agree."
    import apo_kit.apo as apo
    from peft import get_peft_model
    from apo_kit.models import lora_config
    torch.manual_seed(0)
    model, tok = tiny_student('text')
    model = get_peft_model(model, lora_config(model, dict(r=8, lora_alpha=32, lora_dropout=0.3)))
    b = APOCollator(tok, max_length=None, max_completion_length=30)(_recs(False)[:2])
    masks = []                                   # PEFT's run: record each nn.Dropout call's mask, in call order
    def record(self, x):
        keep = torch.rand_like(x) >= self.p
        masks.append(~keep)
        return x * keep / (1 - self.p)
    monkeypatch.setattr(torch.nn.Dropout, 'forward', record)
    peft_run = _run(model.train(), b, share_prompt=True)
    monkeypatch.undo()
    assert apo.fuse_lora_dropout(model) == len(masks) > 0
    replay = iter(masks)                         # the fused run: the same masks, in the same order
    monkeypatch.setattr(apo, 'dropped_positions', lambda n, p, device=None: next(replay).flatten().nonzero()[:, 0])
    _same(_run(model, b, share_prompt=True), peft_run)

def test_fused_lora_dropout_under_checkpointing(tmp_path):
    "With dropout on, checkpointing replays the fused dropout's masks: the same 3-step run."
    from test_apo_blocks import _train
    _, tok = tiny_student('text')
    recs = _recs(False)[:6]
    lora = dict(r=8, lora_alpha=32, lora_dropout=0.1)
    runs = [_train(tmp_path/str(gc), recs, tok, activation_checkpointing=gc, peft=lora) for gc in (False, True)]
    for a, b in zip(runs[0][1], runs[1][1]): torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)

def test_activation_arena_trains_identically(tmp_path, monkeypatch):
    "APOTrainer with activation_arena=True (saved tensors copied into reused slabs) gives the same 3-step run."
    import apo_kit.apo as apo
    from test_apo_blocks import _train
    _, tok = tiny_student('text')
    recs = _recs(False)[:6]
    lora = dict(r=8, lora_alpha=32, lora_dropout=0.1)
    packed, pack = [], apo.ActivationArena.pack
    monkeypatch.setattr(apo.ActivationArena, 'pack', lambda self, t: packed.append(pack(self, t)) or packed[-1])
    runs = {}
    for on in (False, True):
        runs[on] = _train(tmp_path/str(on), recs, tok, activation_arena=on, peft=lora)
        assert any(isinstance(x, tuple) for x in packed) == on      # copies into the arena only when asked
    assert runs[True][0]._arena is None                         # let go when training ended
    assert runs[False][1] == runs[True][1]                      # the same losses, bit for bit
    for (n, a), (_, b) in zip(runs[False][0].model.named_parameters(), runs[True][0].model.named_parameters()):
        assert torch.equal(a, b), n
