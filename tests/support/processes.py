"""Start the real CLI and server as subprocesses on loopback, with a private environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
CLI = [sys.executable, "-m", "mangaassist"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def service_env(data_dir: Path, **overrides: str) -> dict[str, str]:
    """The parent's environment minus any MANGAASSIST_ setting, plus the given ones."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MANGAASSIST_")}
    env.update({
        "MANGAASSIST_DATA_DIR": str(data_dir),
        "MANGAASSIST_TODAY": "2026-11-20",
        "LITELLM_LOCAL_MODEL_COST_MAP": "True",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(overrides)
    return env


def run_cli(args: list[str], env: dict[str, str], stdin: str | None = None, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(CLI + args, input=stdin, capture_output=True, text=True, env=env, cwd=REPO, timeout=timeout)


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """`mangaassist serve` on a free loopback port; yields its base URL and stops it after."""
    port = free_port()
    proc = subprocess.Popen(
        CLI + ["serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited early:\n{proc.stdout.read() if proc.stdout else ''}")
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start within 60 s")
            time.sleep(0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
