"""Start the real CLI and server as subprocesses on loopback, with a private environment."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
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


def wait_http(
    url: str, proc: subprocess.Popen[bytes], what: str, timeout_s: float = 90, log: Path | None = None
) -> None:
    """Poll `url` until it answers 200; fail early if `proc` exits (with the end of its `log`)."""
    deadline = time.monotonic() + timeout_s
    while True:
        if proc.poll() is not None:
            tail = log.read_text(encoding="utf-8", errors="replace")[-4000:] if log is not None else ""
            raise RuntimeError(f"{what} exited early (code {proc.returncode})" + (f":\n{tail}" if tail else ""))
        # Loopback only: a proxy from the environment must not answer for the service.
        with suppress(httpx.TransportError):
            if httpx.get(url, timeout=1, trust_env=False).status_code == 200:
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} did not start within {timeout_s:.0f} s")
        time.sleep(0.2)


@contextmanager
def spawned(args: list[str], env: dict[str, str], log: Path, cwd: Path = REPO) -> Iterator[subprocess.Popen[bytes]]:
    """A subprocess writing its output to `log`, terminated (killed if it lingers) on exit.

    A file, not a pipe: nobody reads a pipe while the service runs, and a full one would stall
    the service's logging, and with it the service.
    """
    with log.open("wb") as out:
        proc = subprocess.Popen(args, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        try:
            yield proc
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


@contextmanager
def serving(
    env: dict[str, str], log: Path, timeout_s: float = 60
) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """`mangaassist serve` on a free loopback port, ready (`/healthz`); yields its base URL and process."""
    port = free_port()
    with spawned(CLI + ["serve", "--host", "127.0.0.1", "--port", str(port)], env, log) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/healthz", proc, "mangaassist serve", timeout_s, log)
        yield base, proc


@contextmanager
def running_server(env: dict[str, str]) -> Iterator[str]:
    """`mangaassist serve` on a free loopback port; yields its base URL and stops it after."""
    with tempfile.TemporaryDirectory(prefix="mangaassist-serve-") as tmp:
        with serving(env, Path(tmp) / "server.log") as (base, _):
            yield base
