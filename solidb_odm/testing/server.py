"""Start and stop real, throw-away SoliDB servers for tests and demos.

``SoliDBServer`` runs the ``solidb`` binary on a free loopback port with a
fresh data directory and a known admin password, waits until the driver
protocol answers, and on exit stops the process and deletes the directory.
"""

from __future__ import annotations

import atexit
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Dict, List, Optional, Sequence

from .. import exceptions as exc
from .. import protocol

if TYPE_CHECKING:
    from types import TracebackType

    from ..client import Client

PINNED_SOLIDB_VERSION = "2.6.0"
"""The server version this library is tested against. The install script
(``scripts/install-solidb``) reads it from here: this is the one place."""

INSTALL_HOME = Path(os.environ.get("SOLIDB_ODM_HOME", Path.home() / ".cache" / "solidb-odm"))

_RUNNING: weakref.WeakSet[SoliDBServer] = weakref.WeakSet()


def install_root(version: str = PINNED_SOLIDB_VERSION) -> Path:
    """Where ``scripts/install-solidb`` puts the pinned server."""
    return INSTALL_HOME / f"solidb-{version}"


def find_solidb_binary() -> str:
    """Locate the server: ``$SOLIDB_BIN``, the pinned install (release build, then dev
    build), ``PATH``, cargo's bin dir."""
    explicit = os.environ.get("SOLIDB_BIN")
    if explicit:
        if not os.access(explicit, os.X_OK):
            raise exc.SoliDBError(f"SOLIDB_BIN={explicit} is not an executable file")
        return explicit
    candidates: List[Optional[str]] = [
        str(install_root() / "bin" / "solidb"),
        str(INSTALL_HOME / f"solidb-{PINNED_SOLIDB_VERSION}-dev" / "bin" / "solidb"),
        shutil.which("solidb"),
        str(Path(os.environ.get("CARGO_HOME", Path.home() / ".cargo")) / "bin" / "solidb"),
    ]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    raise exc.SoliDBError(
        "no solidb binary found: run scripts/install-solidb, or set SOLIDB_BIN"
    )


def free_port() -> int:
    """A loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:  # pragma: no cover - runs in the child
    """Linux: have the kernel stop the server if the test process dies."""
    os.setsid()
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM)


class SoliDBServer:
    """A real SoliDB server on loopback, for the length of a ``with`` block.

    Tests, demos and benchmarks run against the real server rather than a
    fake, so what passes here passes in production. Each server gets a free
    port and a scratch data directory (deleted on ``stop()``), an admin
    account with ``password``; on Linux it stops if the Python process dies.
    ``extra_args`` go to the server's command line, ``env`` to its environment.

        with SoliDBServer() as server:
            db = connect(server.url + "/shop")
            ...
    """

    def __init__(
        self,
        *,
        binary: Optional[str] = None,
        port: Optional[int] = None,
        password: str = "odm-test-password",
        data_dir: Optional[str] = None,
        startup_timeout: float = 60.0,
        stop_timeout: float = 10.0,
        extra_args: Sequence[str] = (),
        env: Optional[Dict[str, str]] = None,
    ) -> None:
        self.binary = binary or find_solidb_binary()
        self.host = "127.0.0.1"
        self.port = port or free_port()
        self.username = "admin"
        self.password = password
        self.startup_timeout = startup_timeout
        self.stop_timeout = stop_timeout
        self.extra_args = list(extra_args)
        self.extra_env = dict(env or {})
        self._own_data_dir = data_dir is None
        self.data_dir = data_dir or tempfile.mkdtemp(prefix="solidb-odm-")
        self.log_path = os.path.join(self.data_dir, "server-output.log")
        self.process: Optional[subprocess.Popen[bytes]] = None

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> SoliDBServer:
        """Start the process and wait until the driver protocol answers."""
        if self.process is not None and self.process.poll() is None:
            return self
        env = dict(os.environ)
        env.update(
            {
                "SOLIDB_ADMIN_PASSWORD": self.password,
                "JWT_SECRET": env.get("JWT_SECRET", "solidb-odm-tests-jwt-secret-0123456789"),
                "RUST_LOG": env.get("SOLIDB_TEST_RUST_LOG", "warn"),
                "NO_COLOR": "1",  # a readable log tail in error messages
            }
        )
        env.update(self.extra_env)
        store = os.path.join(self.data_dir, "db")
        args = [
            self.binary,
            "--host", self.host,
            "--port", str(self.port),
            "--data-dir", store,
            "--pid-file", os.path.join(self.data_dir, "solidb.pid"),
            "--log-file", os.path.join(self.data_dir, "solidb.log"),
            *self.extra_args,
        ]
        log = open(self.log_path, "ab")
        try:
            # The working directory is the scratch dir: the server reads a
            # `.env` file from its cwd, and a stray one must not leak in.
            self.process = subprocess.Popen(
                args,
                cwd=self.data_dir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                preexec_fn=_die_with_parent if os.name == "posix" else None,
            )
        finally:
            log.close()
        _RUNNING.add(self)
        try:
            self._wait_ready()
        except BaseException:
            self.stop(remove_data=False)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + self.startup_timeout
        last_error = "no attempt made"
        while time.monotonic() < deadline:
            assert self.process is not None
            code = self.process.poll()
            if code is not None:
                raise exc.SoliDBError(
                    f"solidb exited with code {code} during startup.\n{self.log_tail()}"
                )
            try:
                if self.handshake_ok():
                    return
            except OSError as err:
                last_error = str(err)
            except exc.SoliDBError as err:
                last_error = str(err)
            time.sleep(0.05)
        raise exc.SoliDBError(
            f"solidb did not answer the driver handshake on {self.host}:{self.port} "
            f"within {self.startup_timeout}s (last error: {last_error}).\n{self.log_tail()}"
        )

    def handshake_ok(self) -> bool:
        """Send the magic and a ping; True when a pong comes back."""
        with socket.create_connection((self.host, self.port), timeout=2.0) as sock:
            sock.settimeout(2.0)
            sock.sendall(protocol.MAGIC + protocol.encode_frame({"cmd": "ping"}))
            decoder = protocol.FrameDecoder()
            while True:
                chunk = sock.recv(4096)
                if not chunk:
                    return False
                decoder.feed(chunk)
                payload = decoder.next_payload()
                if payload is not None:
                    return protocol.decode_payload(payload).get("status") == "pong"

    def stop(self, *, remove_data: bool = True) -> None:
        """Terminate (then kill) the server, and delete its scratch data."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.stop_timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(self.stop_timeout)
        _RUNNING.discard(self)
        if remove_data and self._own_data_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def kill(self) -> None:
        """Kill the server at once (SIGKILL), keeping its data: a crash."""
        proc = self.process
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait(self.stop_timeout)
        self.process = None

    def restart(self) -> SoliDBServer:
        """Start again on the same port and data directory."""
        self.stop(remove_data=False)
        return self.start()

    @property
    def running(self) -> bool:
        """Whether the server process is alive."""
        return self.process is not None and self.process.poll() is None

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the server's output, for error messages."""
        try:
            with open(self.log_path, "rb") as handle:
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return "(no server log)"
        tail = "\n".join(text.splitlines()[-lines:])
        return f"--- last {lines} lines of {self.log_path} ---\n{tail}"

    # -- conveniences ------------------------------------------------------

    @property
    def url(self) -> str:
        """A ``solidb://`` URL with the admin credentials, for ``connect()``."""
        return f"solidb://{self.username}:{self.password}@{self.host}:{self.port}"

    def client(self, database: str = "_system", **kwargs: object) -> Client:
        """A new client, authenticated as admin against ``database``."""
        from ..client import Client

        client = Client(self.host, self.port, **kwargs)  # type: ignore[arg-type]
        client.connect()
        client.auth(database, self.username, self.password)
        return client

    def __enter__(self) -> SoliDBServer:
        return self.start()

    def __exit__(
        self,
        exc_type: Optional[type[BaseException]],
        exc_value: Optional[BaseException],
        traceback: Optional[TracebackType],
    ) -> None:
        self.stop()


@atexit.register
def _stop_all() -> None:  # pragma: no cover - interpreter shutdown
    for server in list(_RUNNING):
        server.stop()
