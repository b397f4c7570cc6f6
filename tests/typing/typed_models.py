"""Models shared by the typing checks (not a test module)."""

from __future__ import annotations

from typing import List

from solidb_odm import Document


class Person(Document):
    name: str
    age: int = 0
    tags: List[str] = []
