"""Semantic search over products and "stores near me" over a map.

The embedding is a toy (hashed character trigrams), so the example needs no
model; swap in a real one and nothing else changes. Run it against a
throw-away server with
``python -m solidb_odm.testing run -- python examples/vector_and_geo_search.py``.
"""

from __future__ import annotations

import hashlib
import math
from typing import List

from _connection import HOST, PASSWORD, PORT, USERNAME

from solidb_odm import Client

DIMENSIONS = 32


def get_embedding(text: str) -> List[float]:
    """A unit vector of hashed character trigrams: similar words, similar vectors."""
    vector = [0.0] * DIMENSIONS
    padded = f"  {text.lower()}  "
    for i in range(len(padded) - 2):
        digest = hashlib.blake2b(padded[i:i + 3].encode(), digest_size=2).digest()
        vector[int.from_bytes(digest, "big") % DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [round(v / norm, 6) for v in vector]


client = Client(HOST, PORT)
client.auth("_system", USERNAME, PASSWORD)
if "shop" in client.list_databases():
    client.delete_database("shop")
client.create_database("shop")
client.use_database("shop")

# --- Vector search ---------------------------------------------------------
client.create_collection("shop", "products")
index = client.vector.create_index(
    collection="products",
    name="product_embeddings",
    field="embedding",
    dimensions=DIMENSIONS,
    metric="cosine",  # cosine, euclidean, dot_product
)
print(f"Index {index['name']}: {index['dimensions']} dimensions, {index['metric']}")

products = [
    ("wireless headphones", "electronics"), ("wired headphones", "electronics"),
    ("bluetooth speaker", "electronics"), ("noise cancelling earbuds", "electronics"),
    ("running shoes", "sport"), ("trail running shoes", "sport"),
    ("yoga mat", "sport"), ("espresso machine", "kitchen"), ("coffee grinder", "kitchen"),
]
client.bulk_insert("shop", "products", [
    {"_key": f"product-{i}", "name": name, "category": category,
     "embedding": get_embedding(name)}
    for i, (name, category) in enumerate(products)
])

results = client.vector.search(
    collection="products",
    vector=get_embedding("wireless headphones"),
    limit=3,
    filter='doc.category == "electronics"',  # optional SDBQL filter
)
for result in results:
    print(f"{result['doc']['name']} - Score: {result['score']:.3f}")

similar = client.vector.search_by_document(
    collection="products", doc_key="product-4", field="embedding", limit=2
)
print("Similar to running shoes:", [s["doc"]["name"] for s in similar])

client.vector.quantize("products", "product_embeddings", "scalar")
info = client.vector.get_index_info("products", "product_embeddings")
print(f"Quantized: {info['quantization']}, {info['indexed_vectors']} vectors")
quantized = client.vector.search("products", get_embedding("wireless headphones"), limit=1)
print("Still finds:", quantized[0]["doc"]["name"])
client.vector.dequantize("products", "product_embeddings")
print("Indexes:", [i["name"] for i in client.vector.list_indexes("products")])
client.vector.delete_index("products", "product_embeddings")

# --- Geo search ------------------------------------------------------------
client.create_collection("shop", "stores")
client.geo.create_index(collection="stores", name="location_idx", field="location",
                        geo_json=True)
stores = {
    "Louvre": (48.8606, 2.3376), "Notre-Dame": (48.8530, 2.3499),
    "Bastille": (48.8533, 2.3692), "Montmartre": (48.8867, 2.3431),
    "La Defense": (48.8918, 2.2362), "Versailles": (48.8049, 2.1204),
}
client.bulk_insert("shop", "stores", [
    {"name": name, "location": {"type": "Point", "coordinates": [lon, lat]}}
    for name, (lat, lon) in stores.items()
])

nearby = client.geo.near(
    collection="stores",
    latitude=48.8566,
    longitude=2.3522,
    radius=5000,  # meters
    limit=20,
)
for result in nearby:
    print(f"{result['doc']['name']} - {result['distance']:.0f}m away")

polygon = {
    "type": "Polygon",
    "coordinates": [[[2.3, 48.8], [2.4, 48.8], [2.4, 48.9], [2.3, 48.9], [2.3, 48.8]]],
}
within = client.geo.within("stores", geometry=polygon)
print("Inside central Paris:", sorted(d["name"] for d in within))

print("Geo indexes:", [i["name"] for i in client.geo.list_indexes("stores")])
client.geo.delete_index("stores", "location_idx")

client.delete_database("shop")
client.close()
print("Done")
