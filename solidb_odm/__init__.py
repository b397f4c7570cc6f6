"""solidb-odm: a client, a Pydantic ODM and a unit of work for SoliDB.

Three layers, bottom up: ``Client`` (the SDK reference's low-level client),
``Document``/``Edge`` models with ``Model.objects`` QuerySets, and
``Session`` (``with db.session():``) for units of work.
"""

from . import exceptions
from .client import AsyncClient, Client
from .client.triggered import TriggersNotFiredError, TriggersNotFiredWarning
from .database import Database, aconnect, connect, get_default_database, set_default_database
from .fields import Indexed, Reference
from .models import Document, Edge
from .query import (
    Avg,
    Count,
    F,
    Manager,
    Max,
    Min,
    Q,
    QuerySet,
    Stored,
    Sum,
    Value,
    register_lookup,
    register_transform,
)

__version__ = "0.1.0"


def expr(attribute: object) -> F:
    """A class-level field as a query expression, for operations its Python type lacks.

    ``expr(User.tags).contains("x")``: type checkers see ``User.tags`` as a
    list, which has no ``contains``; at run time it is already an expression.
    """
    if not isinstance(attribute, F):
        raise exceptions.ValidationError(f"{attribute!r} is not a model field expression")
    return attribute


__all__ = [
    "AsyncClient",
    "Avg",
    "Client",
    "Count",
    "Database",
    "Document",
    "Edge",
    "F",
    "Indexed",
    "Manager",
    "Max",
    "Min",
    "Q",
    "QuerySet",
    "Reference",
    "Stored",
    "Sum",
    "TriggersNotFiredError",
    "TriggersNotFiredWarning",
    "Value",
    "__version__",
    "aconnect",
    "connect",
    "exceptions",
    "expr",
    "get_default_database",
    "register_lookup",
    "register_transform",
    "set_default_database",
]
