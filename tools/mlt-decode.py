"""Reads MapLibre Tiles back with an independent decoder, PyPI's `maplibre-tiles`.

Usage: mlt-decode.py TILE.mlt... — prints one JSON document: for each file, its layers with
their extent and features (id, geometry type, the geometry's WKB length and vertex bounds in
tile coordinates, properties). tests/tiles.rs compares this with the MVT tile of the same
address, decoded by geozero.
"""

import json
import struct
import sys

import maplibre_tiles


def wkb_points(wkb):
    """Every (x, y) of a little- or big-endian 2D WKB geometry, in order."""
    out = []

    def points(order, off):
        (n,) = struct.unpack_from(order + "I", wkb, off)
        off += 4
        for _ in range(n):
            out.append(struct.unpack_from(order + "dd", wkb, off))
            off += 16
        return off

    def geom(off):
        order = "<" if wkb[off] == 1 else ">"
        (kind,) = struct.unpack_from(order + "I", wkb, off + 1)
        off += 5
        kind %= 1000
        if kind == 1:
            out.append(struct.unpack_from(order + "dd", wkb, off))
            return off + 16
        if kind == 2:
            return points(order, off)
        if kind == 3:
            (rings,) = struct.unpack_from(order + "I", wkb, off)
            off += 4
            for _ in range(rings):
                off = points(order, off)
            return off
        if kind in (4, 5, 6, 7):
            (parts,) = struct.unpack_from(order + "I", wkb, off)
            off += 4
            for _ in range(parts):
                off = geom(off)
            return off
        raise ValueError(f"WKB geometry type {kind}")

    geom(0)
    return out


def main():
    docs = []
    for path in sys.argv[1:]:
        with open(path, "rb") as f:
            data = f.read()
        layers = []
        for layer in maplibre_tiles.decode_mlt(data):
            features = []
            for feat in layer.features:
                pts = wkb_points(feat.wkb)
                xs = [p[0] for p in pts]
                ys = [p[1] for p in pts]
                features.append(
                    {
                        "id": feat.id,
                        "type": feat.geometry_type,
                        "vertices": len(pts),
                        "bounds": [min(xs), min(ys), max(xs), max(ys)] if pts else None,
                        "properties": feat.properties,
                    }
                )
            layers.append({"name": layer.name, "extent": layer.extent, "features": features})
        docs.append({"file": path, "bytes": len(data), "layers": layers})
    json.dump(docs, sys.stdout)


if __name__ == "__main__":
    main()
