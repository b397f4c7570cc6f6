"""Metrics in a columnar table: insert, query with SQL, aggregate, change columns.

Run it against a throw-away server with
``python -m solidb_odm.testing run -- python examples/columnar_analytics.py``.
"""

from __future__ import annotations

from _connection import HOST, PASSWORD, PORT, USERNAME

from solidb_odm import Client

client = Client(HOST, PORT)
client.auth("_system", USERNAME, PASSWORD)
if "analytics" in client.list_databases():
    client.delete_database("analytics")
client.create_database("analytics")
client.use_database("analytics")

# Create a columnar table (optimized for analytics)
table = client.columnar.create("metrics", [
    {"name": "timestamp", "type": "datetime"},
    {"name": "metric_name", "type": "string"},
    {"name": "value", "type": "float"},
    {"name": "tags", "type": "string"},
])
print("Columns:", [(c["name"], c["data_type"]) for c in table["columns"]])

# Insert rows (batch insert is efficient)
inserted = client.columnar.insert("metrics", [
    {"timestamp": "2024-01-15T10:00:00Z", "metric_name": "cpu_usage", "value": 45.2, "tags": "server1"},
    {"timestamp": "2024-01-15T10:01:00Z", "metric_name": "cpu_usage", "value": 47.8, "tags": "server1"},
    {"timestamp": "2024-01-15T10:00:00Z", "metric_name": "memory", "value": 72.1, "tags": "server1"},
    {"timestamp": "2024-01-15T10:00:00Z", "metric_name": "cpu_usage", "value": 12.5, "tags": "server2"},
    {"timestamp": "2024-01-15T10:01:00Z", "metric_name": "memory", "value": 33.0, "tags": "server2"},
])
print(f"Inserted {inserted} rows")

# Query with SQL-like syntax
results = client.columnar.query(
    "metrics",
    "SELECT * FROM metrics WHERE value > @min ORDER BY timestamp DESC LIMIT 100",
    params={"min": 40.0},
)
for row in results:
    print(f"  {row['timestamp']} {row['metric_name']:<10} {row['value']:>6} {row['tags']}")

# Aggregation
agg = client.columnar.aggregate("metrics", {
    "group_by": ["metric_name", "tags"],
    "metrics": [
        {"column": "value", "function": "avg"},
        {"column": "value", "function": "max"},
        {"column": "value", "function": "min"},
        {"column": "value", "function": "count"},
    ],
    "filters": {"metric_name": "cpu_usage"},  # optional
})
for group in sorted(agg, key=lambda g: g["tags"]):
    print(f"  {group['metric_name']} on {group['tags']}: avg {group['value_avg']:.2f}, "
          f"max {group['value_max']}, min {group['value_min']}, n={group['value_count']}")

# Get table statistics
stats = client.columnar.stats("metrics")
print(f"Row count: {stats['row_count']}, Size: {stats['size_bytes']}")

# Add a column (existing rows get the default), then drop one
client.columnar.add_column("metrics", "host", "string", default_value="unknown")
print("host of the first row:", client.columnar.query(
    "metrics", "SELECT host FROM metrics LIMIT 1")[0]["host"])
client.columnar.drop_column("metrics", "host")

# List all columnar tables
print("Tables:", client.columnar.list())

# Delete table
client.columnar.delete("metrics")
print("Tables after delete:", client.columnar.list())

client.delete_database("analytics")
client.close()
print("Done")
