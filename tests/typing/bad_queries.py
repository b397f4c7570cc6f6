"""Incorrect queries: mypy --strict must reject this file (comparing an int field with a str)."""

from __future__ import annotations

from typed_models import Person

from solidb_odm import QuerySet

wrong: QuerySet[Person] = Person.objects.filter(Person.age > "x")
