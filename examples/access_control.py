"""Roles, users and API keys, and what they let a connection do.

An editor role for one database, a user holding it, an API key limited to
that database: each is tried on a fresh connection, then taken away.
Run it against a throw-away server with
``python -m solidb_odm.testing run -- python examples/access_control.py``.
"""

from __future__ import annotations

from _connection import HOST, PASSWORD, PORT, USERNAME

from solidb_odm import Client
from solidb_odm.exceptions import PermissionDeniedError, SoliDBError, UnsupportedError

admin = Client(HOST, PORT)
admin.auth("_system", USERNAME, PASSWORD)

if "mydb" not in admin.list_databases():
    admin.create_database("mydb")
if "articles" not in [c["name"] for c in admin.list_collections("mydb")]:
    admin.create_collection("mydb", "articles")
admin.insert("mydb", "articles", {"title": "Hello"}, key="hello")
print("Roles on the server:", sorted(r["name"] for r in admin.roles.list()))

# === ROLES ===
# The server grants read, write or admin, everywhere or per database.
role = admin.roles.create(
    name="content_editor",
    permissions=[
        {"action": "read", "scope": "database", "database": "mydb"},
    ],
    description="Content editor role",
)
print(f"Created role {role['name']!r}: {role['permissions']}")

# Collection-scoped and "execute" permissions do not exist on solidb 2.6.0:
# they are refused rather than silently widened to the whole database.
try:
    admin.roles.update("content_editor", permissions=[
        {"action": "write", "scope": "collection", "database": "mydb", "collection": "articles"},
    ])
except UnsupportedError as err:
    print("Refused:", err)

# === USERS ===
admin.users.create(username="john", password="secure_password", roles=["content_editor"])
print("john holds", [a["role"] for a in admin.users.get_roles("john")])

with Client(HOST, PORT) as john:
    john.auth("mydb", "john", "secure_password")
    print("john reads:", john.get("mydb", "articles", "hello")["title"])
    print("john is", john.users.me()["username"], "with", john.users.my_permissions())
    try:
        john.insert("mydb", "articles", {"title": "By John"})
    except PermissionDeniedError as err:
        print("john may not write:", err)

# Give the role write access too; a new connection picks it up at once.
admin.roles.update("content_editor", permissions=[
    {"action": "read", "scope": "database", "database": "mydb"},
    {"action": "write", "scope": "database", "database": "mydb"},
])
with Client(HOST, PORT) as john:
    john.auth("mydb", "john", "secure_password")
    doc = john.insert("mydb", "articles", {"title": "By John"})
    print("john now writes:", doc["_key"])

# Revoke the role: john's next connection is refused.
admin.users.revoke_role("john", "content_editor")
try:
    with Client(HOST, PORT) as john:
        john.auth("mydb", "john", "secure_password")
except PermissionDeniedError as err:
    print("after revoke_role:", err)

# === API KEYS ===
key = admin.api_keys.create(name="my-api-key", databases=["mydb"], expiration=None)
print(f"API Key: {key['key'][:10]}... (shown once)")
with Client(HOST, PORT) as service:
    service.auth_with_api_key("mydb", key["key"])
    print("the key reads", len(service.list("mydb", "articles")), "articles")
print("Keys:", [k["name"] for k in admin.api_keys.list()])
admin.api_keys.delete(key["id"])
try:
    with Client(HOST, PORT) as service:
        service.auth_with_api_key("mydb", key["key"])
except SoliDBError as err:
    print("deleted key:", err)

# Clean up
admin.users.delete("john")
admin.roles.delete("content_editor")
admin.delete_database("mydb")
admin.close()
print("Done")
