"""A small OpenAI-compatible chat completions server on 127.0.0.1 for tests and benchmarks, with fault injection.

It is a real HTTP/1.1 server (asyncio streams, keep-alive), not a mock of the client: `collect` talks to it over TCP.
Alone it answers every chat completion at once (one word per requested token up to a few, a refusal for
`model='refuser'`). With `upstream=URL` it is a proxy that forwards each request there. Either way it can fail
requests on purpose: `schedule` lists what the n-th request gets, or `rates` gives each fault's probability
(seeded). Faults: '429' (with Retry-After), '500', 'drop' (connection closed without an answer), 'slow' (answer
after `slow_s` seconds, longer than the client's timeout), 'lag' (answer after `lag_s`, within it), or any other
status code as a string. `counts` says how many of each were served.

    python tests/_openai_toy.py [--port 0] [--lag 0.05]     # run alone: prints its URL, serves until killed
"""
from __future__ import annotations
import asyncio, json, random, sys, threading, time
from collections import Counter

REFUSAL = "As an AI, I cannot interpret medical images. Please consult a radiologist."
WORDS = "Findings: the heart size is normal and there is no pleural effusion or pneumothorax. Impression: normal".split()


def completion(req:dict) -> dict:
    "The toy answer to one chat completion request."
    n = int(req.get('max_tokens') or 16)
    text = REFUSAL if req.get('model') == 'refuser' else ' '.join(WORDS[:n])
    done = req.get('model') == 'refuser' or n >= len(WORDS)
    return {'id': 'toy', 'object': 'chat.completion', 'model': req.get('model'),
            'choices': [{'index': 0, 'message': {'role': 'assistant', 'content': text},
                         'finish_reason': 'stop' if done else 'length'}],
            'usage': {'prompt_tokens': len(json.dumps(req.get('messages'))) // 4,
                      'completion_tokens': len(text.split())}}


class ToyServer:
    "An OpenAI-compatible server (or fault-injecting proxy) on 127.0.0.1 in a background thread: `with ToyServer() as s`."
    def __init__(self, upstream:str|None=None, schedule:list|None=None, rates:dict|None=None, seed:int=0,
                 retry_after:str='1', slow_s:float=2.0, lag_s:float=0.05, port:int=0, keep_bodies:bool=False):
        self.upstream, self.schedule, self.rates = upstream, list(schedule or []), dict(rates or {})
        self.rng, self.retry_after, self.slow_s, self.lag_s = random.Random(seed), retry_after, slow_s, lag_s
        self.port, self.keep_bodies, self.counts, self.bodies, self.headers, self.n = port, keep_bodies, Counter(), [], [], 0
        self.inflight = self.max_inflight = 0            # requests being answered now, and the most at once
        self.times = []                                  # (arrival time, fault) of every request

    def _fault(self) -> str:
        i, self.n = self.n, self.n + 1
        if i < len(self.schedule): return self.schedule[i]
        x = self.rng.random()
        for kind, p in self.rates.items():
            if x < p: return kind
            x -= p
        return 'ok'

    async def _answer(self, body:bytes, req:dict) -> tuple[int, bytes]:
        if self.upstream is None: return 200, json.dumps(completion(req)).encode()
        r = await self.client.post(self.upstream.rstrip('/') + '/chat/completions', content=body,
                                   headers={'Content-Type': 'application/json'})
        return r.status_code, r.content

    async def _handle(self, reader, writer):
        self.tasks.add(asyncio.current_task())
        try:
            while True:
                head = await reader.readuntil(b'\r\n\r\n')
                lines = head.decode('latin-1').split('\r\n')
                hdrs = {k.strip().lower(): v.strip() for k, _, v in (l.partition(':') for l in lines[1:] if l)}
                body = await reader.readexactly(int(hdrs.get('content-length', 0)))
                path = lines[0].split(' ')[1]
                if not path.endswith('/chat/completions'): await self._send(writer, 404, b'{"error":"not found"}'); continue
                req = json.loads(body)
                if self.keep_bodies: self.bodies.append(req); self.headers.append(hdrs)
                kind = self._fault()
                self.counts[kind] += 1
                self.times.append((time.monotonic(), kind))
                if kind == 'drop': break
                self.inflight += 1; self.max_inflight = max(self.max_inflight, self.inflight)
                try:
                    if kind in ('slow', 'lag'): await asyncio.sleep(self.slow_s if kind == 'slow' else self.lag_s)
                    if kind in ('ok', 'slow', 'lag'): status, out = await self._answer(body, req)
                    else: status, out = int(kind), json.dumps({'error': {'message': f'injected {kind}'}}).encode()
                finally: self.inflight -= 1
                extra = {'Retry-After': self.retry_after} if kind == '429' else {}
                await self._send(writer, status, out, extra)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError): pass
        finally:
            writer.close()
            self.tasks.discard(asyncio.current_task())

    async def _send(self, writer, status, out, extra=None):
        hs = {'Content-Type': 'application/json', 'Content-Length': str(len(out)), **(extra or {})}
        writer.write((f'HTTP/1.1 {status} X\r\n' + ''.join(f'{k}: {v}\r\n' for k, v in hs.items()) + '\r\n').encode() + out)
        await writer.drain()

    async def _serve(self, started):
        import httpx
        self.client = httpx.AsyncClient(timeout=600, limits=httpx.Limits(max_connections=64))
        self.server = await asyncio.start_server(self._handle, '127.0.0.1', self.port, backlog=256)
        self.port = self.server.sockets[0].getsockname()[1]
        self.stopped, self.tasks = asyncio.Event(), set()
        started.set()
        await self.stopped.wait()
        self.server.close()
        for t in list(self.tasks): t.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await self.client.aclose()

    @property
    def url(self) -> str: return f'http://127.0.0.1:{self.port}/v1'

    def __enter__(self):
        started = threading.Event()
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(started),), daemon=True)
        self.thread.start()
        if not started.wait(10): raise RuntimeError('toy server did not start')
        return self

    def __exit__(self, *exc):
        self.loop.call_soon_threadsafe(self.stopped.set)
        self.thread.join(10)


if __name__ == '__main__':
    import argparse
    ap = argparse.ArgumentParser()
    ap.add_argument('--port', type=int, default=0)
    ap.add_argument('--lag', type=float, default=0.0, help='every answer waits this long (s)')
    a = ap.parse_args()
    with ToyServer(port=a.port, lag_s=a.lag, rates={'lag': 1.0} if a.lag else None) as s:
        print(s.url, flush=True)
        threading.Event().wait()
