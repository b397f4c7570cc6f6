"""The ODM side of the oracle: one Document with the same fields as ``models.OracleRow``."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Annotated, Optional

from pydantic import Field

from solidb_odm import Document

Money = Annotated[Decimal, Field(max_digits=12, decimal_places=2)]


class OracleDoc(Document):
    """``None`` fields are stored as null, or (see ``data.Row.missing``) left out."""

    num: Optional[int] = None
    num2: Optional[int] = None
    flt: float
    flt2: Optional[float] = None
    txt: Optional[str] = None
    txt2: Optional[str] = None
    flag: bool
    # the two usual spellings of a constrained Decimal: inside the type, and on the field
    amount: Optional[Money] = None
    amount2: Optional[Decimal] = Field(None, max_digits=12, decimal_places=2)
    at: Optional[dt.datetime] = None
    at2: Optional[dt.datetime] = None
    day: Optional[dt.date] = None
    day2: Optional[dt.date] = None

    class Meta:
        collection = "oracle_rows"
