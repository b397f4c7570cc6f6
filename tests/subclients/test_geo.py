"""client.geo: nearest points and polygons, checked against computations made here."""

from __future__ import annotations

import math
from typing import Dict, List, Sequence, Tuple

import pytest

from solidb_odm import Client
from solidb_odm import exceptions as exc

PARIS = (48.8566, 2.3522)

#: key -> (lat, lon): a 7 x 7 grid around Paris, about 1.1 km x 0.73 km apart,
#: offset so that no point sits on the test polygons' edges.
POINTS: Dict[str, Tuple[float, float]] = {
    f"g{i}{j}": (48.8266 + 0.01 * i + 0.0013, 2.3222 + 0.01 * j + 0.0017)
    for i in range(7)
    for j in range(7)
}


def haversine(a: Tuple[float, float], b: Tuple[float, float]) -> float:
    """Great-circle distance in metres (mean Earth radius)."""
    lat1, lon1, lat2, lon2 = map(math.radians, (*a, *b))
    h = (math.sin((lat2 - lat1) / 2) ** 2
         + math.cos(lat1) * math.cos(lat2) * math.sin((lon2 - lon1) / 2) ** 2)
    return 2 * 6_371_008.8 * math.asin(math.sqrt(h))


def inside(point: Tuple[float, float], ring: Sequence[Tuple[float, float]]) -> bool:
    """Ray casting in the (lon, lat) plane; ``ring`` is [(lon, lat), ...]."""
    lat, lon = point
    result = False
    j = len(ring) - 1
    for i in range(len(ring)):
        (xi, yi), (xj, yj) = ring[i], ring[j]
        if (yi > lat) != (yj > lat) and lon < (xj - xi) * (lat - yi) / (yj - yi) + xi:
            result = not result
        j = i
    return result


def geojson_ring(ring: Sequence[Tuple[float, float]]) -> List[List[float]]:
    return [list(p) for p in ring] + [list(ring[0])]


@pytest.fixture
def client(solidb_client: Client, solidb_database: str) -> Client:
    """Stores with points in three of the shapes the index reads."""
    solidb_client.use_database(solidb_database)
    solidb_client.create_collection(solidb_database, "stores")
    info = solidb_client.geo.create_index("stores", "location_idx", "location", geo_json=True)
    assert info["field"] == "location"
    docs = []
    for n, (key, (lat, lon)) in enumerate(sorted(POINTS.items())):
        if n % 3 == 0:
            location: object = {"type": "Point", "coordinates": [lon, lat]}
        elif n % 3 == 1:
            location = {"lat": lat, "lon": lon}
        else:
            location = {"latitude": lat, "longitude": lon}
        docs.append({"_key": key, "name": f"store {key}", "location": location})
    solidb_client.bulk_insert(solidb_database, "stores", docs)
    return solidb_client


@pytest.mark.parametrize("radius, limit", [(2500, 100), (5000, 100), (5000, 7), (800, 3)])
def test_near_returns_the_nearest_within_the_radius_sorted(
    client: Client, radius: float, limit: int
) -> None:
    expected = sorted(
        ((key, haversine(PARIS, point)) for key, point in POINTS.items()
         if haversine(PARIS, point) <= radius * 0.99),
        key=lambda pair: pair[1],
    )[:limit]
    results = client.geo.near("stores", *PARIS, radius=radius, limit=limit)
    keys = [r["doc"]["_key"] for r in results]
    assert keys[:len(expected)] == [k for k, _ in expected]
    assert len(results) <= limit
    distances = [r["distance"] for r in results]
    assert distances == sorted(distances)
    for result in results:
        truth = haversine(PARIS, POINTS[result["doc"]["_key"]])
        assert result["distance"] == pytest.approx(truth, rel=0.01)
        assert result["distance"] <= radius
        assert result["doc"]["name"] == f"store {result['doc']['_key']}"
    # Nothing within the radius was left out in favour of a farther point.
    if len(results) < limit:
        within = {k for k, p in POINTS.items() if haversine(PARIS, p) <= radius * 0.99}
        assert within <= set(keys)


def test_near_without_radius_returns_the_limit_nearest(client: Client) -> None:
    results = client.geo.near("stores", *PARIS, limit=5)
    expected = sorted(POINTS, key=lambda k: haversine(PARIS, POINTS[k]))[:5]
    assert [r["doc"]["_key"] for r in results] == expected
    named = client.geo.near("stores", *PARIS, limit=5, field="location")
    assert [r["doc"]["_key"] for r in named] == expected


def test_near_needs_a_field_when_there_are_several_indexes(client: Client,
                                                           solidb_database: str) -> None:
    client.insert(solidb_database, "stores", {"name": "hq", "office": {"lat": 48.0, "lon": 2.0}})
    client.geo.create_index("stores", "office_idx", "office")
    with pytest.raises(exc.ValidationError, match="field="):
        client.geo.near("stores", *PARIS)
    [hq] = client.geo.near("stores", *PARIS, field="office")
    assert hq["doc"]["name"] == "hq"
    assert hq["distance"] == pytest.approx(haversine(PARIS, (48.0, 2.0)), rel=0.01)


def test_within_polygon_returns_exactly_the_points_inside(client: Client) -> None:
    # A concave "L" shape, as [lon, lat].
    ring = [(2.33, 48.83), (2.37, 48.83), (2.37, 48.85), (2.35, 48.85), (2.35, 48.87),
            (2.33, 48.87)]
    polygon = {"type": "Polygon", "coordinates": [geojson_ring(ring)]}
    expected = sorted(k for k, p in POINTS.items() if inside(p, ring))
    assert 5 < len(expected) < len(POINTS)
    docs = client.geo.within("stores", geometry=polygon)
    assert [d["_key"] for d in docs] == expected


def test_within_honours_holes_and_multipolygons(client: Client) -> None:
    outer = [(2.32, 48.82), (2.40, 48.82), (2.40, 48.90), (2.32, 48.90)]
    hole = [(2.34, 48.84), (2.37, 48.84), (2.37, 48.87), (2.34, 48.87)]
    second = [(2.25, 48.82), (2.30, 48.82), (2.30, 48.90), (2.25, 48.90)]  # no points there
    shape = {"type": "Polygon", "coordinates": [geojson_ring(outer), geojson_ring(hole)]}
    expected = sorted(k for k, p in POINTS.items() if inside(p, outer) and not inside(p, hole))
    assert 0 < len(expected) < len(POINTS)
    assert [d["_key"] for d in client.geo.within("stores", shape)] == expected

    multi = {"type": "MultiPolygon",
             "coordinates": [[geojson_ring(hole)], [geojson_ring(second)]]}
    expected_multi = sorted(k for k, p in POINTS.items() if inside(p, hole))
    assert [d["_key"] for d in client.geo.within("stores", multi)] == expected_multi


def test_reference_polygon_example(client: Client) -> None:
    polygon = {
        "type": "Polygon",
        "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]],
    }
    assert len(client.geo.within("stores", geometry=polygon)) == len(POINTS)


def test_indexes_are_listed_and_deleted(client: Client) -> None:
    assert [i["name"] for i in client.geo.list_indexes("stores")] == ["location_idx"]
    client.geo.delete_index("stores", "location_idx")
    assert client.geo.list_indexes("stores") == []
    with pytest.raises(exc.NotFoundError):
        client.geo.near("stores", *PARIS, radius=1000)
    with pytest.raises(exc.NotFoundError):
        client.geo.delete_index("stores", "location_idx")


def test_geo_input_is_checked(client: Client) -> None:
    with pytest.raises(exc.ValidationError, match="latitude"):
        client.geo.near("stores", 91.0, 2.0)
    with pytest.raises(exc.ValidationError, match="radius"):
        client.geo.near("stores", *PARIS, radius=-1)
    with pytest.raises(exc.ValidationError, match="3 distinct"):
        client.geo.within("stores", {"type": "Polygon",
                                     "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.3, 48.8]]]})
    with pytest.raises(exc.ValidationError, match="Polygon"):
        client.geo.within("stores", {"type": "Point", "coordinates": [2.3, 48.8]})
    with pytest.raises(exc.ValidationError, match="longitude"):
        client.geo.within("stores", {"type": "Polygon",
                                     "coordinates": [[[200, 48.8], [2.4, 48.8], [2.4, 48.9]]]})
