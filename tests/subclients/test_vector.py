"""client.vector: nearest neighbours checked against a brute-force computation.

A small fixed data set (seeded, so every run sees the same vectors) is
indexed with each metric; every search is compared with the exact ranking and
scores computed here in Python.
"""

from __future__ import annotations

import math
import random
from typing import Callable, Dict, List, Sequence, Tuple

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc

DIM = 4
_rng = random.Random(20240115)
#: key -> (category, vector); 3 decimals keep float32 round-trips harmless.
DATA: Dict[str, Tuple[str, List[float]]] = {
    f"p{i:02d}": (
        "audio" if i % 3 == 0 else "video",
        [round(_rng.uniform(-1.0, 1.0), 3) for _ in range(DIM)],
    )
    for i in range(24)
}
QUERY = [0.3, -0.2, 0.8, 0.1]


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)))


def euclidean(a: Sequence[float], b: Sequence[float]) -> float:
    return math.sqrt(sum((x - y) ** 2 for x, y in zip(a, b, strict=True)))


def dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


#: reference metric name -> (score function, higher score is nearer)
METRICS: Dict[str, Tuple[Callable[[Sequence[float], Sequence[float]], float], bool]] = {
    "cosine": (cosine, True),
    "euclidean": (euclidean, False),
    "dot_product": (dot, True),
}


def brute_force(metric: str, query: Sequence[float], keys: Sequence[str],
                limit: int) -> List[Tuple[str, float]]:
    score, higher_is_nearer = METRICS[metric]
    ranked = sorted(((k, score(query, DATA[k][1])) for k in keys),
                    key=lambda pair: pair[1], reverse=higher_is_nearer)
    return ranked[:limit]


def assert_same_ranking(results: List[dict], expected: List[Tuple[str, float]]) -> None:
    assert [r["doc"]["_key"] for r in results] == [k for k, _ in expected]
    for result, (_, score) in zip(results, expected, strict=True):
        assert result["score"] == pytest.approx(score, abs=1e-4)



def load(client: Client, database: str, collection: str, metric: str) -> dict:
    client.create_collection(database, collection)
    info = client.vector.create_index(collection, f"{collection}_idx", "embedding", DIM, metric)
    client.bulk_insert(database, collection, [
        {"_key": key, "category": category, "embedding": vector, "name": f"item {key}"}
        for key, (category, vector) in DATA.items()
    ])
    return info


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot_product"])
def test_nearest_neighbours_match_brute_force(
    client: Client, solidb_database: str, metric: str
) -> None:
    info = load(client, solidb_database, "items", metric)
    assert info["metric"] == metric  # the reference's lower-case name was honoured
    assert info["dimensions"] == DIM

    results = client.vector.search("items", QUERY, limit=5)
    assert_same_ranking(results, brute_force(metric, QUERY, list(DATA), 5))
    assert all(r["doc"]["name"] == f"item {r['doc']['_key']}" for r in results)

    tuned = client.vector.search("items", QUERY, limit=5, index_name="items_idx", ef_search=200)
    assert_same_ranking(tuned, brute_force(metric, QUERY, list(DATA), 5))

    everything = client.vector.search("items", QUERY, limit=len(DATA))
    assert_same_ranking(everything, brute_force(metric, QUERY, list(DATA), len(DATA)))
    assert client.vector.get_index_info("items", "items_idx")["indexed_vectors"] == len(DATA)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot_product"])
def test_filtered_search_ranks_only_matching_documents(
    client: Client, solidb_database: str, metric: str
) -> None:
    load(client, solidb_database, "items", metric)
    audio = [k for k, (category, _) in DATA.items() if category == "audio"]
    expected = brute_force(metric, QUERY, audio, 4)

    by_sdbql = client.vector.search("items", QUERY, limit=4, filter="doc.category == @cat",
                                    bind_vars={"cat": "audio"})
    assert_same_ranking(by_sdbql, expected)
    literal = client.vector.search("items", QUERY, limit=4, filter='doc.category == "audio"')
    assert_same_ranking(literal, expected)
    by_equality = client.vector.search("items", QUERY, limit=4, filter={"category": "audio"})
    assert_same_ranking(by_equality, expected)


@pytest.mark.parametrize("metric", ["cosine", "euclidean", "dot_product"])
def test_search_by_document_finds_the_others_nearest_to_it(
    client: Client, solidb_database: str, metric: str
) -> None:
    load(client, solidb_database, "items", metric)
    source = "p07"
    others = [k for k in DATA if k != source]
    results = client.vector.search_by_document("items", source, "embedding", limit=5)
    assert_same_ranking(results, brute_force(metric, DATA[source][1], others, 5))


def test_quantize_keeps_results_sensible_and_dequantize_restores_them(
    client: Client, solidb_database: str
) -> None:
    load(client, solidb_database, "items", "cosine")
    exact = brute_force("cosine", QUERY, list(DATA), 5)

    info = client.vector.quantize("items", "items_idx", "scalar")
    assert info["quantization"] == "scalar"
    approx = client.vector.search("items", QUERY, limit=5)
    keys = [r["doc"]["_key"] for r in approx]
    assert keys[0] == exact[0][0]
    assert len(set(keys) & {k for k, _ in exact}) >= 4
    for result in approx:
        true_score = cosine(QUERY, DATA[result["doc"]["_key"]][1])
        assert result["score"] == pytest.approx(true_score, abs=0.05)

    info = client.vector.dequantize("items", "items_idx")
    assert info["quantization"] == "none"
    assert_same_ranking(client.vector.search("items", QUERY, limit=5), exact)


def test_binary_quantization_is_unsupported(client: Client, solidb_database: str) -> None:
    load(client, solidb_database, "items", "cosine")
    with pytest.raises(exc.UnsupportedError, match=r"solidb 2\.6\.0"):
        client.vector.quantize("items", "items_idx", "binary")
    assert client.vector.get_index_info("items", "items_idx")["quantization"] == "none"


def test_indexes_are_listed_and_deleted(client: Client, solidb_database: str) -> None:
    load(client, solidb_database, "items", "euclidean")
    client.vector.create_index("items", "other_idx", "embedding", DIM, "dot")
    listed = {i["name"]: i for i in client.vector.list_indexes("items")}
    assert {n: i["metric"] for n, i in listed.items()} == {"items_idx": "euclidean",
                                                         "other_idx": "dot_product"}
    # Two indexes of the vector's size: the search must be told which.
    with pytest.raises(exc.ValidationError, match="index_name"):
        client.vector.search("items", QUERY)
    results = client.vector.search("items", QUERY, limit=3, index_name="other_idx")
    assert_same_ranking(results, brute_force("dot_product", QUERY, list(DATA), 3))

    client.vector.delete_index("items", "other_idx")
    assert [i["name"] for i in client.vector.list_indexes("items")] == ["items_idx"]
    with pytest.raises(exc.NotFoundError):
        client.vector.get_index_info("items", "other_idx")
    with pytest.raises(exc.NotFoundError):
        client.vector.delete_index("items", "other_idx")


def test_vector_input_is_checked(client: Client, solidb_database: str) -> None:
    client.create_collection(solidb_database, "items")
    with pytest.raises(exc.ValidationError, match="metric"):
        client.vector.create_index("items", "bad", "embedding", DIM, "manhattan")
    with pytest.raises(exc.ValidationError, match="dimensions"):
        client.vector.create_index("items", "bad", "embedding", 0)
    with pytest.raises(exc.ValidationError):
        client.vector.search("items", [])
    with pytest.raises(exc.ValidationError):
        client.vector.search("items", [1.0, float("nan"), 0.0, 0.0])
    with pytest.raises(exc.NotFoundError):
        client.vector.search("items", QUERY)  # no index of that size
    assert client.vector.list_indexes("items") == []


def test_database_scoped_sub_clients_need_use_database(
    new_client: Callable[..., Client]
) -> None:
    unused = new_client()  # never connects: the error comes before any request
    for call in (lambda: unused.vector.list_indexes("items"),
                 lambda: unused.geo.list_indexes("items"),
                 lambda: unused.ttl.list_indexes("items"),
                 lambda: unused.columnar.list()):
        with pytest.raises(exc.ValidationError, match=r"use_database"):
            call()
