"""``client.geo``: geo indexes, nearest points and points inside a polygon.

Points may be stored as ``{lat, lon}``, ``{lat, lng}``, ``{latitude,
longitude}``, GeoJSON ``{"type": "Point", "coordinates": [lon, lat]}`` or a
``[lat, lon]`` pair; the server's index reads all of them. Distances are in
metres on a sphere of radius 6 371 km (haversine).

``near`` asks the driver for the nearest points without a radius and keeps
those within it: the driver's own radius search returns the points in key
order and cuts that list at ``limit``, so it can drop the nearest ones.
``within`` takes a GeoJSON polygon; the driver takes a ring of ``(lat, lon)``
without holes, so holes and multi-polygons are resolved here from the rings'
answers, fetched in one batch.
"""

from __future__ import annotations

from typing import Any, Dict, List, Mapping, Optional, Sequence, Set, Tuple

from ... import exceptions as exc
from ... import protocol
from ...ops import Op
from ..facade import AsyncFacade, SyncFacade
from . import _checks as check
from ._base import SubOps

JSON = Dict[str, Any]
Ring = List[Tuple[float, float]]

#: Most vertices the server accepts in one ring.
MAX_VERTICES = 10_000


def _latitude(value: Any) -> float:
    lat = check.number(value, "latitude")
    if not -90.0 <= lat <= 90.0:
        raise exc.ValidationError(f"latitude must be between -90 and 90, got {value}")
    return lat


def _longitude(value: Any) -> float:
    lon = check.number(value, "longitude")
    if not -180.0 <= lon <= 180.0:
        raise exc.ValidationError(f"longitude must be between -180 and 180, got {value}")
    return lon


def _ring(positions: Any) -> Ring:
    """A GeoJSON linear ring of ``[lon, lat]`` -> the server's ``(lat, lon)`` vertices."""
    if isinstance(positions, (str, bytes)) or not isinstance(positions, Sequence):
        raise exc.ValidationError("a polygon ring must be a list of [longitude, latitude]")
    ring: Ring = []
    for position in positions:
        if isinstance(position, (str, bytes)) or not isinstance(position, Sequence) \
                or len(position) not in (2, 3):
            raise exc.ValidationError(
                f"a ring position must be [longitude, latitude], got {position!r}"
            )
        ring.append((_latitude(position[1]), _longitude(position[0])))
    if len(ring) > 1 and ring[0] == ring[-1]:
        ring.pop()  # GeoJSON repeats the first position; the server closes rings itself
    if len(set(ring)) < 3:
        raise exc.ValidationError("a polygon ring needs at least 3 distinct positions")
    if len(ring) > MAX_VERTICES:
        raise exc.ValidationError(f"a polygon ring has at most {MAX_VERTICES} vertices")
    return ring


def polygons(geometry: Mapping[str, Any]) -> List[List[Ring]]:
    """The polygons of a GeoJSON Polygon or MultiPolygon, each as [outer ring, holes...]."""
    if not isinstance(geometry, Mapping):
        raise exc.ValidationError("geometry must be a GeoJSON Polygon or MultiPolygon mapping")
    kind = geometry.get("type")
    coordinates = geometry.get("coordinates")
    if kind == "Polygon":
        shapes = [coordinates]
    elif kind == "MultiPolygon":
        if isinstance(coordinates, (str, bytes)) or not isinstance(coordinates, Sequence):
            raise exc.ValidationError("MultiPolygon coordinates must be a list of polygons")
        shapes = list(coordinates)
    else:
        raise exc.ValidationError(
            f"geometry type must be 'Polygon' or 'MultiPolygon', got {kind!r}"
        )
    result: List[List[Ring]] = []
    for shape in shapes:
        if isinstance(shape, (str, bytes)) or not isinstance(shape, Sequence) or not shape:
            raise exc.ValidationError("a polygon must be a non-empty list of rings")
        result.append([_ring(r) for r in shape])
    if not result:
        raise exc.ValidationError("a MultiPolygon needs at least one polygon")
    return result


class GeoOps(SubOps):
    """Geo indexes of the current database's collections, and searches over them."""

    __facades__ = ("GeoClient", "AsyncGeoClient")

    def create_index(
        self, collection: str, name: str, field: str, geo_json: bool = False
    ) -> Op[JSON]:
        """Index the points in ``field``; returns the index as the server lists it.

        ``geo_json`` is accepted for the reference's sake: the index reads
        GeoJSON points and the other point shapes alike.
        """
        if not isinstance(geo_json, bool):
            raise exc.ValidationError("geo_json must be True or False")
        db = self._db
        collection = check.collection(collection)
        name = check.text(name, "name")
        _, listed = check.all_ok((yield from self._batch([
            protocol.command("create_geo_index", database=db, collection=collection, name=name,
                             field=check.text(field, "field")),
            protocol.command("list_geo_indexes", database=db, collection=collection),
        ])))
        return check.pick(listed.data or [], name, "Geo index")

    def near(
        self,
        collection: str,
        latitude: float,
        longitude: float,
        radius: Optional[float] = None,
        limit: int = 10,
        *,
        field: Optional[str] = None,
    ) -> Op[List[JSON]]:
        """The ``limit`` documents nearest to the point, within ``radius`` metres if given.

        Nearest first, each as ``{doc, distance}`` (metres). The indexed field
        is the collection's only geo index unless ``field`` says.
        """
        db = self._db
        collection = check.collection(collection)
        lat, lon = _latitude(latitude), _longitude(longitude)
        max_distance = None
        if radius is not None:
            max_distance = check.number(radius, "radius")
            if max_distance < 0:
                raise exc.ValidationError("radius must not be negative")
        limit = check.integer(limit, "limit")
        indexed = field or (yield from self._field_of(collection))
        pairs = yield from self._data("geo_near", database=db, collection=collection,
                                      field=indexed, latitude=lat, longitude=lon, limit=limit)
        hits = [{"doc": doc, "distance": float(distance)} for doc, distance in pairs or []]
        hits.sort(key=lambda hit: hit["distance"])  # already so; cheap to make sure
        if max_distance is not None:
            hits = [hit for hit in hits if hit["distance"] <= max_distance]
        return hits

    def within(
        self,
        collection: str,
        geometry: Mapping[str, Any],
        *,
        field: Optional[str] = None,
    ) -> Op[List[JSON]]:
        """The documents whose point lies inside a GeoJSON Polygon or MultiPolygon.

        Holes are honoured. A point exactly on an edge may fall either way.
        Documents come in key order.
        """
        db = self._db
        collection = check.collection(collection)
        shapes = polygons(geometry)
        indexed = field or (yield from self._field_of(collection))
        rings = [ring for shape in shapes for ring in shape]
        replies = check.all_ok((yield from self._batch([
            protocol.command("geo_within", database=db, collection=collection, field=indexed,
                             polygon=[list(v) for v in ring])
            for ring in rings
        ])))
        inside: Dict[str, JSON] = {}
        position = 0
        for shape in shapes:
            answers = [r.data or [] for r in replies[position:position + len(shape)]]
            position += len(shape)
            in_hole: Set[str] = {d["_key"] for holes in answers[1:] for d in holes}
            for doc in answers[0]:
                if doc["_key"] not in in_hole:
                    inside.setdefault(doc["_key"], doc)
        return [inside[key] for key in sorted(inside)]

    def list_indexes(self, collection: str) -> Op[List[JSON]]:
        """The collection's geo indexes."""
        return list((yield from self._data("list_geo_indexes", retry=True, database=self._db,
                                           collection=check.collection(collection))) or [])

    def delete_index(self, collection: str, name: str) -> Op[None]:
        """Drop a geo index; NotFoundError if there is none of that name."""
        yield from self._call("delete_geo_index", database=self._db,
                              collection=check.collection(collection),
                              name=check.text(name, "name"))

    def _field_of(self, collection: str) -> Op[str]:
        """The field of the collection's only geo index."""
        indexes = yield from self.list_indexes(collection)
        fields = sorted({str(i["field"]) for i in indexes})
        if len(fields) == 1:
            return fields[0]
        if not fields:
            raise exc.NotFoundError(f"no geo index on collection {collection!r}")
        raise exc.ValidationError(
            f"collection {collection!r} has geo indexes on {fields}; pass field="
        )


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class GeoClient(SyncFacade[GeoOps]):
    """Geo indexes of the current database's collections, and searches over them."""

    def create_index(self, collection: str, name: str, field: str, geo_json: bool = False) -> JSON:
        """Index the points in ``field``; returns the index as the server lists it.

        ``geo_json`` is accepted for the reference's sake: the index reads
        GeoJSON points and the other point shapes alike.
        """
        return self._executor.run(self._ops.create_index(collection, name, field, geo_json))

    def near(
        self,
        collection: str,
        latitude: float,
        longitude: float,
        radius: Optional[float] = None,
        limit: int = 10,
        *,
        field: Optional[str] = None,
    ) -> List[JSON]:
        """The ``limit`` documents nearest to the point, within ``radius`` metres if given.

        Nearest first, each as ``{doc, distance}`` (metres). The indexed field
        is the collection's only geo index unless ``field`` says.
        """
        return self._executor.run(self._ops.near(
            collection,
            latitude,
            longitude,
            radius,
            limit,
            field=field,
        ))

    def within(
        self,
        collection: str,
        geometry: Mapping[str, Any],
        *,
        field: Optional[str] = None,
    ) -> List[JSON]:
        """The documents whose point lies inside a GeoJSON Polygon or MultiPolygon.

        Holes are honoured. A point exactly on an edge may fall either way.
        Documents come in key order.
        """
        return self._executor.run(self._ops.within(collection, geometry, field=field))

    def list_indexes(self, collection: str) -> List[JSON]:
        """The collection's geo indexes."""
        return self._executor.run(self._ops.list_indexes(collection))

    def delete_index(self, collection: str, name: str) -> None:
        """Drop a geo index; NotFoundError if there is none of that name."""
        return self._executor.run(self._ops.delete_index(collection, name))


class AsyncGeoClient(AsyncFacade[GeoOps]):
    """Geo indexes of the current database's collections, and searches over them."""

    async def create_index(
        self,
        collection: str,
        name: str,
        field: str,
        geo_json: bool = False,
    ) -> JSON:
        """Index the points in ``field``; returns the index as the server lists it.

        ``geo_json`` is accepted for the reference's sake: the index reads
        GeoJSON points and the other point shapes alike.
        """
        return await self._executor.run(self._ops.create_index(collection, name, field, geo_json))

    async def near(
        self,
        collection: str,
        latitude: float,
        longitude: float,
        radius: Optional[float] = None,
        limit: int = 10,
        *,
        field: Optional[str] = None,
    ) -> List[JSON]:
        """The ``limit`` documents nearest to the point, within ``radius`` metres if given.

        Nearest first, each as ``{doc, distance}`` (metres). The indexed field
        is the collection's only geo index unless ``field`` says.
        """
        return await self._executor.run(self._ops.near(
            collection,
            latitude,
            longitude,
            radius,
            limit,
            field=field,
        ))

    async def within(
        self,
        collection: str,
        geometry: Mapping[str, Any],
        *,
        field: Optional[str] = None,
    ) -> List[JSON]:
        """The documents whose point lies inside a GeoJSON Polygon or MultiPolygon.

        Holes are honoured. A point exactly on an edge may fall either way.
        Documents come in key order.
        """
        return await self._executor.run(self._ops.within(collection, geometry, field=field))

    async def list_indexes(self, collection: str) -> List[JSON]:
        """The collection's geo indexes."""
        return await self._executor.run(self._ops.list_indexes(collection))

    async def delete_index(self, collection: str, name: str) -> None:
        """Drop a geo index; NotFoundError if there is none of that name."""
        return await self._executor.run(self._ops.delete_index(collection, name))
