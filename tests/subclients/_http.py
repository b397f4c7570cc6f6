"""A plain HTTP request to the server, with no solidb_odm code involved (test helper)."""

from __future__ import annotations

import base64
import http.client
import json
from typing import Any, Optional, Tuple

from solidb_odm.testing import SoliDBServer


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
