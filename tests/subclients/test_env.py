"""client.env against a real server: variables are stored, listed, deleted and read by scripts."""

from __future__ import annotations

import time

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer

from ._helpers import raw_http


def test_set_list_and_delete(client: Client) -> None:
    assert client.env.list() == {}
    client.env.set("API_KEY", "sk-xxx-your-api-key")
    client.env.set("WEBHOOK_URL", "https://example.com/webhook")
    assert client.env.list() == {
        "API_KEY": "sk-xxx-your-api-key",
        "WEBHOOK_URL": "https://example.com/webhook",
    }

    client.env.set("API_KEY", "sk-rotated")
    assert client.env.list()["API_KEY"] == "sk-rotated"

    client.env.delete("API_KEY")
    assert client.env.list() == {"WEBHOOK_URL": "https://example.com/webhook"}
    with pytest.raises(exc.NotFoundError):
        client.env.delete("API_KEY")


def test_a_script_reads_a_variable_that_was_set(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.env.set("GREETING", "bonjour")
    client.scripts.create(name="greet", path="greet", methods=["GET"],
                          code="return { greeting = solidb.env.GREETING }")
    url = f"/api/{solidb_database}/default/greet"
    assert raw_http(solidb_server, "GET", url) == (200, {"greeting": "bonjour"})

    # Scripts see changes once the server's five-second cache expires.
    client.env.set("GREETING", "hola")
    deadline = time.monotonic() + 15
    while raw_http(solidb_server, "GET", url)[1] != {"greeting": "hola"}:
        assert time.monotonic() < deadline, "the script never saw the new value"
        time.sleep(0.5)


def test_variables_set_by_other_tools_are_listed(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    """The server's driver listing misses variables set over HTTP; env.list does not."""
    status, _ = raw_http(solidb_server, "PUT", f"/_api/database/{solidb_database}/env/FROM_UI",
                         {"value": "dashboard"})
    assert status == 200
    client.env.set("FROM_DRIVER", "driver")
    assert client.env.list() == {"FROM_UI": "dashboard", "FROM_DRIVER": "driver"}
    driver_view = client.run(ops.data("list_env_vars", database=solidb_database))["variables"]
    assert driver_view == {"FROM_DRIVER": "driver"}  # why list() uses HTTP
    client.env.delete("FROM_UI")
    assert client.env.list() == {"FROM_DRIVER": "driver"}


def test_bad_variables_are_refused_before_the_server(client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        client.env.set("HAS SPACE", "x")
    with pytest.raises(exc.ValidationError):
        client.env.set("", "x")
    with pytest.raises(exc.ValidationError):
        client.env.set("PORT", 8080)  # type: ignore[arg-type]
    assert client.env.list() == {}


def test_env_needs_a_database(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.env.list()
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.env.set("A", "b")
