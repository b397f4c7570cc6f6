"""Models used by the ODM tests."""

from __future__ import annotations

import datetime as dt
import decimal
import enum
import uuid
from typing import Annotated, Any, Dict, List, Optional

from pydantic import BaseModel

from solidb_odm import Document, Edge, Indexed, Reference


class Address(BaseModel):
    city: str
    zip: str


class User(Document):
    name: str
    email: Annotated[str, Indexed(unique=True)]
    age: int = 0
    address: Optional[Address] = None
    tags: List[str] = []

    class Meta:
        collection = "users"


class Follows(Edge):
    since: dt.datetime

    class Meta:
        collection = "follows"


class Post(Document):
    title: str
    views: int = 0
    author: Annotated[Optional[str], Reference("User")] = None

    class Meta:
        collection = "posts"


class Color(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Everything(Document):
    """One field per type that must round-trip unchanged."""

    when: Optional[dt.datetime] = None
    day: Optional[dt.date] = None
    color: Optional[Color] = None
    ident: Optional[uuid.UUID] = None
    amount: Optional[decimal.Decimal] = None
    blob: Optional[bytes] = None
    address: Optional[Address] = None
    maybe: Optional[int] = None
    extra: Dict[str, Any] = {}

    class Meta:
        collection = "everything"


class Animal(Document):
    name: str

    class Meta:
        collection = "animals"


class Dog(Animal):
    good: bool = True
