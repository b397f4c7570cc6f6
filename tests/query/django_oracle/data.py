"""The oracle's rows: seeded, the same in Django and in the ODM.

Values are picked to make the lookups interesting: strings with mixed case,
``%``, ``_`` and non-ASCII letters; a small pool of instants, each written in
many UTC offsets (so that equal instants have different spellings and the
UTC date of a value often differs from its local date); Decimals written with
0, 1 or 2 decimal places; and, for nullable fields, both stored nulls and
fields left out of the document (Django sees NULL for both).
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Callable, Dict, FrozenSet, List, Tuple

#: field name -> (kind, nullable); both models declare exactly these
FIELDS: Dict[str, Tuple[str, bool]] = {
    "num": ("int", True),
    "num2": ("int", True),
    "flt": ("float", False),
    "flt2": ("float", True),
    "txt": ("str", True),
    "txt2": ("str", True),
    "flag": ("bool", False),
    "amount": ("decimal", True),
    "amount2": ("decimal", True),
    "at": ("datetime", True),
    "at2": ("datetime", True),
    "day": ("date", True),
    "day2": ("date", True),
}

#: pairs of fields of one type, for F() comparisons
F_PAIRS: List[Tuple[str, str]] = [
    ("num", "num2"), ("flt", "flt2"), ("txt", "txt2"), ("amount", "amount2"),
    ("at", "at2"), ("day", "day2"),
]


def fields_of(kind: str) -> List[str]:
    return [name for name, (k, _) in FIELDS.items() if k == kind]


WORDS = [
    "alice", "Alice", "ALICE", "alicia", "bob", "Bob", "BOB", "bobby", "carol",
    "50%", "100%", "a_b", "a%b", "a%b_c", "_x", "%", "_", "ab", "aXb",
    "école", "École", "ÉCOLE", "ecole", "Ecole", "über", "ÜBER", "straße", "STRASSE",
    "日本語", "日本", "😀", "emoji😀", "", " ", "Zed", "zebra", "Ωmega", "ωmega",
    "Mixed Case", "mixed case", "MIXED CASE", "x.y", "x'y", 'q"q', "back\\slash",
    # UTF-8 byte order is not UTF-16 order: U+FF21 sorts below an emoji in one, above in the other
    "\uff21bc", "\ue000", "ǅ", "ǆ", "Ǆ",
]

INTS = [0, 1, -1, 2, 3, 5, 7, 10, 11, 17, 30, 42, 100, -7, 10**9, -(10**9), 2**40]
FLOATS = [0.0, 0.5, 1.0, 1.25, 2.5, 3.0, -2.5, -0.5, 10.0, 99.99, 1e-3, 1e10, 0.1, 0.2, 0.3]
DECIMALS = [
    "0", "0.00", "1", "1.0", "1.50", "1.5", "2.25", "5", "5.00", "9.99", "10", "10.00",
    "10.01", "99.9", "100", "-1", "-1.50", "-10.25", "0.01", "-0.01", "123456.78",
    "9999999999.99", "-9999999999.99", "42.42",
]

#: instants near the edges transforms care about: midnight, month, quarter, year
INSTANTS = [
    dt.datetime(2024, 1, 1, 0, 0, tzinfo=dt.UTC),
    dt.datetime(2023, 12, 31, 23, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 3, 31, 22, 15, 5, tzinfo=dt.UTC),
    dt.datetime(2024, 4, 1, 1, 0, tzinfo=dt.UTC),
    dt.datetime(2024, 2, 29, 12, 0, 0, 500000, tzinfo=dt.UTC),
    dt.datetime(2024, 6, 30, 23, 59, 59, tzinfo=dt.UTC),
    dt.datetime(2024, 7, 1, 0, 0, 1, tzinfo=dt.UTC),
    dt.datetime(2024, 9, 30, 12, 45, tzinfo=dt.UTC),
    dt.datetime(2024, 10, 6, 3, 7, 9, 123456, tzinfo=dt.UTC),
    dt.datetime(2025, 1, 5, 18, 0, tzinfo=dt.UTC),
    dt.datetime(2022, 11, 20, 6, 30, tzinfo=dt.UTC),
    dt.datetime(2024, 5, 15, 9, 0, tzinfo=dt.UTC),
    dt.datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=dt.UTC),
    dt.datetime(1900, 3, 1, 0, 0, tzinfo=dt.UTC),
    dt.datetime(2099, 12, 31, 12, 0, tzinfo=dt.UTC),
]
OFFSETS = [0, 60, -60, 120, -300, 330, 345, -210, 540, -600, 780, 840, -720]
DATES = [
    dt.date(2024, 1, 1), dt.date(2023, 12, 31), dt.date(2024, 2, 29), dt.date(2024, 3, 31),
    dt.date(2024, 4, 1), dt.date(2024, 6, 30), dt.date(2024, 7, 1), dt.date(2024, 12, 31),
    dt.date(2025, 1, 5), dt.date(2022, 11, 20), dt.date(2024, 10, 6), dt.date(1999, 12, 31),
    dt.date(1000, 1, 1), dt.date(1970, 1, 1), dt.date(2999, 12, 31),
]


def in_offset(instant: dt.datetime, minutes: int) -> dt.datetime:
    """The same instant, written in another UTC offset."""
    return instant.astimezone(dt.timezone(dt.timedelta(minutes=minutes)))


@dataclass
class Row:
    """One row: Python values, and which null fields the ODM document leaves out."""

    key: str
    values: Dict[str, Any]
    missing: FrozenSet[str] = field(default_factory=frozenset)


class Values:
    """Random values of each kind, from one ``random.Random``."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.make: Dict[str, Callable[[], Any]] = {
            "int": self.int_, "float": self.float_, "str": self.str_, "bool": self.bool_,
            "decimal": self.decimal, "datetime": self.datetime, "date": self.date,
        }

    def int_(self) -> int:
        if self.rng.random() < 0.7:
            return self.rng.randint(-3, 20)
        return self.rng.choice(INTS)

    def float_(self) -> float:
        if self.rng.random() < 0.5:
            return round(self.rng.uniform(-20, 20), self.rng.choice([0, 1, 2]))
        return self.rng.choice(FLOATS)

    def str_(self) -> str:
        word = self.rng.choice(WORDS)
        r = self.rng.random()
        if r < 0.15:
            word = "".join(c.upper() if self.rng.random() < 0.5 else c.lower() for c in word)
        elif r < 0.3:
            word = word + self.rng.choice(["%", "_", " ", "-", ""]) + self.rng.choice(WORDS)
        return word[:64]

    def bool_(self) -> bool:
        return self.rng.random() < 0.5

    def decimal(self) -> Decimal:
        if self.rng.random() < 0.5:
            return Decimal(self.rng.choice(DECIMALS))
        places = self.rng.choice([0, 1, 2])
        return Decimal(self.rng.randint(-5000, 5000)).scaleb(-places)

    def datetime(self) -> dt.datetime:
        instant = self.rng.choice(INSTANTS)
        if self.rng.random() < 0.3:
            instant += dt.timedelta(minutes=self.rng.randint(-600, 600))
        return in_offset(instant, self.rng.choice(OFFSETS))

    def date(self) -> dt.date:
        if self.rng.random() < 0.6:
            return self.rng.choice(DATES)
        return self.rng.choice(DATES) + dt.timedelta(days=self.rng.randint(-40, 40))


def make_rows(seed: int, count: int) -> List[Row]:
    """``count`` rows; each nullable field is null in ~20% of them, half of those left out."""
    rng = random.Random(seed)
    values = Values(rng)
    rows = []
    for i in range(count):
        row: Dict[str, Any] = {}
        missing = set()
        for name, (kind, nullable) in FIELDS.items():
            if nullable and rng.random() < 0.2:
                row[name] = None
                if rng.random() < 0.5:
                    missing.add(name)
            else:
                row[name] = values.make[kind]()
        rows.append(Row(f"r{i:03d}", row, frozenset(missing)))
    return rows
