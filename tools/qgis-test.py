"""QGIS headless (Debian's QGIS, run with QT_QPA_PLATFORM=offscreen) against a running
`atlas serve`, with the connections a QGIS user makes: vector tiles through the XYZ connection
with `styleUrl=/styles/grade.json`, through the ArcGIS vector tile connection (its
`resources/styles/root.json`), the compounds through the OGC API – Features (OAPIF) provider,
and the grade layer through the WMTS connection. Each is rendered to OUT_DIR/<name>.png around
LON LAT; OUT_DIR/results.json says what QGIS loaded (validity, feature counts, style errors)
for the Rust test to judge. Exits 1 when QGIS cannot load a layer.

Usage: python3 qgis-test.py BASE_URL OUT_DIR LON LAT
"""

import json
import math
import os
import sys

from qgis.core import (
    QgsApplication,
    QgsCoordinateReferenceSystem,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRectangle,
    QgsVectorLayer,
    QgsVectorTileLayer,
)
from qgis.PyQt.QtCore import QSize
from qgis.PyQt.QtGui import QColor

base, out_dir, lon, lat = sys.argv[1], sys.argv[2], float(sys.argv[3]), float(sys.argv[4])
os.makedirs(out_dir, exist_ok=True)

app = QgsApplication([], False)
app.initQgis()

R = 6378137.0
x, y = math.radians(lon) * R, math.log(math.tan(math.pi / 4 + math.radians(lat) / 2)) * R
half = 600.0  # metres either side: about zoom 15 on 512 pixels
extent = QgsRectangle(x - half, y - half, x + half, y + half)
web_mercator = QgsCoordinateReferenceSystem("EPSG:3857")
results = {}
failed = []


def render(name, layer):
    settings = QgsMapSettings()
    settings.setLayers([layer])
    settings.setDestinationCrs(web_mercator)
    settings.setExtent(extent)
    settings.setOutputSize(QSize(512, 512))
    settings.setBackgroundColor(QColor(255, 255, 255))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    job.renderedImage().save(os.path.join(out_dir, f"{name}.png"), "PNG")
    return [e.message for e in job.errors()]


def vector_tiles(name, uri):
    layer = QgsVectorTileLayer(uri, name)
    entry = {"valid": layer.isValid()}
    if layer.isValid():
        # What "Add layer" does: the style from the connection (styleUrl, or the ArcGIS
        # service's default style), converted by QGIS's MapBox GL style converter.
        message, ok = layer.loadDefaultStyle()
        entry["style_loaded"] = bool(ok)
        entry["style_message"] = message
        entry["render_errors"] = render(name, layer)
    else:
        failed.append(name)
    results[name] = entry


xyz = (
    "type=xyz&zmin=0&zmax=16"
    f"&url={base}/tiles/atlas/%7Bz%7D/%7Bx%7D/%7By%7D.mvt"
    f"&styleUrl={base}/styles/grade.json"
)
vector_tiles("vector-xyz", xyz)
arcgis = (
    "type=xyz&serviceType=arcgis"
    f"&url={base}/arcgis/rest/services/atlas/VectorTileServer"
    f"&styleUrl={base}/arcgis/rest/services/atlas/VectorTileServer/resources/styles/root.json"
)
vector_tiles("vector-arcgis", arcgis)

oapif = QgsVectorLayer(f"url='{base}/ogc' typename='compounds'", "compounds", "OAPIF")
entry = {"valid": oapif.isValid()}
if oapif.isValid():
    entry["feature_count"] = oapif.featureCount()
    entry["fields"] = [f.name() for f in oapif.fields()]
    entry["render_errors"] = render("oapif-compounds", oapif)
else:
    failed.append("oapif-compounds")
results["oapif-compounds"] = entry

wmts_uri = (
    "contextualWMSLegend=0&crs=EPSG:3857&dpiMode=7&format=image/png&layers=grade"
    "&styles=default&tileMatrixSet=WebMercatorQuad"
    f"&url={base}/wmts/1.0.0/WMTSCapabilities.xml"
)
wmts = QgsRasterLayer(wmts_uri, "grade", "wms")
entry = {"valid": wmts.isValid()}
if wmts.isValid():
    entry["render_errors"] = render("wmts-grade", wmts)
else:
    entry["error"] = wmts.error().summary()
    failed.append("wmts-grade")
results["wmts-grade"] = entry

with open(os.path.join(out_dir, "results.json"), "w") as f:
    json.dump(results, f, indent=1)
print(json.dumps(results, indent=1))
if failed:
    print(f"QGIS could not load: {failed}")
sys.stdout.flush()
# Not app.exitQgis(): QGIS 3.22 crashes in it while Python still holds the layers, and the
# results are written. The exit code says whether every layer loaded.
os._exit(1 if failed else 0)
