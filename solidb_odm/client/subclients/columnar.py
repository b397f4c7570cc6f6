"""``client.columnar``: column-oriented tables for analytics.

Which path each call takes on solidb 2.6.0, and why:

- ``create``, ``insert`` and ``delete`` use the driver's columnar commands.
  Column types are translated to the server's (``float`` -> ``float64``,
  ``datetime`` -> ``timestamp`` ...).
- ``aggregate`` is one SDBQL ``COLLECT ... AGGREGATE`` over the table (SDBQL
  reads columnar tables): the driver's own grouped aggregation takes one
  metric per call, turns group values that look like numbers into numbers and
  splits values containing ``|`` into wrong groups.
- ``query`` takes SQL, which only the server's HTTP ``/sql`` endpoint
  understands; the reference's ``@name`` parameters are sent as the ``:name``
  that endpoint expects.
- ``stats`` reads the HTTP table description: the driver reports no sizes.
- ``list`` reads the driver's collection list: the driver's ``list_columnar``
  looks for metadata where none is stored and answers ``[]``.
- ``add_column`` and ``drop_column``: the server cannot change a table's
  columns, so the table is rebuilt (see :meth:`ColumnarClient.add_column`).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from ... import exceptions as exc
from ... import names, protocol
from ...ops import Op
from ..commands import BULK_CHUNK_BYTES
from ..facade import AsyncFacade, SyncFacade
from ..http import path as http_path
from . import _checks as check
from ._base import SubOps, unsupported

JSON = Dict[str, Any]

#: Every accepted type spelling -> the server's column type.
COLUMN_TYPES = {
    "int": "int64", "integer": "int64", "int64": "int64", "bigint": "int64", "long": "int64",
    "float": "float64", "double": "float64", "float64": "float64", "number": "float64",
    "string": "string", "str": "string", "text": "string", "varchar": "string",
    "bool": "bool", "boolean": "bool",
    "datetime": "timestamp", "timestamp": "timestamp", "date": "timestamp",
    "json": "json", "object": "json", "array": "json",
}
#: Aggregate functions -> their canonical name (the suffix of result keys).
FUNCTIONS = {
    "avg": "avg", "average": "avg", "mean": "avg", "sum": "sum", "min": "min", "max": "max",
    "count": "count", "count_distinct": "count_distinct",
}
#: Filter operators for ``aggregate``'s ``filters``: ``{"value": {"gt": 40}}``.
OPERATORS = {"eq": "==", "ne": "!=", "gt": ">", "gte": ">=", "lt": "<", "lte": "<=",
             "in": "IN"}
_PREFIX = "_columnar_"
_SELECT = re.compile(r"^\s*SELECT\b", re.IGNORECASE)


def _table(name: Any) -> str:
    """A table name; it also names the collection ``_columnar_<name>``."""
    table = names.collection_name(name)
    if len(_PREFIX) + len(table) > 128:
        raise exc.ValidationError(f"table name {table!r} is too long")
    return table


def column_def(column: Mapping[str, Any]) -> JSON:
    """A reference column ``{name, type, nullable?}`` as the server's column definition."""
    if not isinstance(column, Mapping):
        raise exc.ValidationError("a column must be a mapping like {'name': 'x', 'type': 'float'}")
    unknown = set(column) - {"name", "type", "nullable"}
    if unknown:
        raise exc.ValidationError(f"unknown column keys {sorted(unknown)}")
    kind = check.text(column.get("type"), "column type").lower()
    if kind not in COLUMN_TYPES:
        raise exc.ValidationError(
            f"unknown column type {column.get('type')!r}; use one of {sorted(COLUMN_TYPES)}"
        )
    nullable = column.get("nullable", True)
    if not isinstance(nullable, bool):
        raise exc.ValidationError("nullable must be True or False")
    return {"name": names.field_segment(column.get("name")), "data_type": COLUMN_TYPES[kind],
            "nullable": nullable}


def _column_defs(columns: Sequence[Mapping[str, Any]]) -> List[JSON]:
    if isinstance(columns, Mapping) or not isinstance(columns, Sequence) or not columns:
        raise exc.ValidationError("columns must be a non-empty list of column mappings")
    defs = [column_def(c) for c in columns]
    seen = [d["name"] for d in defs]
    if len(set(seen)) != len(seen):
        raise exc.ValidationError(f"duplicate column names in {seen}")
    return defs


def _filter(filters: Mapping[str, Any], variables: JSON) -> List[str]:
    """SDBQL conditions on row ``r`` for ``filters``; their values go into ``variables``.

    ``{"col": value}`` is equality, ``{"col": [a, b]}`` membership and
    ``{"col": {"gt": 1, "lte": 5}}`` comparisons.
    """
    if not isinstance(filters, Mapping):
        raise exc.ValidationError("filters must be a mapping of column -> value")
    conditions: List[str] = []

    def bind(value: Any) -> str:
        name = f"f{len(variables)}"
        variables[name] = value
        return f"@{name}"

    for column, condition in filters.items():
        field = names.field_access("r", (names.field_segment(column),))
        if isinstance(condition, Mapping):
            if not condition:
                raise exc.ValidationError(f"empty condition for column {column!r}")
            for op, value in condition.items():
                operator = OPERATORS.get(str(op).lower())
                if operator is None:
                    raise exc.ValidationError(
                        f"unknown filter operator {op!r}; use one of {sorted(OPERATORS)}"
                    )
                if operator == "IN":
                    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
                        raise exc.ValidationError("the 'in' operator takes a list")
                    value = list(value)
                conditions.append(f"{field} {operator} {bind(value)}")
        elif isinstance(condition, (list, tuple)):
            conditions.append(f"{field} IN {bind(list(condition))}")
        else:
            conditions.append(f"{field} == {bind(condition)}")
    return conditions


def aggregate_query(table: str, metrics: List[Tuple[str, str]], groups: List[str],
                    conditions: List[str]) -> str:
    """One SDBQL ``COLLECT ... AGGREGATE`` computing every metric per group."""
    aggregates, outputs = [], [f'"{g}": g{i}' for i, g in enumerate(groups)]
    for i, (column, function) in enumerate(metrics):
        value = names.field_access("r", (column,))
        number = f"(IS_NUMBER({value}) ? {value} : null)"
        if function == "count":
            aggregates.append(f"a{i} = COUNT({value})")
            result = f"a{i}"
        elif function == "count_distinct":
            # COUNT_DISTINCT counts null as a value; a non-null count leaves it out.
            aggregates += [f"a{i} = COUNT_DISTINCT({value})", f"a{i}_all = COUNT(1)",
                           f"a{i}_set = COUNT({value})"]
            result = f"a{i} - (a{i}_all > a{i}_set ? 1 : 0)"
        else:
            aggregates.append(f"a{i} = {function.upper()}({number})")
            result = f"a{i}"
        outputs.append(f'"{column}_{function}": {result}')
    keys = [f"g{i} = {names.field_access('r', (g,))}" for i, g in enumerate(groups)]
    parts = [f"FOR r IN {names.collection_name(table)}"]
    if conditions:
        parts.append(f"FILTER {' AND '.join(conditions)}")
    parts.append(" ".join(["COLLECT", *([", ".join(keys)] if keys else []),
                           "AGGREGATE", ", ".join(aggregates)]))
    parts.append(f"RETURN {{{', '.join(outputs)}}}")
    return " ".join(parts)


def sql_placeholders(sql: str) -> str:
    """The reference's ``@name`` parameters as the server's SQL spells them, ``:name``.

    Quoted text is left alone.
    """
    out, quote = [], ""
    for i, ch in enumerate(sql):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"`":
            quote = ch
        elif ch == "@" and i + 1 < len(sql) and (sql[i + 1].isalnum() or sql[i + 1] == "_"):
            ch = ":"
        out.append(ch)
    return "".join(out)


def _metrics(metrics: Any) -> List[Tuple[str, str]]:
    if isinstance(metrics, Mapping) or not isinstance(metrics, Sequence) or not metrics:
        raise exc.ValidationError("metrics must be a non-empty list of {column, function}")
    result = []
    for metric in metrics:
        if not isinstance(metric, Mapping):
            raise exc.ValidationError(f"a metric must be {{column, function}}, got {metric!r}")
        function = check.text(metric.get("function"), "metric function").lower()
        if function not in FUNCTIONS:
            raise exc.ValidationError(
                f"unknown aggregate function {function!r}; use one of {sorted(FUNCTIONS)}"
            )
        result.append((names.field_segment(metric.get("column")), FUNCTIONS[function]))
    return list(dict.fromkeys(result))


class ColumnarOps(SubOps):
    """Columnar tables of the current database."""

    __facades__ = ("ColumnarClient", "AsyncColumnarClient")

    def create(self, name: str, columns: Sequence[Mapping[str, Any]]) -> Op[JSON]:
        """Create a table of ``columns`` (``{name, type, nullable?}``); returns its description.

        Types: ``int``, ``float``, ``string``, ``bool``, ``datetime`` (and
        their synonyms) or ``json``. Columns are nullable unless told otherwise.
        """
        db = self._db
        name = _table(name)
        _, described = check.all_ok((yield from self._batch([
            protocol.command("create_columnar", database=db, name=name,
                             columns=_column_defs(columns)),
            protocol.command("get_columnar", database=db, collection=name),
        ])))
        return dict(described.data or {})

    def insert(self, name: str, rows: Sequence[Mapping[str, Any]]) -> Op[int]:
        """Append rows (mappings of column -> value); returns how many were stored.

        Values are stored as given: the column types describe, they do not
        convert. Keys that are not columns are not queryable.
        """
        db = self._db
        name = _table(name)
        if isinstance(rows, Mapping) or not isinstance(rows, Sequence):
            raise exc.ValidationError("rows must be a list of mappings")
        batch = [dict(r) if isinstance(r, Mapping) else None for r in rows]
        if any(r is None for r in batch):
            raise exc.ValidationError("every row must be a mapping of column -> value")
        if not batch:
            return 0
        total = 0
        for chunk in protocol.chunks_by_size([r for r in batch if r is not None],
                                             BULK_CHUNK_BYTES):
            reply = yield from self._call("insert_columnar", database=db, collection=name,
                                          rows=chunk)
            total += int(reply.count or 0)
        return total

    def query(
        self, name: str, sql: str, params: Optional[Mapping[str, Any]] = None
    ) -> Op[List[Any]]:
        """Run a ``SELECT ... FROM <name>`` with ``@params``; returns the rows.

        SELECT columns or ``*``, WHERE, ORDER BY and LIMIT, in the server's
        SQL dialect. Only SELECT is accepted here: this is a read. For
        grouped figures use :meth:`aggregate`.
        """
        name = _table(name)
        text = check.text(sql, "sql")
        if not _SELECT.match(text):
            raise exc.ValidationError("columnar.query runs SELECT statements only")
        if not re.search(rf"\bFROM\s+[`\"]?{re.escape(name)}\b", text, re.IGNORECASE):
            raise exc.ValidationError(f"the query does not read FROM {name}")
        if re.search(r"\bGROUP\s+BY\b", text, re.IGNORECASE):
            raise unsupported(
                "columnar.query with GROUP BY",
                "the server translates GROUP BY into SDBQL that fails to run; use "
                "columnar.aggregate",
            )
        body = yield from self._http(
            "POST", http_path("_api", "database", self._db, "sql"),
            {"query": sql_placeholders(text), "bind_vars": dict(params or {})},
        )
        return list((body or {}).get("result") or [])

    def aggregate(self, name: str, spec: Mapping[str, Any]) -> Op[List[JSON]]:
        """Aggregate ``metrics`` (``{column, function}``), optionally per ``group_by`` and ``filters``.

        Returns one row per group (one row without ``group_by``) holding the
        group columns and ``<column>_<function>`` per metric, e.g. ``value_avg``.
        avg, sum, min and max read the column's numbers; count and
        count_distinct its non-null values. ``filters`` maps a column to a
        value, a list (any of) or ``{"gt"|"gte"|"lt"|"lte"|"ne"|"eq"|"in": value}``.
        """
        db = self._db
        name = _table(name)
        if not isinstance(spec, Mapping):
            raise exc.ValidationError("spec must be a mapping with 'metrics'")
        unknown = set(spec) - {"metrics", "group_by", "filters"}
        if unknown:
            raise exc.ValidationError(f"unknown aggregate keys {sorted(unknown)}")
        metrics = _metrics(spec.get("metrics"))
        group_by = spec.get("group_by")
        if isinstance(group_by, str):
            group_by = [group_by]
        groups = [names.field_segment(g) for g in check.string_list(group_by or [], "group_by")]
        variables: JSON = {}
        conditions = _filter(spec.get("filters") or {}, variables)
        rows = yield from self._sdbql(db, aggregate_query(name, metrics, groups, conditions),
                                      variables)
        return [dict(r) for r in rows]

    def stats(self, name: str) -> Op[JSON]:
        """``{name, row_count, size_bytes, uncompressed_size_bytes, compression_ratio, ...}``.

        ``size_bytes`` is the stored (compressed) size of the column data.
        """
        described = (yield from self._http(
            "GET", http_path("_api", "database", self._db, "columnar", _table(name))
        )) or {}
        sizes = described.get("stats") or {}
        return {
            "name": described.get("name"),
            "row_count": described.get("row_count"),
            "size_bytes": sizes.get("compressed_size_bytes"),
            "uncompressed_size_bytes": sizes.get("uncompressed_size_bytes"),
            "compression_ratio": sizes.get("compression_ratio"),
            "columns": described.get("columns"),
            "compression": described.get("compression"),
            "created_at": described.get("created_at"),
            "last_updated_at": described.get("last_updated_at"),
        }

    def add_column(
        self,
        name: str,
        column: str,
        type: str,
        default_value: Any = None,
        *,
        nullable: Optional[bool] = None,
    ) -> Op[JSON]:
        """Add a column, set to ``default_value`` in every existing row; returns the table.

        solidb 2.6.0 cannot change a table's columns, so the table is rebuilt:
        its rows are copied into a staging table, the table is re-created
        with the new columns and refilled, then the staging table is dropped.
        If rows are added meanwhile, it stops before deleting anything and
        raises ConflictError; if refilling fails, the staging table named in
        the error still holds every row. Not atomic: the table is briefly
        absent, so do this while nothing else writes to it. Column indexes
        are re-created; the table's creation time is reset.
        """
        new = column_def({"name": column, "type": type,
                          "nullable": (default_value is None) if nullable is None else nullable})

        def change(columns: List[JSON], rows: List[JSON]) -> Tuple[List[JSON], List[JSON]]:
            if any(c["name"] == new["name"] for c in columns):
                raise exc.AlreadyExistsError(f"table {name!r} already has a column {column!r}")
            return [*columns, new], [{**r, new["name"]: default_value} for r in rows]

        return (yield from self._rebuild(name, change))

    def drop_column(self, name: str, column: str) -> Op[JSON]:
        """Remove a column and its values; returns the table. Rebuilds it, as :meth:`add_column`."""
        column = names.field_segment(column)

        def change(columns: List[JSON], rows: List[JSON]) -> Tuple[List[JSON], List[JSON]]:
            kept = [c for c in columns if c["name"] != column]
            if len(kept) == len(columns):
                raise exc.NotFoundError(f"table {name!r} has no column {column!r}")
            if not kept:
                raise exc.ValidationError("cannot drop a table's last column; delete the table")
            return kept, [{k: v for k, v in r.items() if k != column} for r in rows]

        return (yield from self._rebuild(name, change))

    def list(self) -> Op[List[str]]:
        """The names of the database's columnar tables."""
        collections = (yield from self._data("list_collections", retry=True,
                                             database=self._db)) or []
        return sorted(c[len(_PREFIX):] for c in collections if str(c).startswith(_PREFIX))

    def delete(self, name: str) -> Op[None]:
        """Delete a table and all its rows."""
        yield from self._call("delete_columnar", database=self._db, collection=_table(name))

    # -- rebuild ---------------------------------------------------------------

    def _rebuild(
        self,
        name: str,
        change: Callable[[List[JSON], List[JSON]], Tuple[List[JSON], List[JSON]]],
    ) -> Op[JSON]:
        db = self._db
        name = _table(name)
        before, read, indexes = check.all_ok((yield from self._batch([
            protocol.command("get_columnar", database=db, collection=name),
            protocol.command("query_columnar", database=db, collection=name),
            protocol.command("list_columnar_indexes", database=db, collection=name),
        ])))
        meta = dict(before.data or {})
        rows = [dict(r) for r in read.data or []]
        if len(rows) != meta.get("row_count"):
            raise exc.ConflictError(f"table {name!r} changed while it was read; try again")
        columns = [{"name": c["name"], "data_type": c["data_type"], "nullable": c["nullable"]}
                   for c in meta.get("columns") or []]
        new_columns, new_rows = change(columns, rows)
        kept = {c["name"] for c in new_columns}
        staging = _table(f"{name[:80]}__rebuild_{uuid.uuid4().hex[:12]}")
        yield from self._fill(db, staging, new_columns, new_rows)
        now = (yield from self._data("get_columnar", retry=True, database=db,
                                     collection=name)) or {}
        if now.get("row_count") != meta.get("row_count") \
                or now.get("last_updated_at") != meta.get("last_updated_at"):
            yield from self._call("delete_columnar", database=db, collection=staging)
            raise exc.ConflictError(f"table {name!r} changed during the rebuild; nothing changed")
        yield from self._call("delete_columnar", database=db, collection=name)
        try:
            yield from self._fill(db, name, new_columns, new_rows)
            for index in indexes.data or []:
                if index.get("column") in kept:
                    yield from self._restore_index(db, name, index)
        except exc.SoliDBError as err:
            raise exc.ServerError(
                f"rebuilding table {name!r} failed ({err}); every row is in the staging "
                f"table {staging!r}"
            ) from err
        yield from self._call("delete_columnar", database=db, collection=staging)
        return dict((yield from self._data("get_columnar", retry=True, database=db,
                                           collection=name)) or {})

    def _fill(self, db: str, name: str, columns: List[JSON], rows: List[JSON]) -> Op[None]:
        yield from self._call("create_columnar", database=db, name=name, columns=columns)
        for chunk in protocol.chunks_by_size(rows, BULK_CHUNK_BYTES) if rows else ():
            yield from self._call("insert_columnar", database=db, collection=name, rows=chunk)

    def _restore_index(self, db: str, name: str, index: Mapping[str, Any]) -> Op[None]:
        """Re-create a column index; the driver makes only sorted ones, HTTP any kind."""
        if index.get("index_type", "sorted") == "sorted":
            yield from self._call("create_columnar_index", database=db, collection=name,
                                  column=index["column"])
        else:
            yield from self._http(
                "POST", http_path("_api", "database", db, "columnar", name, "index"),
                {"column": index["column"], "index_type": index["index_type"]},
            )


# --- generated by scripts/gen_facades.py: do not edit below this line ---


class ColumnarClient(SyncFacade[ColumnarOps]):
    """Columnar tables of the current database."""

    def create(self, name: str, columns: Sequence[Mapping[str, Any]]) -> JSON:
        """Create a table of ``columns`` (``{name, type, nullable?}``); returns its description.

        Types: ``int``, ``float``, ``string``, ``bool``, ``datetime`` (and
        their synonyms) or ``json``. Columns are nullable unless told otherwise.
        """
        return self._executor.run(self._ops.create(name, columns))

    def insert(self, name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Append rows (mappings of column -> value); returns how many were stored.

        Values are stored as given: the column types describe, they do not
        convert. Keys that are not columns are not queryable.
        """
        return self._executor.run(self._ops.insert(name, rows))

    def query(self, name: str, sql: str, params: Optional[Mapping[str, Any]] = None) -> List[Any]:
        """Run a ``SELECT ... FROM <name>`` with ``@params``; returns the rows.

        SELECT columns or ``*``, WHERE, ORDER BY and LIMIT, in the server's
        SQL dialect. Only SELECT is accepted here: this is a read. For
        grouped figures use :meth:`aggregate`.
        """
        return self._executor.run(self._ops.query(name, sql, params))

    def aggregate(self, name: str, spec: Mapping[str, Any]) -> List[JSON]:
        """Aggregate ``metrics`` (``{column, function}``), optionally per ``group_by`` and ``filters``.

        Returns one row per group (one row without ``group_by``) holding the
        group columns and ``<column>_<function>`` per metric, e.g. ``value_avg``.
        avg, sum, min and max read the column's numbers; count and
        count_distinct its non-null values. ``filters`` maps a column to a
        value, a list (any of) or ``{"gt"|"gte"|"lt"|"lte"|"ne"|"eq"|"in": value}``.
        """
        return self._executor.run(self._ops.aggregate(name, spec))

    def stats(self, name: str) -> JSON:
        """``{name, row_count, size_bytes, uncompressed_size_bytes, compression_ratio, ...}``.

        ``size_bytes`` is the stored (compressed) size of the column data.
        """
        return self._executor.run(self._ops.stats(name))

    def add_column(
        self,
        name: str,
        column: str,
        type: str,
        default_value: Any = None,
        *,
        nullable: Optional[bool] = None,
    ) -> JSON:
        """Add a column, set to ``default_value`` in every existing row; returns the table.

        solidb 2.6.0 cannot change a table's columns, so the table is rebuilt:
        its rows are copied into a staging table, the table is re-created
        with the new columns and refilled, then the staging table is dropped.
        If rows are added meanwhile, it stops before deleting anything and
        raises ConflictError; if refilling fails, the staging table named in
        the error still holds every row. Not atomic: the table is briefly
        absent, so do this while nothing else writes to it. Column indexes
        are re-created; the table's creation time is reset.
        """
        return self._executor.run(self._ops.add_column(
            name,
            column,
            type,
            default_value,
            nullable=nullable,
        ))

    def drop_column(self, name: str, column: str) -> JSON:
        """Remove a column and its values; returns the table. Rebuilds it, as :meth:`add_column`."""
        return self._executor.run(self._ops.drop_column(name, column))

    def list(self) -> List[str]:
        """The names of the database's columnar tables."""
        return self._executor.run(self._ops.list())

    def delete(self, name: str) -> None:
        """Delete a table and all its rows."""
        return self._executor.run(self._ops.delete(name))


class AsyncColumnarClient(AsyncFacade[ColumnarOps]):
    """Columnar tables of the current database."""

    async def create(self, name: str, columns: Sequence[Mapping[str, Any]]) -> JSON:
        """Create a table of ``columns`` (``{name, type, nullable?}``); returns its description.

        Types: ``int``, ``float``, ``string``, ``bool``, ``datetime`` (and
        their synonyms) or ``json``. Columns are nullable unless told otherwise.
        """
        return await self._executor.run(self._ops.create(name, columns))

    async def insert(self, name: str, rows: Sequence[Mapping[str, Any]]) -> int:
        """Append rows (mappings of column -> value); returns how many were stored.

        Values are stored as given: the column types describe, they do not
        convert. Keys that are not columns are not queryable.
        """
        return await self._executor.run(self._ops.insert(name, rows))

    async def query(
        self,
        name: str,
        sql: str,
        params: Optional[Mapping[str, Any]] = None,
    ) -> List[Any]:
        """Run a ``SELECT ... FROM <name>`` with ``@params``; returns the rows.

        SELECT columns or ``*``, WHERE, ORDER BY and LIMIT, in the server's
        SQL dialect. Only SELECT is accepted here: this is a read. For
        grouped figures use :meth:`aggregate`.
        """
        return await self._executor.run(self._ops.query(name, sql, params))

    async def aggregate(self, name: str, spec: Mapping[str, Any]) -> List[JSON]:
        """Aggregate ``metrics`` (``{column, function}``), optionally per ``group_by`` and ``filters``.

        Returns one row per group (one row without ``group_by``) holding the
        group columns and ``<column>_<function>`` per metric, e.g. ``value_avg``.
        avg, sum, min and max read the column's numbers; count and
        count_distinct its non-null values. ``filters`` maps a column to a
        value, a list (any of) or ``{"gt"|"gte"|"lt"|"lte"|"ne"|"eq"|"in": value}``.
        """
        return await self._executor.run(self._ops.aggregate(name, spec))

    async def stats(self, name: str) -> JSON:
        """``{name, row_count, size_bytes, uncompressed_size_bytes, compression_ratio, ...}``.

        ``size_bytes`` is the stored (compressed) size of the column data.
        """
        return await self._executor.run(self._ops.stats(name))

    async def add_column(
        self,
        name: str,
        column: str,
        type: str,
        default_value: Any = None,
        *,
        nullable: Optional[bool] = None,
    ) -> JSON:
        """Add a column, set to ``default_value`` in every existing row; returns the table.

        solidb 2.6.0 cannot change a table's columns, so the table is rebuilt:
        its rows are copied into a staging table, the table is re-created
        with the new columns and refilled, then the staging table is dropped.
        If rows are added meanwhile, it stops before deleting anything and
        raises ConflictError; if refilling fails, the staging table named in
        the error still holds every row. Not atomic: the table is briefly
        absent, so do this while nothing else writes to it. Column indexes
        are re-created; the table's creation time is reset.
        """
        return await self._executor.run(self._ops.add_column(
            name,
            column,
            type,
            default_value,
            nullable=nullable,
        ))

    async def drop_column(self, name: str, column: str) -> JSON:
        """Remove a column and its values; returns the table. Rebuilds it, as :meth:`add_column`."""
        return await self._executor.run(self._ops.drop_column(name, column))

    async def list(self) -> List[str]:
        """The names of the database's columnar tables."""
        return await self._executor.run(self._ops.list())

    async def delete(self, name: str) -> None:
        """Delete a table and all its rows."""
        return await self._executor.run(self._ops.delete(name))
