"""client.scripts against a real server: endpoints answer over HTTP on the same port."""

from __future__ import annotations

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc
from solidb_odm.testing import SoliDBServer

from ._helpers import raw_http

GREETING = 'return { message = "Hello, " .. (request.query.name or "World") }'


def test_created_endpoint_answers_over_http(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    script = client.scripts.create(
        name="hello",
        path="/api/hello",
        methods=["GET", "POST"],
        code=GREETING,
        description="Greeting endpoint",
    )
    assert script["_key"]
    assert script["name"] == "hello"
    assert script["path"] == "api/hello"  # stored without the leading slash the server cannot match
    assert script["code"] == GREETING

    status, body = raw_http(solidb_server, "GET", f"/api/{solidb_database}/default/api/hello?name=Ada")
    assert (status, body) == (200, {"message": "Hello, Ada"})
    status, body = raw_http(solidb_server, "POST", f"/api/{solidb_database}/default/api/hello")
    assert (status, body) == (200, {"message": "Hello, World"})
    # A method the script does not list is not routed to it.
    status, _ = raw_http(solidb_server, "DELETE", f"/api/{solidb_database}/default/api/hello")
    assert status == 404

    assert client.scripts.url("/api/hello") == (
        f"http://{solidb_server.host}:{solidb_server.port}/api/{solidb_database}/default/api/hello"
    )
    assert client.scripts.call("api/hello", query={"name": "Bo"}) == {"message": "Hello, Bo"}
    assert [s["_key"] for s in client.scripts.list()] == [script["_key"]]
    assert client.scripts.get(script["_key"])["description"] == "Greeting endpoint"


def test_request_body_and_path_parameters_reach_the_script(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.scripts.create(
        name="echo",
        path="orders/:id",
        methods=["POST"],
        code="return { id = request.params.id, total = request.body.qty * 2 }",
    )
    status, body = raw_http(
        solidb_server, "POST", f"/api/{solidb_database}/default/orders/42", {"qty": 21}
    )
    assert (status, body) == (200, {"id": "42", "total": 42})


def test_update_changes_the_output(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    script = client.scripts.create(name="v", path="version", methods=["GET"],
                                   code="return { version = 1 }")
    url = f"/api/{solidb_database}/default/version"
    assert raw_http(solidb_server, "GET", url) == (200, {"version": 1})

    updated = client.scripts.update(script["_key"], {"code": "return { version = 2 }"})
    assert updated["code"] == "return { version = 2 }"
    assert updated["methods"] == ["GET"]  # fields not given are kept
    assert raw_http(solidb_server, "GET", url) == (200, {"version": 2})

    client.scripts.update(script["_key"], {"methods": ["POST"]})
    assert raw_http(solidb_server, "GET", url)[0] == 404
    assert raw_http(solidb_server, "POST", url) == (200, {"version": 2})
    assert client.scripts.get(script["_key"])["methods"] == ["POST"]


def test_delete_makes_the_endpoint_disappear(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    script = client.scripts.create(name="gone", path="gone", methods=["GET"],
                                   code="return { here = true }")
    url = f"/api/{solidb_database}/default/gone"
    assert raw_http(solidb_server, "GET", url) == (200, {"here": True})

    client.scripts.delete(script["_key"])
    status, body = raw_http(solidb_server, "GET", url)
    assert status == 404, body
    with pytest.raises(exc.NotFoundError):
        client.scripts.get(script["_key"])
    assert client.scripts.list() == []
    with pytest.raises(exc.NotFoundError):
        client.scripts.call("gone")


def test_get_stats_counts_the_calls(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.scripts.create(name="count", path="count", methods=["GET"], code="return {}")
    before = client.scripts.get_stats()
    for _ in range(3):
        assert raw_http(solidb_server, "GET", f"/api/{solidb_database}/default/count")[0] == 200
    after = client.scripts.get_stats()
    # Counters are server-wide; nothing else runs scripts during this test.
    assert after["total_calls"] - before["total_calls"] == 3
    assert after["total_calls"] == after["total_scripts_executed"]
    assert after["active_scripts"] == 0


def test_a_second_script_on_the_same_path_is_refused(client: Client) -> None:
    client.scripts.create(name="a", path="same", methods=["GET"], code="return {}")
    with pytest.raises(exc.AlreadyExistsError):
        client.scripts.create(name="b", path="/same", methods=["GET"], code="return {}")


def test_scripts_live_in_their_own_service(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    client.scripts.create(name="v2", path="ping", methods=["GET"], code='return { api = "v2" }',
                          service="v2")
    assert raw_http(solidb_server, "GET", f"/api/{solidb_database}/v2/ping") == (200, {"api": "v2"})
    assert raw_http(solidb_server, "GET", f"/api/{solidb_database}/default/ping")[0] == 404


def test_bad_input_is_refused_before_the_server(client: Client) -> None:
    with pytest.raises(exc.ValidationError):
        client.scripts.create(name="x", path="x", methods=["PATCH"], code="return {}")
    with pytest.raises(exc.ValidationError):
        client.scripts.create(name="x", path="x", methods=[], code="return {}")
    with pytest.raises(exc.ValidationError):
        client.scripts.create(name="x", path="a/../b", methods=["GET"], code="return {}")
    with pytest.raises(exc.ValidationError):
        client.scripts.create(name="x", path="/", methods=["GET"], code="return {}")
    with pytest.raises(exc.ValidationError):
        client.scripts.update("any", {"service": "other"})
    assert client.scripts.list() == []


def test_scripts_need_a_database(solidb_client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.scripts.list()
    with pytest.raises(exc.ValidationError, match="use_database"):
        solidb_client.scripts.create(name="x", path="x", methods=["GET"], code="return {}")


def test_the_driver_alone_cannot_publish_or_change_endpoints(
    client: Client, solidb_server: SoliDBServer, solidb_database: str
) -> None:
    """Why scripts are written over HTTP: the driver's script commands fall short on 2.6.0."""
    served = client.scripts.create(name="a", path="a", methods=["GET"], code="return { v = 1 }")
    base = f"/api/{solidb_database}/default"

    # Created with the driver: stored, but never served.
    client.run(ops.data("create_script", database=solidb_database, name="drv", path="drv",
                        methods=["GET"], code="return { v = 9 }"))
    assert raw_http(solidb_server, "GET", f"{base}/drv")[0] == 404

    # Updated or deleted with the driver: the old code keeps answering.
    client.run(ops.data("update_script", database=solidb_database, script_id=served["_key"],
                        code="return { v = 2 }"))
    assert raw_http(solidb_server, "GET", f"{base}/a") == (200, {"v": 1})
    client.run(ops.data("delete_script", database=solidb_database, script_id=served["_key"]))
    assert raw_http(solidb_server, "GET", f"{base}/a") == (200, {"v": 1})

    # And the driver's statistics are a placeholder.
    assert "total_scripts_executed" not in client.run(ops.data("get_script_stats"))
