// OpenLayers as a GIS developer wires it to the server: the `atlas` vector tiles through OGC API
// – Tiles (OGCVectorTile), the grade layer from the WMTS capabilities (optionsFromCapabilities),
// the grade map tiles through OGC API – Tiles (OGCMapTile), and the grade layer in EPSG:4490
// (CGCS2000Quad, from the capabilities) beside a source laid out as Tianditu's "c" matrix set,
// to see that they ask for the same tiles level for level. Bundled for the browser by
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
import WMTSTileGrid from 'ol/tilegrid/WMTS.js';
import Projection from 'ol/proj/Projection.js';
import { addEquivalentProjections, addProjection, fromLonLat, get as getProjection } from 'ol/proj.js';
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

// CGCS2000 as OpenLayers is told of it (as proj4's definition of EPSG:4490 would say): degrees
// on the GRS 80 ellipsoid (a degree of 2πa/360 metres, a = 6378137 m — OpenLayers' default for
// `degrees` is a sphere of 6370997 m, which would scale every matrix by 0.1%), latitude first,
// the same coordinates as EPSG:4326 (to centimetres).
const cgcs2000 = new Projection({ code: 'EPSG:4490', units: 'degrees', metersPerUnit: (Math.PI * 6378137) / 180, axisOrientation: 'neu', extent: [-180, -90, 180, 90], global: true });
addProjection(cgcs2000);
addEquivalentProjections([getProjection('EPSG:4326'), cgcs2000]);
const BLANK = 'data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII='; // 1 × 1, transparent

// Our grade layer in CGCS2000Quad from the capabilities, and Tianditu's "c" layout (levels from
// 1, 0.703125° a pixel at level 1, origin at 180° W 90° N) whose tiles are only recorded (its
// servers are not reached): the tiles each asks for, as level/row/col.
async function tianditu(base, drawn) {
  const text = await (await fetch(`${base}/wmts/1.0.0/WMTSCapabilities.xml`)).text();
  const caps = new WMTSCapabilities().read(text);
  const options = optionsFromCapabilities(caps, { layer: 'grade', matrixSet: 'CGCS2000Quad', projection: 'EPSG:4490' });
  drawn.projection = options.projection.getCode();
  drawn.ours = new Set();
  drawn.tianditu = new Set();
  const ours = new WMTS({
    ...options,
    transition: 0,
    tileLoadFunction: (tile, src) => {
      const m = /CGCS2000Quad\/(\d+)\/(\d+)\/(\d+)\.png/.exec(src);
      if (m) drawn.ours.add(`${m[1]}/${m[2]}/${m[3]}`);
      tile.getImage().src = src;
    },
  });
  const resolutions = Array.from({ length: 18 }, (_, i) => 0.703125 / 2 ** i);
  const layout = new WMTS({
    url: 'http://t0.tianditu.gov.cn/vec_c/wmts',
    layer: 'vec',
    matrixSet: 'c',
    format: 'tiles',
    style: 'default',
    projection: 'EPSG:4490',
    requestEncoding: 'KVP',
    tileGrid: new WMTSTileGrid({ origin: [-180, 90], resolutions, matrixIds: resolutions.map((_, i) => String(i + 1)) }),
    tileLoadFunction: (tile, src) => {
      const q = new URL(src).searchParams;
      drawn.tianditu.add(`${q.get('TileMatrix') || q.get('TILEMATRIX')}/${q.get('TileRow') || q.get('TILEROW')}/${q.get('TileCol') || q.get('TILECOL')}`);
      tile.getImage().src = BLANK;
    },
  });
  return [new TileLayer({ source: layout }), new TileLayer({ source: ours })];
}

window.run = async (kind, base, lon, lat) => {
  if (kind === 'tianditu') {
    const drawn = { kind, compounds: {}, tileErrors: 0, tilesLoaded: 0 };
    const layers = await tianditu(base, drawn);
    const source = layers[1].getSource();
    source.on('tileloaderror', () => { drawn.tileErrors += 1; });
    source.on('tileloadend', () => { drawn.tilesLoaded += 1; });
    // Tianditu's level 14, exactly: 0.703125° / 2^13 a pixel.
    const view = new View({ projection: 'EPSG:4490', center: [lon, lat], resolution: 0.703125 / 2 ** 13 });
    const map = new Map({ target: 'map', layers, view });
    await new Promise((resolve) => map.once('rendercomplete', resolve));
    drawn.ours = [...drawn.ours].sort();
    drawn.tianditu = [...drawn.tianditu].sort();
    return drawn;
  }
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
