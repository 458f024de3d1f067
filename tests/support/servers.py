"""Throwaway PostgreSQL and Redis servers on free loopback ports, for integration tests.

`make test` installs the Debian packages (`make system-deps`); a missing binary is an error here,
never a skip, so CI cannot pass without exercising the shared-state paths.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.support.processes import free_port

PG_BIN = Path("/usr/lib/postgresql/15/bin")
REDIS_SERVER = "/usr/bin/redis-server"


def _require(path: Path | str) -> None:
    if not Path(path).exists():
        raise RuntimeError(f"{path} is missing: run `make system-deps` (Debian postgresql, redis-server)")


def _as_postgres(args: list[str]) -> list[str]:
    # initdb refuses to run as root; elsewhere the current user owns the cluster.
    return ["runuser", "-u", "postgres", "--", *args] if os.geteuid() == 0 else args


@contextmanager
def postgres_server() -> Iterator[str]:
    """A fresh PostgreSQL cluster with trust auth; yields its DSN and removes it afterwards."""
    _require(PG_BIN / "initdb")
    root = Path(tempfile.mkdtemp(prefix="ma-pg-"))
    data = root / "data"
    data.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(data, "postgres")
    port = free_port()
    run = lambda args: subprocess.run(_as_postgres(args), check=True, capture_output=True, text=True)  # noqa: E731
    run([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust", "--locale=C.UTF-8"])
    run([
        str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(data / "log"), "-w", "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off -c max_connections=200",
        "start",
    ])
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            _as_postgres([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]),
            capture_output=True,
        )
        shutil.rmtree(root, ignore_errors=True)


@contextmanager
def redis_server() -> Iterator[str]:
    """A fresh Redis without persistence; yields its URL and stops it afterwards."""
    _require(REDIS_SERVER)
    root = Path(tempfile.mkdtemp(prefix="ma-redis-"))
    port = free_port()
    proc = subprocess.Popen(
        [REDIS_SERVER, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no",
         "--dir", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + 10
        while True:
            ping = subprocess.run(
                ["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"], capture_output=True, text=True
            )
            if ping.stdout.strip() == "PONG":
                break
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("redis-server did not start")
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
        shutil.rmtree(root, ignore_errors=True)
