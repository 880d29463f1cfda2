// The web map clients against a running `atlas serve`, in the system's headless Chromium
// (playwright-core, no browser download): each client's page is bundled here by esbuild from
// tools/clients/, served to the browser from a route (no request leaves the machine),
// and draws the server's layers. Writes OUT_DIR/<client>-<kind>.png and OUT_DIR/results.json
// (what each map drew, its console errors, any request to another host) for the Rust test to
// judge.
//
// Usage: node clients-test.js BASE_URL OUT_DIR LON LAT
const { chromium } = require('playwright-core');
const esbuild = require('esbuild');
const fs = require('fs');
const path = require('path');

const [, , base, outDir, lon, lat] = process.argv;
fs.mkdirSync(outDir, { recursive: true });
// The pages are answered by a route under the server's own origin (nothing there on the
// server): as a page an office puts beside its map server. Chromium's local network access
// rules refuse a page answered by a route from reaching a loopback server on another origin.
const PAGE_PREFIX = `${base}/__clients`;
const executablePath = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

// Each client: its page's module, what it draws, its style sheet and (the ArcGIS SDK) the
// assets it loads at run time, all from tools/node_modules. CLIENTS (comma-separated names)
// picks some.
const ALL = {
  openlayers: { entry: 'openlayers.js', kinds: ['vector', 'wmts', 'map', 'tianditu'], css: 'ol/ol.css' },
  arcgis: { entry: 'arcgis.js', kinds: ['vectortileserver', 'mapserver', 'featurelayer'], css: '@arcgis/core/assets/esri/themes/light/main.css', assets: '@arcgis/core/assets' },
  // The same page on the 5.x SDK (npm alias @arcgis/core-5): its imports resolved there.
  arcgis5: { entry: 'arcgis.js', alias: { '@arcgis/core': '@arcgis/core-5' }, kinds: ['vectortileserver', 'mapserver', 'featurelayer'], css: '@arcgis/core-5/assets/esri/themes/light/main.css', assets: '@arcgis/core-5/assets' },
};
const CLIENTS = Object.fromEntries(Object.entries(ALL).filter(([n]) => !process.env.CLIENTS || process.env.CLIENTS.split(',').includes(n)));

function bundle(name, entry, alias) {
  const outfile = path.join(outDir, `${name}.bundle.js`);
  esbuild.buildSync({
    entryPoints: [path.join(__dirname, 'clients', entry)],
    bundle: true,
    format: 'iife',
    outfile,
    logLevel: 'error',
    nodePaths: [path.join(__dirname, 'node_modules')],
    alias,
  });
  return fs.readFileSync(outfile);
}

(async () => {
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-dev-shm-usage'],
  });
  const results = [];
  for (const [name, client] of Object.entries(CLIENTS)) {
    const js = bundle(name, client.entry, client.alias);
    const css = fs.readFileSync(path.join(__dirname, 'node_modules', client.css));
    // A style sheet among the SDK's assets is linked there, so that the fonts and images it
    // names relative to itself are found.
    const under = client.assets && client.css.startsWith(`${client.assets}/`) ? `assets/${client.css.slice(client.assets.length + 1)}` : 'client.css';
    const html = `<!doctype html><html><head><meta charset="utf-8"><link rel="stylesheet" href="${under}">
<style>html,body{margin:0}#map{width:512px;height:512px}</style></head>
<body><div id="map"></div><script src="client.js"></script></body></html>`;
    for (const kind of client.kinds) {
      const page = await browser.newPage({ viewport: { width: 512, height: 512 } });
      const errors = [];
      const external = [];
      // With the resource's URL: "Failed to load resource" alone names nothing.
      page.on('console', (m) => { if (m.type() === 'error') errors.push(`${m.text()}${m.location() && m.location().url ? ` (${m.location().url})` : ''}`); });
      page.on('pageerror', (e) => errors.push(e.message));
      page.on('request', (r) => {
        const u = r.url();
        if (!u.startsWith(base) && !u.startsWith('data:') && !u.startsWith('blob:')) external.push(u);
      });
      await page.route(`${PAGE_PREFIX}/**`, (route) => {
        const p = new URL(route.request().url()).pathname;
        if (p.endsWith('/client.js')) return route.fulfill({ body: js, contentType: 'text/javascript' });
        if (p.endsWith('/client.css')) return route.fulfill({ body: css, contentType: 'text/css' });
        const at = p.indexOf('/assets/');
        if (client.assets && at >= 0) {
          const file = path.join(__dirname, 'node_modules', client.assets, decodeURIComponent(p.slice(at + '/assets/'.length)));
          if (!file.startsWith(path.join(__dirname, 'node_modules', client.assets)) || !fs.existsSync(file)) return route.fulfill({ status: 404, body: 'no such asset' });
          const types = { '.js': 'text/javascript', '.json': 'application/json', '.css': 'text/css', '.wasm': 'application/wasm', '.svg': 'image/svg+xml', '.png': 'image/png', '.woff2': 'font/woff2', '.woff': 'font/woff' };
          return route.fulfill({ body: fs.readFileSync(file), contentType: types[path.extname(file)] || 'application/octet-stream' });
        }
        return route.fulfill({ body: html, contentType: 'text/html' });
      });
      let drawn = null;
      try {
        await page.goto(`${PAGE_PREFIX}/${name}.html`);
        let timer;
        drawn = await Promise.race([
          page.evaluate(([k, b, x, y]) => window.run(k, b, x, y), [kind, base, Number(lon), Number(lat)]),
          new Promise((_, reject) => { timer = setTimeout(() => reject(new Error('the map did not finish drawing within 60 s')), 60000); }),
        ]).finally(() => clearTimeout(timer));
      } catch (e) {
        errors.push(String(e.message || e));
      }
      const shot = path.join(outDir, `${name}-${kind}.png`);
      await page.locator('#map').screenshot({ path: shot });
      results.push({ client: name, kind, drawn, errors, external, screenshot: path.basename(shot) });
      console.log(`${name} ${kind}: ${JSON.stringify(drawn)} errors=${errors.length} external=${external.length}`);
      await page.close();
    }
  }
  await browser.close();
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 1));
})().catch((e) => { console.error(e); process.exit(1); });
