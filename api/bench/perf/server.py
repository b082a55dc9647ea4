"""The API under test: uvicorn in a subprocess, pointed at the benchmark database."""

import os
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.perf.ingest import _status_mb


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    def worker_pids(self) -> list[int]:
        """uvicorn's worker processes, or the server itself when it runs with one."""
        children = Path(f"/proc/{self.process.pid}/task/{self.process.pid}/children")
        pids = [int(pid) for pid in children.read_text().split()] if children.exists() else []
        # Workers are spawned (`spawn_main`); the resource tracker is a child too.
        workers = [pid for pid in pids if b"spawn_main" in _cmdline(pid)]
        return workers or [self.process.pid]

    def peak_rss_mb(self) -> list[float]:
        return [round(_status_mb(str(pid), "VmHWM"), 1) for pid in self.worker_pids()]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.process.kill()


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def start(database_url: str, valkey_url: str, prefix: str, workers: int) -> Server:
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "VALKEY_URL": valkey_url,
        "CACHE_PREFIX": prefix,
        "RATE_LIMIT_ANONYMOUS_PER_MINUTE": "100000000",
        "LOG_LEVEL": "WARNING",
        "DATABASE_POOL_SIZE": "20",
    }
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "wump.main:create_app",
        "--factory",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    process = subprocess.Popen(command, env=env)  # noqa: S603 (our own interpreter)
    server = Server(process, port)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the API exited with {process.returncode} while starting")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health/live", timeout=1).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.3)
    server.stop()
    raise RuntimeError("the API did not answer /health/live within 60 s")
