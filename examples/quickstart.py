"""The SDK reference's Quick Start, printing what it does.

Run it against a throw-away server with ``scripts/demo``.
"""

from __future__ import annotations

from _connection import HOST, PASSWORD, PORT, USERNAME

from solidb_odm import Client

# Create client instance and establish the connection
client = Client(HOST, PORT)
client.connect()
print(f"Connected to {HOST}:{PORT}, ping {client.ping():.2f} ms")

# Authenticate
client.auth("_system", USERNAME, PASSWORD)
print("Authenticated as", USERNAME)

# A database and a collection to play in
if "mydb" not in client.list_databases():
    client.create_database("mydb")
if "users" not in [c["name"] for c in client.list_collections("mydb")]:
    client.create_collection("mydb", "users")

# Set database context (required for sub-clients)
client.use_database("mydb")

# Basic CRUD operations
doc = client.insert("mydb", "users", {"name": "Alice", "age": 30})
print(f"Created: {doc['_key']}")

user = client.get("mydb", "users", doc["_key"])
print(f"Retrieved: {user['name']}")

client.update("mydb", "users", doc["_key"], {"age": 31})
print(f"Updated age to {client.get('mydb', 'users', doc['_key'])['age']}")

# Query with SDBQL and bind variables
results = client.query(
    "mydb",
    """
    FOR u IN users
    FILTER u.age > @min
    RETURN u
    """,
    {"min": 25},
)
print(f"Found {len(results)} users")

# ACID transaction: the inserts between begin and rollback vanish
tx_id = client.begin_transaction("mydb", isolation="read_committed")
client.insert("mydb", "users", {"name": "Ghost", "age": 99})
client.rollback_transaction(tx_id)
ghosts = client.query("mydb", "FOR u IN users FILTER u.name == @n RETURN u", {"n": "Ghost"})
print(f"After rollback, {len(ghosts)} ghost(s) in the collection")

client.delete("mydb", "users", doc["_key"])
print("Deleted", doc["_key"])

# Clean up
client.close()
print("Closed")
