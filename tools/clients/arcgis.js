// The ArcGIS Maps SDK for JavaScript as an Esri user wires it to the server: a VectorTileLayer
// on /arcgis/rest/services/atlas/VectorTileServer (its service JSON, default style, fonts and
// tiles; kind `vectortileserver`) or a TileLayer on /arcgis/rest/services/grade/MapServer (kind
// `mapserver`) or a FeatureLayer on the compounds of /arcgis/rest/services/atlas/FeatureServer
// with a `where` (red compounds only; kind `featurelayer`), in a MapView with no basemap (basemaps come from ArcGIS Online). The SDK's assets are
// served beside the page (`esriConfig.assetsPath`). Bundled by esbuild (tools/clients-test.js);
// `window.run(kind, base, lon, lat)` draws the map and resolves with what the SDK asked for.
import esriConfig from '@arcgis/core/config.js';
import ArcGISMap from '@arcgis/core/Map.js';
import MapView from '@arcgis/core/views/MapView.js';
import FeatureLayer from '@arcgis/core/layers/FeatureLayer.js';
import TileLayer from '@arcgis/core/layers/TileLayer.js';
import VectorTileLayer from '@arcgis/core/layers/VectorTileLayer.js';
import * as reactiveUtils from '@arcgis/core/core/reactiveUtils.js';

esriConfig.assetsPath = new URL('assets', window.location.href).href;
esriConfig.request.useIdentity = false;

window.run = async (kind, base, lon, lat) => {
  const drawn = { kind, tilesLoaded: 0, tileErrors: 0, levels: {}, requests: [] };
  esriConfig.request.interceptors.push({
    urls: base,
    after: (response) => {
      if (/\/FeatureServer\/\d+\/query/.test(response.url)) {
        drawn.tilesLoaded += 1;
        drawn.queries = (drawn.queries || 0) + 1;
      }
      const m = /\/tile\/(\d+)\/\d+\/\d+(\.pbf)?(\?|$)/.exec(response.url);
      if (m) {
        drawn.tilesLoaded += 1;
        drawn.levels[m[1]] = (drawn.levels[m[1]] || 0) + 1;
      }
    },
    error: () => { drawn.tileErrors += 1; },
  });
  const layers = {
    vectortileserver: () => new VectorTileLayer({ url: `${base}/arcgis/rest/services/atlas/VectorTileServer` }),
    mapserver: () => new TileLayer({ url: `${base}/arcgis/rest/services/grade/MapServer` }),
    featurelayer: () => new FeatureLayer({ url: `${base}/arcgis/rest/services/atlas/FeatureServer/2`, definitionExpression: "grade = 'red'", outFields: ['name', 'grade'] }),
  };
  const layer = layers[kind]();
  const map = new ArcGISMap({ layers: [layer] });
  // Web Mercator, as under any basemap (the FeatureServer is asked for outSR 102100), at the
  // scale of zoom 15 (a view with no tiled layer has no zoom levels).
  const view = new MapView({ container: 'map', map, center: [lon, lat], scale: 591657527.591555 / 2 ** 15, spatialReference: { wkid: 3857 }, ui: { components: [] } });
  await view.when();
  await layer.load();
  await reactiveUtils.whenOnce(() => !view.updating);
  // Let the last tiles be drawn.
  await new Promise((r) => setTimeout(r, 1000));
  await reactiveUtils.whenOnce(() => !view.updating);
  drawn.layerLoaded = layer.loaded;
  if (kind === 'featurelayer') {
    const lv = await view.whenLayerView(layer);
    await reactiveUtils.whenOnce(() => !lv.updating);
    const res = await lv.queryFeatures();
    drawn.features = res.features.length;
    drawn.grades = [...new Set(res.features.map((f) => f.attributes.grade))];
  }
  drawn.ms = Math.round(performance.now());
  drawn.zoom = view.zoom;
  return drawn;
};
