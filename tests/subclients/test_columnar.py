"""client.columnar: every result checked against the same computation in Python."""

from __future__ import annotations

import json
import random
from collections import defaultdict
from typing import Any, Dict, List

import pytest

from solidb_odm import Client, ops
from solidb_odm import exceptions as exc

_rng = random.Random(42)
METRICS = ["cpu_usage", "memory", "disk_io"]
HOSTS = ["server1", "server2"]
#: 30 rows; values with at most two decimals so float sums compare exactly enough.
ROWS: List[Dict[str, Any]] = [
    {
        "timestamp": f"2024-01-15T10:{minute:02d}:00Z",
        "metric_name": METRICS[minute % 3],
        "value": round(_rng.uniform(10, 95), 2),
        "tags": HOSTS[(minute // 3) % 2],
    }
    for minute in range(30)
]
COLUMNS = [
    {"name": "timestamp", "type": "datetime"},
    {"name": "metric_name", "type": "string"},
    {"name": "value", "type": "float"},
    {"name": "tags", "type": "string"},
]


@pytest.fixture
def client(solidb_client: Client, solidb_database: str) -> Client:
    solidb_client.use_database(solidb_database)
    solidb_client.columnar.create("metrics", COLUMNS)
    assert solidb_client.columnar.insert("metrics", ROWS) == len(ROWS)
    return solidb_client


def without_id(rows: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    return [{k: v for k, v in r.items() if not k.startswith("_")} for r in rows]


def test_create_describes_the_table_with_the_servers_types(
    solidb_client: Client, solidb_database: str
) -> None:
    solidb_client.use_database(solidb_database)
    table = solidb_client.columnar.create("metrics", COLUMNS)
    assert table["name"] == "metrics"
    assert [(c["name"], c["data_type"]) for c in table["columns"]] == [
        ("timestamp", "timestamp"), ("metric_name", "string"), ("value", "float64"),
        ("tags", "string"),
    ]
    assert table["row_count"] == 0


def test_query_with_params_matches_python(client: Client) -> None:
    rows = client.columnar.query(
        "metrics",
        "SELECT * FROM metrics WHERE value > @min ORDER BY timestamp DESC LIMIT 100",
        params={"min": 40.0},
    )
    expected = sorted((r for r in ROWS if r["value"] > 40.0),
                      key=lambda r: r["timestamp"], reverse=True)
    assert without_id(rows) == expected

    picked = client.columnar.query(
        "metrics",
        "SELECT metric_name, value FROM metrics WHERE tags = @host AND value <= @max "
        "ORDER BY value LIMIT 3",
        params={"host": "server2", "max": 60},
    )
    expected_picked = sorted(
        ({"metric_name": r["metric_name"], "value": r["value"]} for r in ROWS
         if r["tags"] == "server2" and r["value"] <= 60),
        key=lambda r: r["value"],
    )[:3]
    assert picked == expected_picked


def test_query_leaves_quoted_text_alone(client: Client) -> None:
    client.columnar.insert("metrics", [{**ROWS[0], "tags": "@home"}])
    rows = client.columnar.query(
        "metrics", "SELECT tags, value FROM metrics WHERE tags = '@home' AND value >= @v",
        params={"v": 0})
    assert rows == [{"tags": "@home", "value": ROWS[0]["value"]}]


def test_query_with_group_by_is_unsupported(client: Client) -> None:
    with pytest.raises(exc.UnsupportedError, match=r"solidb 2\.6\.0"):
        client.columnar.query("metrics", "SELECT tags, AVG(value) FROM metrics GROUP BY tags")


def test_query_refuses_anything_but_a_select_of_the_table(client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="SELECT"):
        client.columnar.query("metrics", "DELETE FROM metrics")
    with pytest.raises(exc.ValidationError, match="FROM metrics"):
        client.columnar.query("metrics", "SELECT * FROM other")
    assert client.columnar.stats("metrics")["row_count"] == len(ROWS)


def test_aggregate_without_groups_matches_python(client: Client) -> None:
    result = client.columnar.aggregate("metrics", {
        "metrics": [
            {"column": "value", "function": "avg"},
            {"column": "value", "function": "max"},
            {"column": "value", "function": "min"},
            {"column": "value", "function": "count"},
            {"column": "value", "function": "sum"},
        ],
    })
    values = [r["value"] for r in ROWS]
    assert result == [{
        "value_avg": pytest.approx(sum(values) / len(values)),
        "value_max": max(values),
        "value_min": min(values),
        "value_count": len(values),
        "value_sum": pytest.approx(sum(values)),
    }]


def test_aggregate_with_groups_and_filters_matches_python(client: Client) -> None:
    result = client.columnar.aggregate("metrics", {
        "group_by": ["metric_name", "tags"],
        "metrics": [
            {"column": "value", "function": "avg"},
            {"column": "value", "function": "max"},
            {"column": "value", "function": "min"},
            {"column": "value", "function": "count"},
        ],
        "filters": {"metric_name": "cpu_usage"},
    })
    groups: Dict[tuple, List[float]] = defaultdict(list)
    for row in ROWS:
        if row["metric_name"] == "cpu_usage":
            groups[(row["metric_name"], row["tags"])].append(row["value"])
    expected = {
        key: {"metric_name": key[0], "tags": key[1],
              "value_avg": pytest.approx(sum(v) / len(v)), "value_max": max(v),
              "value_min": min(v), "value_count": len(v)}
        for key, v in groups.items()
    }
    assert {(r["metric_name"], r["tags"]): r for r in result} == expected

    ranged = client.columnar.aggregate("metrics", {
        "group_by": "tags",
        "metrics": [{"column": "value", "function": "count"}],
        "filters": {"value": {"gte": 30, "lt": 70}, "metric_name": ["memory", "disk_io"]},
    })
    counts: Dict[str, int] = defaultdict(int)
    for row in ROWS:
        if 30 <= row["value"] < 70 and row["metric_name"] in ("memory", "disk_io"):
            counts[row["tags"]] += 1
    assert {r["tags"]: r["value_count"] for r in ranged} == dict(counts)


def test_group_values_come_back_exactly_as_stored(client: Client) -> None:
    odd = [{**ROWS[0], "tags": tag, "value": v} for tag, v in
           [("42", 1.0), ("42", 3.0), ("a|b", 5.0), ("a", 7.0), ("", 9.0)]]
    client.columnar.insert("metrics", odd)
    result = client.columnar.aggregate("metrics", {
        "group_by": ["tags"], "filters": {"tags": ["42", "a|b", "a", ""]},
        "metrics": [{"column": "value", "function": "sum"},
                    {"column": "value", "function": "count_distinct"}]})
    assert {r["tags"]: (r["value_sum"], r["value_count_distinct"]) for r in result} == {
        "42": (4.0, 2), "a|b": (5.0, 1), "a": (7.0, 1), "": (9.0, 1)}


def test_stats_count_rows_and_bytes(client: Client) -> None:
    stats = client.columnar.stats("metrics")
    assert stats["row_count"] == len(ROWS)
    # The server stores each value as compact JSON; its figure also counts the
    # row copies and metadata it keeps beside the columns, so it is at least that.
    raw = sum(len(json.dumps(r[c["name"]], separators=(",", ":"))) for r in ROWS
              for c in COLUMNS)
    assert stats["uncompressed_size_bytes"] >= raw
    assert 0 < stats["size_bytes"]
    client.columnar.insert("metrics", ROWS[:5])
    more = client.columnar.stats("metrics")
    assert more["row_count"] == len(ROWS) + 5
    assert more["size_bytes"] > stats["size_bytes"]


def test_add_and_drop_column_keep_every_row(client: Client, solidb_database: str) -> None:
    # A column index (not in the reference API) must survive the rebuild.
    client.run(ops.data("create_columnar_index", database=solidb_database, collection="metrics",
                        column="metric_name"))
    table = client.columnar.add_column("metrics", "host", "string", default_value="unknown")
    assert [c["name"] for c in table["columns"]] == [
        "timestamp", "metric_name", "value", "tags", "host"]
    assert table["row_count"] == len(ROWS)
    rows = client.columnar.query("metrics", "SELECT * FROM metrics ORDER BY timestamp")
    assert without_id(rows) == [{**r, "host": "unknown"} for r in ROWS]
    client.columnar.insert("metrics", [{**ROWS[0], "host": "server9"}])
    hosts = client.columnar.aggregate("metrics", {
        "group_by": ["host"], "metrics": [{"column": "value", "function": "count"}]})
    assert {r["host"]: r["value_count"] for r in hosts} == {"unknown": len(ROWS), "server9": 1}

    table = client.columnar.drop_column("metrics", "tags")
    assert [c["name"] for c in table["columns"]] == ["timestamp", "metric_name", "value", "host"]
    rows = client.columnar.query("metrics", "SELECT * FROM metrics ORDER BY timestamp")
    assert sorted(without_id(rows), key=lambda r: (r["timestamp"], r["host"])) == sorted(
        [{k: v for k, v in r.items() if k != "tags"} | {"host": "unknown"} for r in ROWS]
        + [{"timestamp": ROWS[0]["timestamp"], "metric_name": ROWS[0]["metric_name"],
            "value": ROWS[0]["value"], "host": "server9"}],
        key=lambda r: (r["timestamp"], r["host"]),
    )
    assert client.columnar.stats("metrics")["row_count"] == len(ROWS) + 1
    assert not [t for t in client.columnar.list() if t != "metrics"]  # staging table gone
    indexes = client.run(ops.data("list_columnar_indexes", database=solidb_database,
                                  collection="metrics"))
    assert [i["column"] for i in indexes] == ["metric_name"]
    assert client.columnar.insert("metrics", []) == 0

    with pytest.raises(exc.AlreadyExistsError):
        client.columnar.add_column("metrics", "value", "float")
    with pytest.raises(exc.NotFoundError):
        client.columnar.drop_column("metrics", "tags")


def test_list_and_delete(client: Client) -> None:
    client.columnar.create("events", [{"name": "kind", "type": "string"}])
    assert client.columnar.list() == ["events", "metrics"]
    client.columnar.delete("events")
    assert client.columnar.list() == ["metrics"]
    with pytest.raises(exc.NotFoundError):
        client.columnar.stats("events")
    with pytest.raises(exc.NotFoundError):
        client.columnar.insert("events", [{"kind": "x"}])


def test_columnar_input_is_checked(client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="column type"):
        client.columnar.create("bad", [{"name": "x", "type": "decimal128"}])
    with pytest.raises(exc.ValidationError, match="duplicate"):
        client.columnar.create("bad", [{"name": "x", "type": "int"}, {"name": "x", "type": "int"}])
    with pytest.raises(exc.ValidationError, match="function"):
        client.columnar.aggregate("metrics", {"metrics": [{"column": "value", "function": "p99"}]})
    with pytest.raises(exc.ValidationError, match="operator"):
        client.columnar.aggregate("metrics", {"metrics": [{"column": "value", "function": "avg"}],
                                              "filters": {"value": {"like": "x"}}})
    assert client.columnar.list() == ["metrics"]
