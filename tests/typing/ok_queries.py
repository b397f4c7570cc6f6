"""Correct queries: mypy --strict must accept every line."""

from __future__ import annotations

from typing import List, Optional

from typed_models import Person

from solidb_odm import Q, QuerySet, expr

adults: QuerySet[Person] = Person.objects.filter(Person.age > 25)
named: QuerySet[Person] = Person.objects.filter(Person.name.startswith("A")).order_by(-Person.age)
either = Person.objects.filter((Person.age > 25) | (Person.age < 3))
tagged = Person.objects.exclude(expr(Person.tags).contains("x"))
mixed = Person.objects.filter(Q(age__gt=1) | Q(name="Bob"), Person.age <= 90)[:10]
first: Optional[Person] = Person.objects.first()
people: List[Person] = list(adults)
one: Person = Person.objects.get(name="Ann")
how_many: int = Person.objects.filter(age__gte=18).count()
