"""Start and stop the embedded Redis and MongoDB-compatible servers.

Used by `make run` (bot.launch) and by the test set-up, so both run the very same
real servers: Debian's `redis-server` and `secantusd-py` from the separate Python 3.12
venv (`.venv-mongo`), each bound to 127.0.0.1.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MONGO_BIN = ROOT / ".venv-mongo" / "bin" / "secantusd-py"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex((host, port)) == 0


@dataclass
class EmbeddedServer:
    """One child server process; `start` waits until it accepts connections."""

    name: str
    port: int
    data_dir: Path
    log_path: Path
    proc: subprocess.Popen | None = field(default=None, repr=False)

    def command(self) -> list[str]:  # pragma: no cover - overridden
        raise NotImplementedError

    def start(self, timeout: float = 60.0) -> None:
        if port_open(self.port):
            raise RuntimeError(f"{self.name}: port {self.port} is already in use")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"{self.name} exited with {self.proc.returncode}; see {self.log_path}"
                )
            if port_open(self.port):
                return
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.name} did not open port {self.port} in {timeout}s")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(sig)
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self.stop(signal.SIGKILL)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


class EmbeddedRedis(EmbeddedServer):
    def command(self) -> list[str]:
        exe = shutil.which("redis-server") or "/usr/bin/redis-server"
        return [
            exe, "--bind", "127.0.0.1", "--port", str(self.port),
            "--dir", str(self.data_dir), "--save", "", "--appendonly", "yes",
            "--appendfsync", "everysec", "--protected-mode", "yes",
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


class EmbeddedMongo(EmbeddedServer):
    sync_on_commit: bool = False

    def command(self) -> list[str]:
        if not MONGO_BIN.exists():
            raise RuntimeError(f"{MONGO_BIN} missing: run `make setup` first")
        cmd = [
            str(MONGO_BIN), "--host", "127.0.0.1", "--port", str(self.port),
            "--storage-path", str(self.data_dir), "--log-level", "WARNING",
        ]
        if self.sync_on_commit:
            cmd.append("--sync-on-commit")
        return cmd

    @property
    def uri(self) -> str:
        # Without retryWrites=false the server's writes slow down after ~10k writes.
        return f"mongodb://127.0.0.1:{self.port}/?retryWrites=false"


def redis_server(base: Path, port: int | None = None) -> EmbeddedRedis:
    return EmbeddedRedis("redis", port or free_port(), base / "redis", base / "redis.log")


def mongo_server(base: Path, port: int | None = None, *, sync_on_commit: bool = False) -> EmbeddedMongo:
    server = EmbeddedMongo("mongo", port or free_port(), base / "mongo", base / "mongo.log")
    server.sync_on_commit = sync_on_commit
    return server


def env_or_none(name: str) -> str | None:
    value = os.environ.get(name, "").strip()
    return value or None
