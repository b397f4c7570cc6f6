"""The ODM from async code: aconnect, awaitable queries, async sessions, concurrent tasks.

Run against a throw-away server:
    .venv/bin/python -m solidb_odm.testing run -- .venv/bin/python examples/async_app.py
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from _connection import URL

from solidb_odm import Document, Indexed, Sum, aconnect
from solidb_odm.exceptions import ConflictError
from solidb_odm.session import atomic


class Account(Document):
    owner: Annotated[str, Indexed(unique=True)]
    balance: int = 0

    class Meta:
        collection = "async_accounts"


async def transfer(source: str, target: str, amount: int) -> int:
    """Move money in one unit of work: both writes land, or neither.

    Sessions check revisions: when a concurrent transfer changed one of the
    accounts first, the commit raises ConflictError and nothing was written,
    so the transfer runs again on fresh data. Returns the number of retries.
    """
    for attempt in range(50):
        try:
            await _transfer_once(source, target, amount)
            return attempt
        except ConflictError:
            await asyncio.sleep(0.001 * attempt)
    raise RuntimeError("too many conflicts")


async def _transfer_once(source: str, target: str, amount: int) -> None:
    async with atomic():
        a = await Account.objects.aget(owner=source)
        b = await Account.objects.aget(owner=target)
        if a.balance < amount:
            raise ValueError(f"{source} cannot pay {amount}")
        a.balance -= amount
        b.balance += amount
        await a.asave()
        await b.asave()


async def main() -> None:
    db = await aconnect(URL.rstrip("/") + "/async_demo")
    db.register(Account)
    print("created:", await db.async_sync())

    await Account.objects.abulk_create([Account(owner=f"user{i}", balance=100) for i in range(10)])
    print("accounts:", await Account.objects.acount())

    # Ten transfers at once, each its own task and its own session: the
    # open session follows each task (contextvars), never another one.
    moves = [transfer(f"user{i}", f"user{(i + 1) % 10}", 30) for i in range(10)]
    retries = await asyncio.gather(*moves)
    print("conflicts retried:", sum(retries))
    total = (await Account.objects.aaggregate(total=Sum("balance")))["total"]
    print("total after 10 concurrent transfers:", total)

    try:
        await transfer("user0", "user1", 10_000)
    except ValueError as err:
        print("refused and rolled back:", err)

    richest = await Account.objects.order_by("-balance").afirst()
    assert richest is not None
    print("richest:", richest.owner, richest.balance)
    async for account in Account.objects.filter(balance__gte=100).order_by("owner")[:3]:
        print("  ", account.owner, account.balance)
    assert total == 1000
    await db.aclose()


if __name__ == "__main__":
    asyncio.run(main())
