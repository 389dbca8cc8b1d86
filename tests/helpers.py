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
