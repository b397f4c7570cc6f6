"""Run a command next to a throw-away server.

``python -m solidb_odm.testing run -- python examples/quickstart.py`` starts a
server, passes its address to the command as ``SOLIDB_HOST``, ``SOLIDB_PORT``,
``SOLIDB_USERNAME``, ``SOLIDB_PASSWORD`` and ``SOLIDB_URL``, waits for the
command, stops the server, and exits with the command's status.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from typing import List, Optional

from .server import SoliDBServer


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m solidb_odm.testing")
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command against a fresh server")
    run.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = [c for c in args.command if c != "--"] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")
    with SoliDBServer() as server:
        env = dict(os.environ)
        env.update(
            SOLIDB_HOST=server.host,
            SOLIDB_PORT=str(server.port),
            SOLIDB_USERNAME=server.username,
            SOLIDB_PASSWORD=server.password,
            SOLIDB_URL=server.url,
        )
        print(f"[solidb-odm] server on {server.host}:{server.port}", file=sys.stderr, flush=True)
        return subprocess.call(command, env=env)


if __name__ == "__main__":
    sys.exit(main())
