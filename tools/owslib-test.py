"""OWSLib (the Python client of OGC services) against a running `atlas serve`, as a user points
it: OGC API - Features from the landing page (`/ogc`, which OWSLib asks for as `/ogc/`), and
WMTS from the capabilities document. Prints one line per check and writes what it fetched into
OUT_DIR (summary.json and the WMTS tiles as PNG) for the Rust test to judge; exits 1 when a
check fails.

Usage: python owslib-test.py BASE_URL OUT_DIR LON LAT
"""

import json
import math
import os
import sys

from owslib.ogcapi.features import Features
from owslib.wmts import WebMapTileService

base, out_dir, lon, lat = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
os.makedirs(out_dir, exist_ok=True)
failed = []
summary = {}


def check(name, ok, detail=""):
    print(f"{'ok  ' if ok else 'FAIL'} {name}{' — ' + str(detail) if detail else ''}")
    if not ok:
        failed.append(name)


# OGC API - Features
api = Features(base + "/ogc")
check("landing page has links", len(api.links) >= 4, [l["rel"] for l in api.links])
conf = api.conformance()
check(
    "conformance names Features core",
    any("ogcapi-features-1/1.0/conf/core" in c for c in conf.get("conformsTo", [])),
)
every = [c["id"] for c in api.collections()["collections"]]
feature_ids = api.feature_collections()
summary["collections"] = every
summary["feature_collections"] = feature_ids
check("atlas is listed among the collections", "atlas" in every, every)
check(
    "the feature collections are the five layers",
    sorted(feature_ids) == ["buildings", "compounds", "districts", "streets", "units"],
    feature_ids,
)
page = api.collection_items("compounds", limit=7)
feats = page.get("features", [])
check("seven compounds on a page", len(feats) == 7, len(feats))
check(
    "compounds carry their grade",
    all(f["properties"].get("grade") in ("red", "yellow", "blue", None) for f in feats),
)
summary["compound_ids"] = [f["id"] for f in feats]
one = api.collection_item("compounds", str(feats[0]["id"])) if feats else {}
check("a compound by id", one.get("id") == (feats[0]["id"] if feats else None), one.get("id"))
box = [lon - 0.02, lat - 0.02, lon + 0.02, lat + 0.02]
near = api.collection_items("compounds", bbox=box, limit=1000)
summary["compounds_in_box"] = len(near.get("features", []))
summary["number_matched_in_box"] = near.get("numberMatched")
check("compounds in a box", summary["compounds_in_box"] > 0, summary["compounds_in_box"])

# OGC API - Features Part 3: a CQL2 text filter, and the queryables it may name
filtered = api.collection_items("compounds", filter="grade = 'red'", limit=1)
by_grade = api.collection_items("compounds", grade="red", limit=1)
summary["filter_red"] = filtered.get("numberMatched")
check(
    "a CQL2 filter counts as the grade filter",
    filtered.get("numberMatched") == by_grade.get("numberMatched") and filtered.get("numberMatched", 0) > 0,
    (filtered.get("numberMatched"), by_grade.get("numberMatched")),
)
queryables = api.collection_queryables("compounds")
check("queryables name the grade", "grade" in queryables.get("properties", {}), list(queryables.get("properties", {}))[:5])

# WMTS
wmts = WebMapTileService(base + "/wmts/1.0.0/WMTSCapabilities.xml")
layers = sorted(wmts.contents)
summary["wmts_layers"] = layers
check("WMTS layers", {"grade", "density"} <= set(layers), layers)
check(
    "WMTS tile matrix sets",
    {"WebMercatorQuad", "WorldCRS84Quad"} <= set(wmts.tilematrixsets),
    list(wmts.tilematrixsets),
)
z = 14
n = 2**z
col = int((lon + 180) / 360 * n)
row = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
for layer in ("grade", "density"):
    tile = wmts.gettile(
        layer=layer,
        tilematrixset="WebMercatorQuad",
        tilematrix=str(z),
        row=row,
        column=col,
        format="image/png",
        style="default",
    )
    data = tile.read()
    check(f"WMTS {layer} tile is a PNG", data[:8] == b"\x89PNG\r\n\x1a\n", len(data))
    with open(os.path.join(out_dir, f"wmts-{layer}.png"), "wb") as f:
        f.write(data)

with open(os.path.join(out_dir, "summary.json"), "w") as f:
    json.dump(summary, f, indent=1)
if failed:
    print(f"{len(failed)} check(s) failed: {failed}")
    sys.exit(1)
