"""Money transfers between accounts from several threads at once.

Each transfer is a session: it reads two accounts, moves money, and commits
all or nothing. When two transfers touch the same account, one of them gets
ConflictError and retries, so no update is lost: the total never changes.
"""

from __future__ import annotations

import random
import threading

from _connection import URL

from solidb_odm import Document, connect
from solidb_odm.exceptions import ConflictError


class Account(Document):
    owner: str
    balance: int

    class Meta:
        collection = "accounts"


db = connect(URL.rstrip("/") + "/bank_demo")
db.register(Account).sync()
Account.objects.all().delete()
accounts = Account.objects.bulk_create(
    [Account(owner=f"owner{i}", balance=1000, key=f"acc{i}") for i in range(10)]
)
total_before = sum(a.balance for a in Account.objects.all())
print("accounts:", len(accounts), "total:", total_before)

stats = {"transfers": 0, "conflicts": 0}
lock = threading.Lock()


def transfer(source: str, target: str, amount: int) -> None:
    while True:
        try:
            with db.session() as session:
                a = session.get(Account, source)
                b = session.get(Account, target)
                assert a is not None and b is not None
                if a.balance < amount:
                    return
                a.balance -= amount
                b.balance += amount
            with lock:
                stats["transfers"] += 1
            return
        except ConflictError:
            with lock:
                stats["conflicts"] += 1  # someone else changed one of them: retry


def worker(seed: int) -> None:
    rng = random.Random(seed)
    for _ in range(25):
        source, target = rng.sample([a.key for a in accounts if a.key], 2)
        transfer(source, target, rng.randint(1, 200))


threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
for t in threads:
    t.start()
for t in threads:
    t.join()

total_after = sum(a.balance for a in Account.objects.all())
print(f"transfers: {stats['transfers']}, conflicts retried: {stats['conflicts']}")
print("total after:", total_after)
assert total_after == total_before, "money was created or destroyed"
db.client.delete_database("bank_demo")
db.close()
print("the total is unchanged")
