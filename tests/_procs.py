"""Process helpers the tests share."""

from __future__ import annotations

import subprocess


def stop_process(proc: subprocess.Popen, timeout: float = 10.0) -> int:
    """Stop ``proc``: SIGTERM, wait up to ``timeout`` seconds, then SIGKILL; its exit code (it is reaped)."""
    proc.terminate()  # nothing when it has already exited
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()
