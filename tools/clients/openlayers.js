// OpenLayers as a GIS developer wires it to the server: the `atlas` vector tiles through OGC API
// – Tiles (OGCVectorTile), the grade layer from the WMTS capabilities (optionsFromCapabilities),
// and the grade map tiles through OGC API – Tiles (OGCMapTile). Bundled for the browser by
// esbuild (tools/clients-test.js); `window.run(kind, base, lon, lat)` draws one map and resolves
// with what it drew.
import Map from 'ol/Map.js';
import View from 'ol/View.js';
import MVT from 'ol/format/MVT.js';
import WMTSCapabilities from 'ol/format/WMTSCapabilities.js';
import TileLayer from 'ol/layer/Tile.js';
import VectorTileLayer from 'ol/layer/VectorTile.js';
import OGCMapTile from 'ol/source/OGCMapTile.js';
import OGCVectorTile from 'ol/source/OGCVectorTile.js';
import WMTS, { optionsFromCapabilities } from 'ol/source/WMTS.js';
import { fromLonLat } from 'ol/proj.js';
import { Fill, Stroke, Style } from 'ol/style.js';

const GRADE = { red: '#d7301f', yellow: '#f5b700', blue: '#6fa8dc' };

async function layerOf(kind, base, drawn) {
  if (kind === 'vector') {
    const styles = {};
    for (const [g, c] of Object.entries(GRADE)) styles[g] = new Style({ fill: new Fill({ color: c }), stroke: new Stroke({ color: '#444', width: 0.5 }) });
    const outline = new Style({ stroke: new Stroke({ color: '#6b5f4a', width: 1 }) });
    return new VectorTileLayer({
      source: new OGCVectorTile({ url: `${base}/ogc/collections/atlas/tiles/WebMercatorQuad`, format: new MVT() }),
      style: (f) => {
        const layer = f.get('layer');
        if (layer === 'compounds') {
          const g = f.get('grade');
          drawn.compounds[g] = (drawn.compounds[g] || 0) + 1;
          return styles[g];
        }
        if (layer === 'districts' || layer === 'streets') return outline;
        return undefined;
      },
    });
  }
  if (kind === 'wmts') {
    const text = await (await fetch(`${base}/wmts/1.0.0/WMTSCapabilities.xml`)).text();
    const caps = new WMTSCapabilities().read(text);
    drawn.layers = caps.Contents.Layer.map((l) => l.Identifier);
    const options = optionsFromCapabilities(caps, { layer: 'grade', matrixSet: 'WebMercatorQuad' });
    return new TileLayer({ source: new WMTS({ ...options, transition: 0 }) });
  }
  if (kind === 'map') {
    return new TileLayer({ source: new OGCMapTile({ url: `${base}/ogc/collections/atlas/map/tiles/WebMercatorQuad`, transition: 0 }) });
  }
  throw new Error(`no such kind ${kind}`);
}

window.run = async (kind, base, lon, lat) => {
  const drawn = { kind, compounds: {}, tileErrors: 0, tilesLoaded: 0 };
  const layer = await layerOf(kind, base, drawn);
  layer.getSource().on('tileloaderror', () => { drawn.tileErrors += 1; });
  layer.getSource().on('tileloadend', () => { drawn.tilesLoaded += 1; });
  const map = new Map({ target: 'map', layers: [layer], view: new View({ center: fromLonLat([lon, lat]), zoom: 15 }) });
  // A source configured from a tileset document renders once before its tiles are asked for:
  // wait for a complete rendering after tiles have loaded.
  for (let i = 0; i < 20; i += 1) {
    await new Promise((resolve) => map.once('rendercomplete', resolve));
    if (drawn.tilesLoaded + drawn.tileErrors > 0) break;
    map.render();
  }
  return drawn;
};
