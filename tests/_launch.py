"""Launching a test script on two gloo processes with `accelerate launch` (DESIGN.md §6), shared by the DDP tests.

torch's elastic launcher starts each rank in a session of its own, so killing the launcher's process group does not
reach them, and a rank that lingers at exit would hold a pipe open forever. So the ranks write to files, we wait for
the launcher alone, and afterwards kill any rank still alive, found by a marker in its environment."""
import os, signal, socket, subprocess, sys, tempfile, uuid
from pathlib import Path

ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def _kill_marked(marker: str):
    "SIGKILL every process whose environment carries `marker` (the ranks of one launch)."
    for pid in filter(str.isdigit, os.listdir('/proc')):
        try: env = Path(f'/proc/{pid}/environ').read_bytes()
        except OSError: continue
        if marker.encode() in env and int(pid) != os.getpid():
            try: os.kill(int(pid), signal.SIGKILL)
            except OSError: pass

def run_two_processes(script, *args, timeout=300) -> tuple[int, str, str]:
    "Run `script args` as 2 CPU ranks; return the launcher's exit code and output. No rank outlives the call."
    marker = f'APO_KIT_LAUNCH={uuid.uuid4().hex}'
    cmd = [str(Path(sys.executable).parent/'accelerate'), 'launch', '--multi_gpu', '--num_processes', '2',
           '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no',
           '--main_process_port', str(free_port()), str(script), *map(str, args)]
    env = {**ENV, 'APO_KIT_LAUNCH': marker.split('=')[1]}
    with tempfile.TemporaryFile('w+') as out, tempfile.TemporaryFile('w+') as err:
        p = subprocess.Popen(cmd, env=env, stdout=out, stderr=err, text=True, start_new_session=True)
        try: rc = p.wait(timeout=timeout)
        except BaseException:
            os.killpg(p.pid, signal.SIGKILL); p.wait(); raise
        finally: _kill_marked(marker)
        out.seek(0); err.seek(0)
        return rc, out.read(), err.read()
