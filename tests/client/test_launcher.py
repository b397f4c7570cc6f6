"""The SoliDBServer launcher and ``python -m solidb_odm.testing run``.

Our tests and our users' tests stand on these, so they are tested against
the real binary like everything else.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import textwrap
import time
from typing import Set

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer, find_solidb_binary, free_port


def pid_alive(pid: int) -> bool:
    """True while a process with ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as handle:
            return handle.read().split(") ", 1)[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_server_exposes_its_address_and_credentials() -> None:
    port = free_port()
    with SoliDBServer(port=port, password="s3cret-pw") as server:
        assert server.host == "127.0.0.1"
        assert server.port == port
        assert server.username == "admin"
        assert server.password == "s3cret-pw"
        assert server.url == f"solidb://admin:s3cret-pw@127.0.0.1:{port}"
        assert server.running
        with Client(server.host, server.port) as client:
            client.auth("_system", server.username, server.password)
            assert "_system" in client.list_databases()


def test_stop_removes_the_data_dir_and_leaves_no_process() -> None:
    server = SoliDBServer().start()
    assert server.process is not None
    pid = server.process.pid
    data_dir = server.data_dir
    assert os.path.isdir(data_dir) and pid_alive(pid)
    server.stop()
    assert not os.path.exists(data_dir)
    assert not pid_alive(pid)
    assert not server.running
    server.stop()  # stopping twice is harmless


def listening_addresses(port: int) -> Set[str]:
    """Local IPv4 addresses with a socket listening on ``port`` (Linux /proc/net/tcp)."""
    found: Set[str] = set()
    with open("/proc/net/tcp") as table:
        next(table)
        for line in table:
            local, state = line.split()[1], line.split()[3]
            address, port_hex = local.split(":")
            if state == "0A" and int(port_hex, 16) == port:  # 0A = LISTEN
                found.add(socket.inet_ntoa(bytes.fromhex(address)[::-1]))
    return found


def test_the_server_listens_on_loopback_only(solidb_server: SoliDBServer) -> None:
    """Server fact: ``--host`` exists (the facts sheet said always 0.0.0.0); we use loopback."""
    assert listening_addresses(solidb_server.port) == {"127.0.0.1"}


def test_kill_keeps_data_and_start_brings_it_back() -> None:
    with SoliDBServer() as server:
        client = server.client()
        try:
            client.create_database("keep")
            server.kill()
            assert not server.running and os.path.isdir(server.data_dir)
            server.start()
            assert "keep" in client.list_databases()
        finally:
            client.close()


def test_a_binary_that_cannot_start_gives_a_clear_error() -> None:
    server = SoliDBServer(binary="/bin/false", startup_timeout=10)
    with pytest.raises(exc.SoliDBError, match="exited with code 1") as info:
        server.start()
    assert "--- last 40 lines of" in str(info.value)
    assert not server.running
    # The log is kept for reading after a failed start; stop() removes it.
    assert os.path.isdir(server.data_dir)
    server.stop()
    assert not os.path.exists(server.data_dir)


def test_a_port_in_use_gives_a_clear_error_with_the_log_tail() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen(1)
        port = blocker.getsockname()[1]
        server = SoliDBServer(port=port, startup_timeout=20)
        started = time.monotonic()
        with pytest.raises(exc.SoliDBError) as info:
            server.start()
        assert time.monotonic() - started < 20
        message = str(info.value)
        assert "--- last 40 lines of" in message
        assert "Address already in use" in message
        assert not server.running
        server.stop()
        assert not os.path.exists(server.data_dir)


def test_find_solidb_binary_honours_solidb_bin(monkeypatch: pytest.MonkeyPatch) -> None:
    binary = find_solidb_binary()
    monkeypatch.setenv("SOLIDB_BIN", binary)
    assert find_solidb_binary() == binary
    monkeypatch.setenv("SOLIDB_BIN", "/nonexistent/solidb")
    with pytest.raises(exc.SoliDBError, match="SOLIDB_BIN"):
        find_solidb_binary()


def test_testing_run_passes_the_server_to_a_command() -> None:
    script = textwrap.dedent(
        """
        import os, sys
        from solidb_odm import Client
        with Client(os.environ["SOLIDB_HOST"], int(os.environ["SOLIDB_PORT"])) as c:
            c.auth("_system", os.environ["SOLIDB_USERNAME"], os.environ["SOLIDB_PASSWORD"])
            assert "_system" in c.list_databases()
        assert os.environ["SOLIDB_URL"].startswith("solidb://admin:")
        sys.exit(7)
        """
    )
    done = subprocess.run(
        [sys.executable, "-m", "solidb_odm.testing", "run", "--", sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 7, done.stderr
    assert "[solidb-odm] server on 127.0.0.1:" in done.stderr


def test_no_server_outlives_a_killed_test_process() -> None:
    """Even a SIGKILLed parent (an interrupted run) leaves no server behind."""
    script = textwrap.dedent(
        """
        import sys, time
        from solidb_odm.testing import SoliDBServer
        server = SoliDBServer().start()
        print(server.process.pid, server.data_dir, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    data_dir = ""
    try:
        assert parent.stdout is not None
        pid_text, data_dir = parent.stdout.readline().split()
        pid = int(pid_text)
        assert pid_alive(pid)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 15
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not pid_alive(pid)
    finally:
        if parent.poll() is None:
            parent.kill()
        if data_dir:
            shutil.rmtree(data_dir, ignore_errors=True)
