// The ArcGIS Maps SDK for JavaScript as an Esri user wires it to the server: a VectorTileLayer
// on /arcgis/rest/services/atlas/VectorTileServer (its service JSON, default style, fonts and
// tiles; kind `vectortileserver`) or a TileLayer on /arcgis/rest/services/grade/MapServer (kind
// `mapserver`), in a MapView with no basemap (basemaps come from ArcGIS Online). The SDK's assets are
// served beside the page (`esriConfig.assetsPath`). Bundled by esbuild (tools/clients-test.js);
// `window.run(kind, base, lon, lat)` draws the map and resolves with what the SDK asked for.
import esriConfig from '@arcgis/core/config.js';
import ArcGISMap from '@arcgis/core/Map.js';
import MapView from '@arcgis/core/views/MapView.js';
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
      const m = /\/tile\/(\d+)\/\d+\/\d+(\.pbf)?(\?|$)/.exec(response.url);
      if (m) {
        drawn.tilesLoaded += 1;
        drawn.levels[m[1]] = (drawn.levels[m[1]] || 0) + 1;
      }
    },
    error: () => { drawn.tileErrors += 1; },
  });
  const layer = kind === 'mapserver'
    ? new TileLayer({ url: `${base}/arcgis/rest/services/grade/MapServer` })
    : new VectorTileLayer({ url: `${base}/arcgis/rest/services/atlas/VectorTileServer` });
  const map = new ArcGISMap({ layers: [layer] });
  const view = new MapView({ container: 'map', map, center: [lon, lat], zoom: 15, ui: { components: [] } });
  await view.when();
  await layer.load();
  await reactiveUtils.whenOnce(() => !view.updating);
  // Let the last tiles be drawn.
  await new Promise((r) => setTimeout(r, 1000));
  await reactiveUtils.whenOnce(() => !view.updating);
  drawn.layerLoaded = layer.loaded;
  drawn.ms = Math.round(performance.now());
  drawn.zoom = view.zoom;
  return drawn;
};
