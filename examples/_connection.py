"""Where the examples find their server: the SOLIDB_* variables, or local defaults."""

from __future__ import annotations

import os

HOST = os.environ.get("SOLIDB_HOST", "127.0.0.1")
PORT = int(os.environ.get("SOLIDB_PORT", "6745"))
USERNAME = os.environ.get("SOLIDB_USERNAME", "admin")
PASSWORD = os.environ.get("SOLIDB_PASSWORD", "password")
URL = os.environ.get("SOLIDB_URL", f"solidb://{USERNAME}:{PASSWORD}@{HOST}:{PORT}")
