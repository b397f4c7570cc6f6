"""Make the server match the models: collections, indexes, and optionally JSON schema."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Dict, List, Type

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import core_schema

from . import exceptions as exc
from .ops import Command, Op, call
from .resolution import SYSTEM_NAMES

if TYPE_CHECKING:
    from .database import Database
    from .models import Document


class StoredJsonSchema(GenerateJsonSchema):
    """JSON schema of the stored form: a Decimal is a number there (``solidb_odm.storage``)."""

    def decimal_schema(self, schema: core_schema.DecimalSchema) -> JsonSchemaValue:
        return {"type": "number"}


def json_schema(model: Type[Document]) -> Dict[str, Any]:
    """The model's JSON schema as stored documents look (stored names, system fields optional)."""
    schema = model.model_json_schema(by_alias=True, mode="serialization",
                                     schema_generator=StoredJsonSchema)
    properties = schema.setdefault("properties", {})
    for python_name, stored in SYSTEM_NAMES.items():
        if python_name in properties:
            properties[stored] = properties.pop(python_name)
    schema["required"] = [SYSTEM_NAMES.get(r, r) for r in schema.get("required", [])]
    for system in ("_key", "_id", "_rev", "_created_at", "_updated_at"):
        properties.pop(system, None)
    schema["required"] = [r for r in schema.get("required", []) if not r.startswith("_")
                          or r in ("_from", "_to")]
    schema["additionalProperties"] = True
    schema.pop("title", None)
    return schema


def sync_models(
    db: Database, models: List[Type[Document]], *, push_schema: bool = False
) -> Op[Dict[str, List[str]]]:
    """Create what is missing; never drops or changes what exists. Returns what it created."""
    ops = db.ops
    created: Dict[str, List[str]] = {"collections": [], "indexes": [], "schemas": []}
    existing = {c["name"] for c in (yield from ops.list_collections(db.name))}
    for model in models:
        name = model.collection_name()
        if name not in existing:
            try:
                yield from ops.create_collection(db.name, name, "edge" if model.is_edge() else None)
                created["collections"].append(name)
            except exc.AlreadyExistsError:
                pass
            existing.add(name)
        have = {i.get("name") for i in (yield from ops.list_indexes(db.name, name))}
        for index_name, fields, marker in model.indexes():
            if index_name in have:
                continue
            yield from ops.create_index(db.name, name, index_name, fields,
                                        unique=marker.unique, sparse=marker.sparse)
            created["indexes"].append(f"{name}.{index_name}")
        if push_schema:
            yield from call(Command.of(
                "set_collection_schema",
                database=db.name,
                collection=name,
                schema={"name": f"{name}_schema", "schema": json_schema(model),
                        "validation_mode": "strict"},
            ))
            created["schemas"].append(name)
    return created
