"""Launching a test script on two gloo processes with `accelerate launch` (DESIGN.md §6), shared by the DDP tests."""
import os, signal, socket, subprocess, sys
from pathlib import Path

ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'HF_HUB_OFFLINE': '1', 'TOKENIZERS_PARALLELISM': 'false'}

def free_port() -> int:
    with socket.socket() as s: s.bind(('127.0.0.1', 0)); return s.getsockname()[1]

def run_two_processes(script, *args, timeout=600) -> tuple[int, str, str]:
    "Run `script args` as 2 CPU ranks; on timeout or interrupt kill the launcher *and* its ranks (no orphans in gloo)."
    cmd = [str(Path(sys.executable).parent/'accelerate'), 'launch', '--multi_gpu', '--num_processes', '2',
           '--num_machines', '1', '--mixed_precision', 'no', '--dynamo_backend', 'no',
           '--main_process_port', str(free_port()), str(script), *map(str, args)]
    p = subprocess.Popen(cmd, env=ENV, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try: out, err = p.communicate(timeout=timeout)
    except BaseException:
        os.killpg(p.pid, signal.SIGKILL); p.communicate(); raise
    return p.returncode, out, err
