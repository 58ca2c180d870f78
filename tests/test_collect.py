"""`collect` against real HTTP servers on 127.0.0.1 (the toy server of `_openai_toy.py`, alone or as a fault-injecting
proxy): every pair answered exactly once whatever the faults, retry counts equal to the faults served, Retry-After
honoured, bounded concurrency, client-side rate limits, a failing teacher not stopping the others, keys never
written, remote endpoints refused, and a SIGKILLed run resumed without losing or duplicating answers."""
import json, os, signal, socket, subprocess, sys, time
from collections import Counter
from dataclasses import replace
from pathlib import Path
import pytest
from fastcore.test import test_eq as eq_

from apo_kit.data import load_studies
from apo_kit.collect import (TeacherEndpoint, collect, read_answers, answers_to_studies, final_records, collect_cmd,
                             given_diagnoses, PROMPT_VERSION)

sys.path.insert(0, str(Path(__file__).parent))
from _openai_toy import ToyServer, REFUSAL

ROOT = Path(__file__).resolve().parent.parent
SIM = ROOT/'data_samples'/'simulated_cxrmax.jsonl'           # 150 studies with labels, no images
NIH = ROOT/'data_samples'/'nih_multimodel.jsonl'             # 10 studies with images
CLI = [sys.executable, '-c', 'import sys; from apo_kit.cli import main; sys.exit(main())']

@pytest.fixture(scope='module')
def sim(): return load_studies(SIM)

def _free_port():
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _answers_per_pair(path):
    return Counter((r['study_id'], r['teacher']) for r in read_answers(path) if r['text'] is not None)


def test_faults_every_pair_once_and_retries_match(sim, tmp_path):
    "429 (Retry-After), 500, dropped connections and answers slower than the timeout, at known rates through a proxy."
    rates = {'429': 0.06, '500': 0.1, 'drop': 0.1, 'slow': 0.06, 'lag': 0.1}
    with ToyServer() as up, ToyServer(upstream=up.url, rates=rates, seed=1, retry_after='0.2', slow_s=2.0,
                                      lag_s=0.05) as proxy:
        ts = [TeacherEndpoint(f't{i}', proxy.url, 'toy', temperature=0.3 * i, max_tokens=8, timeout=1.0,
                              backoff=0.01, max_backoff=0.05, max_retries=12, max_concurrency=4) for i in range(3)]
        summary = collect(sim[:40], ts, tmp_path/'a.jsonl', progress=False)
        served = Counter(proxy.counts)
    recs = read_answers(tmp_path/'a.jsonl')
    eq_(len(recs), 120)                                           # one record per pair: none failed, none twice
    eq_(set(_answers_per_pair(tmp_path/'a.jsonl').values()), {1})
    retried = Counter(k for r in recs for k in r['retries'])
    eq_(dict(retried), {'429': served['429'], '500': served['500'], 'disconnect': served['drop'],
                        'timeout': served['slow']})
    assert min(served[k] for k in ('429', '500', 'drop', 'slow')) >= 3, served      # every fault really happened
    eq_(sum(served.values()), 120 + sum(retried.values()))        # every request is an answer or a counted retry
    eq_(sum(r['attempts'] for r in recs), sum(served.values()))
    eq_([summary[t.name]['answered'] for t in ts], [40] * 3)
    eq_(sum(c['retries'] for c in summary.values()), sum(retried.values()))


def test_retry_after_honoured_by_the_whole_teacher(sim, tmp_path):
    "After a 429 with Retry-After: 1, no worker of that teacher sends anything for a second (backoff alone: 10 ms)."
    with ToyServer(schedule=['429', 'lag'], retry_after='1', lag_s=0.4) as srv:
        t = TeacherEndpoint('t', srv.url, 'toy', backoff=0.01, max_concurrency=2)
        collect(sim[:3], [t], tmp_path/'a.jsonl', progress=False)
        times = srv.times
    eq_([k for _, k in times], ['429', 'lag', 'ok', 'ok'])
    t429 = times[0][0]
    assert all(t - t429 >= 0.95 for t, k in times[2:]), times     # the retry, and the other worker's next study


def test_bounded_concurrency_and_rate_limit(sim, tmp_path):
    with ToyServer(rates={'lag': 1.0}, lag_s=0.1) as srv:
        t = TeacherEndpoint('t', srv.url, 'toy', max_concurrency=3)
        collect(sim[:12], [t], tmp_path/'a.jsonl', progress=False)
        eq_(srv.max_inflight, 3)
    with ToyServer() as srv:                                      # 600/min = 10/s, the bucket holds 10
        t = TeacherEndpoint('t', srv.url, 'toy', max_concurrency=8, requests_per_minute=600)
        t0 = time.monotonic()
        collect(sim[:30], [t], tmp_path/'b.jsonl', progress=False)
        took = time.monotonic() - t0
        arrivals = [a for a, _ in srv.times]
    assert took >= 1.8, took                                      # (30 - 10) requests at 10/s
    eq_(len(arrivals), 30)
    with ToyServer() as srv:                                      # 30,000 tokens/min = 500/s, the bucket holds 500
        t = TeacherEndpoint('t', srv.url, 'toy', max_tokens=8, max_concurrency=8, tokens_per_minute=30_000)
        t0 = time.monotonic()
        collect(sim[:20], [t], tmp_path/'c.jsonl', progress=False)
        took = time.monotonic() - t0
    used = sum(sum(r['usage'].values()) for r in read_answers(tmp_path/'c.jsonl'))
    assert used > 1500 and took >= 0.9 * (used - 500) / 500, (used, took)
    for i in range(30):                                           # the bucket's promise, over every window
        for j in range(i, 30): assert j - i + 1 <= 10 + 10 * (arrivals[j] - arrivals[i]) + 1, (i, j)


def test_failing_teacher_does_not_stop_the_others(sim, tmp_path):
    dead = f'http://127.0.0.1:{_free_port()}/v1'                  # nobody listens there
    with ToyServer() as srv:
        ts = [TeacherEndpoint('alive', srv.url, 'toy', max_tokens=4),
              TeacherEndpoint('gone', dead, 'toy', max_retries=2, backoff=0.01)]
        s1 = collect(sim[:6], ts, tmp_path/'a.jsonl', progress=False)
        eq_((s1['alive']['answered'], s1['gone']['failed'], s1['gone']['retries']), (6, 6, 12))
        gone = [r for r in read_answers(tmp_path/'a.jsonl') if r['teacher'] == 'gone']
        eq_({(r['status'], r['attempts'], r['text']) for r in gone}, {('disconnect', 3, None)})
        assert all('ConnectError' in r['error'] for r in gone)
        with pytest.warns(UserWarning, match='6 studies left out'): eq_(answers_to_studies(sim[:6], tmp_path/'a.jsonl'), [])
        n0 = srv.counts['ok']
        s2 = collect(sim[:6], [ts[0], replace(ts[1], base_url=srv.url)], tmp_path/'a.jsonl', progress=False)
        eq_(srv.counts['ok'] - n0, 6)                             # the rerun asks only the failed teacher's pairs
    eq_((s2['gone']['answered'], s2['gone']['failed']), (6, 0))
    eq_(set(_answers_per_pair(tmp_path/'a.jsonl').values()), {1})
    studies = answers_to_studies(sim[:6], tmp_path/'a.jsonl')
    eq_([s.teachers for s in studies], [['alive', 'gone']] * 6)
    m = studies[0].trajectory('alive').meta
    eq_((m['style'], m['diagnoses_given'], m['prompt_version'], m['finish_reason']), ('rationale', True, PROMPT_VERSION, 'length'))
    eq_(m['diagnoses'], given_diagnoses(sim[0]))
    assert m['usage']['prompt_tokens'] > 0 and m['usage']['completion_tokens'] == 4 and m['latency_s'] > 0


def test_refusals_flagged_and_images_sent(tmp_path):
    nih = load_studies(NIH)
    with ToyServer(keep_bodies=True) as srv:
        ts = [TeacherEndpoint('reader', srv.url, 'toy', max_tokens=32), TeacherEndpoint('shy', srv.url, 'refuser')]
        summary = collect(nih[:3], ts, tmp_path/'a.jsonl', style='report', progress=False)
        bodies = srv.bodies
    eq_((summary['shy']['refused'], summary['reader']['refused']), (3, 0))
    parts = bodies[0]['messages'][0]['content']
    eq_([p['type'] for p in parts], ['image_url', 'text'])
    assert parts[0]['image_url']['url'].startswith('data:image/png;base64,')
    recs = final_records(read_answers(tmp_path/'a.jsonl'))
    eq_(recs[(nih[0].study_id, 'shy')]['text'], REFUSAL)
    eq_({(r['style'], r['diagnoses_given'], r['diagnoses']) for r in recs.values()}, {('report', False, None)})


def _config(tmp_path, url, key_env='COLLECT_TEST_KEY', n=None, extra=''):
    (tmp_path/'c.toml').write_text(f'''studies = "{SIM if n is None else tmp_path/'s.jsonl'}"
out = "{tmp_path/'answers.jsonl'}"
studies_out = "{tmp_path/'studies.jsonl'}"
[[teachers]]
name = "a"
base_url = "{url}"
model = "toy"
api_key_env = "{key_env}"
max_tokens = 8
max_concurrency = 2
{extra}
[[teachers]]
name = "b"
base_url = "{url}"
model = "toy"
temperature = 0.7
max_concurrency = 2
{extra}''')
    return tmp_path/'c.toml'


def _cli(args, env=None, **kw):
    return subprocess.run([*CLI, 'collect', *map(str, args)], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})}, **kw)


def test_keys_never_written_and_remote_refused(tmp_path, capsys, monkeypatch):
    key = 'sk-test-5f0c1a2b3c4d5e6f-SECRET'
    with ToyServer(keep_bodies=True, rates={'500': 0.2}) as srv:
        cfg = _config(tmp_path, srv.url, extra='backoff = 0.01')
        p = _cli([cfg], env={'COLLECT_TEST_KEY': key})
        assert p.returncode == 0, p.stderr[-2000:]
        sent = srv.headers
    assert any(h.get('authorization') == f'Bearer {key}' for h in sent)      # the key did go to the server
    outputs = [p.stdout, p.stderr] + [f.read_text() for f in tmp_path.iterdir()]
    eq_([key in o for o in outputs], [False] * len(outputs))
    eq_(len(load_studies(tmp_path/'studies.jsonl')), 150)
    capsys.readouterr()
    monkeypatch.setenv('COLLECT_TEST_KEY', '')
    eq_(collect_cmd(str(cfg)), 2)                               # all answered, but the key is checked first
    assert 'COLLECT_TEST_KEY is not set' in capsys.readouterr().err
    monkeypatch.setenv('COLLECT_TEST_KEY', key)
    remote = _config(tmp_path, 'https://api.example.com/v1')
    before = (tmp_path/'answers.jsonl').read_bytes()
    eq_(collect_cmd(str(remote)), 2)
    err = capsys.readouterr().err
    assert 'MIMIC-CXR' in err and '--allow_remote' in err
    eq_((tmp_path/'answers.jsonl').read_bytes(), before)        # nothing sent, nothing written
    eq_(collect_cmd(str(remote), dry_run=True, allow_remote=True), 0)
    out = capsys.readouterr()
    assert 'REMOTE' in out.out and 'radiographic basis' in out.out and key not in out.out + out.err


@pytest.mark.slow
def test_sigkill_then_rerun_every_pair_once(sim, tmp_path):
    "A CLI run killed mid-collection, a torn line appended, then a rerun: every pair answered exactly once."
    from apo_kit.data import save_studies
    save_studies(sim[:25], tmp_path/'s.jsonl')
    out = tmp_path/'answers.jsonl'
    with ToyServer(rates={'lag': 1.0}, lag_s=0.08) as srv:
        cfg = _config(tmp_path, srv.url, n=25)
        env = {**os.environ, 'COLLECT_TEST_KEY': 'k'}
        p = subprocess.Popen([*CLI, 'collect', str(cfg)], cwd=ROOT, env=env,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not out.exists() or out.read_bytes().count(b'\n') < 10):
            time.sleep(0.02)
        p.send_signal(signal.SIGKILL); p.wait(30)
        killed = out.read_bytes().count(b'\n')
        assert 10 <= killed < 50, killed
        asked_before = srv.counts['lag']
        with open(out, 'ab') as f: f.write(b'{"study_id": "sim000001", "teacher": "a", "te')   # a torn last line
        eq_(_cli([cfg], env={'COLLECT_TEST_KEY': 'k'}).returncode, 0)
        asked = srv.counts['lag']
    eq_(len(read_answers(out)), 50)
    eq_(set(_answers_per_pair(out).values()), {1})
    eq_(asked - asked_before, 50 - killed)                       # the rerun asked exactly the missing pairs
    assert asked_before - killed <= 4                            # lost: at most the 2 x 2 answers in flight
