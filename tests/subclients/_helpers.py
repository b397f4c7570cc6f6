"""Test helpers for the sub-client tests: plain HTTP requests, bounded polling."""

from __future__ import annotations

import base64
import http.client
import json
import time
from typing import Any, Callable, Optional, Tuple, TypeVar

from solidb_odm.testing import SoliDBServer

T = TypeVar("T")


def raw_http(server: SoliDBServer, method: str, path: str, body: Any = None) -> Tuple[int, Any]:
    """One request with plain http.client and Basic auth; the body decoded when it is JSON."""
    token = base64.b64encode(f"{server.username}:{server.password}".encode()).decode()
    headers = {"Authorization": f"Basic {token}"}
    payload: Optional[bytes] = None
    if body is not None:
        payload = json.dumps(body).encode()
        headers["Content-Type"] = "application/json"
    conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
    try:
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    try:
        return response.status, json.loads(text) if text else None
    except ValueError:
        return response.status, text


def wait_for(probe: Callable[[], T], done: Callable[[T], bool], timeout: float = 30.0) -> T:
    """Call ``probe`` until ``done`` holds for its result; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"still not done after {timeout}s: {value!r}")
        time.sleep(0.25)
