"""Shared test helpers: run entry scripts and launchers in subprocesses."""
import os
import subprocess
import sys
from typing import Dict, Optional, Sequence

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY_CONFIG = os.path.join(ROOT, "tests", "tiny_config.yaml")


def subprocess_env(extra: Optional[Dict[str, str]] = None) -> Dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = ROOT + os.pathsep + env.get("PYTHONPATH", "")
    env.setdefault("GLOG_v", "3")           # MindSpore: errors only
    env["PYTHON"] = sys.executable          # launchers use the test interpreter
    env.update(extra or {})
    return env


def run_script(script: str, args: Sequence[str], cwd: Optional[str] = None, timeout: int = 600,
               env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs ``python <script> args`` (a top-level entry script) and captures its output."""
    return subprocess.run([sys.executable, os.path.join(ROOT, script), *args], cwd=cwd or ROOT,
                          env=subprocess_env(env), capture_output=True, text=True, timeout=timeout)


def run_launcher(script: str, args: Sequence[str], cwd: str, timeout: int = 600,
                 env: Optional[Dict[str, str]] = None) -> subprocess.CompletedProcess:
    """Runs ``bash scripts/<script> args`` in the foreground."""
    extra = {"FOREGROUND": "1", **(env or {})}
    return subprocess.run(["bash", os.path.join(ROOT, "scripts", script), *args], cwd=cwd,
                          env=subprocess_env(extra), capture_output=True, text=True, timeout=timeout)


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 now."""
    import socket  # pylint: disable=import-outside-toplevel
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_msrun(script: str, args: Sequence[str], log_dir: str, port: int, worker_num: int,
                local_worker_num: Optional[int] = None, node_rank: int = 0, cwd: Optional[str] = None
                ) -> subprocess.Popen:
    """Starts ``msrun`` for one server (``node_rank``) of a job on 127.0.0.1; ``script`` relative to ROOT."""
    msrun = os.path.join(os.path.dirname(sys.executable), "msrun")
    env = subprocess_env({"PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")})
    command = [msrun, f"--worker_num={worker_num}", f"--local_worker_num={local_worker_num or worker_num}",
               "--master_addr=127.0.0.1", f"--master_port={port}", f"--node_rank={node_rank}",
               f"--log_dir={log_dir}", "--join=True", os.path.join(ROOT, script), *args]
    return subprocess.Popen(command, cwd=cwd or ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
