"""``serve``: a local SoliDB server for development, through the testing launcher."""

from __future__ import annotations

import json
import signal
import socket
import time
from pathlib import Path
from types import FrameType
from typing import Annotated, Optional

import typer

from ..testing import SoliDBServer
from .common import fail, handle_errors

#: Where serve remembers the admin password it created the data directory with
#: (the server applies SOLIDB_ADMIN_PASSWORD on first start only).
SETTINGS = "solidb-odm-serve.json"


def _port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _password(data_dir: Path, given: Optional[str]) -> str:
    settings = data_dir / SETTINGS
    if settings.exists():
        saved = str(json.loads(settings.read_text())["password"])
        if given and given != saved:
            typer.echo(f"note: {data_dir} was created with another admin password; using that one",
                       err=True)
        return saved
    password = given or "solidb-dev"
    data_dir.mkdir(parents=True, exist_ok=True)
    settings.write_text(json.dumps({"password": password}))
    settings.chmod(0o600)
    return password


def _stop_on_sigterm(signum: int, frame: Optional[FrameType]) -> None:
    raise KeyboardInterrupt


@handle_errors
def serve(
    port: Annotated[int, typer.Option("--port", "-p", help="The port (driver and HTTP).")] = 6745,
    data_dir: Annotated[Path, typer.Option(
        "--data-dir", help="Where the data lives; kept between runs.")] = Path("solidb-data"),
    password: Annotated[Optional[str], typer.Option(
        "--password", envvar="SOLIDB_PASSWORD",
        help="The admin password for a new data directory (default solidb-dev).")] = None,
    database: Annotated[str, typer.Option(
        "--database", help="The database named in the printed URL.")] = "dev",
) -> None:
    """Run a local server with a persistent data directory until Ctrl-C: the zero-setup dev database."""
    if not _port_free(port):
        raise fail(f"port {port} is in use: pass --port")
    data_dir = data_dir.resolve()
    secret = _password(data_dir, password)
    server = SoliDBServer(port=port, data_dir=str(data_dir), password=secret)
    # SIGINT too: a process started in the background of a script inherits SIGINT ignored,
    # and "Ctrl-C stops it" must hold however it was started
    signal.signal(signal.SIGTERM, _stop_on_sigterm)
    signal.signal(signal.SIGINT, _stop_on_sigterm)
    try:
        server.start()
        url = f"{server.url}/{database}"
        typer.echo(f"SoliDB {server.binary} serving {data_dir}", err=True)
        typer.echo(f"export SOLIDB_URL={url}", err=False)
        typer.echo("Ctrl-C stops it.", err=True)
        while server.running:
            time.sleep(0.2)
        raise fail(f"the server stopped by itself; see {server.log_path}")
    except KeyboardInterrupt:
        typer.echo("stopping", err=True)
    finally:
        server.stop(remove_data=False)
