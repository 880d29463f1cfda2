// End-to-end test of the map page in the system's headless Chromium (Debian's `chromium`,
// driven by playwright-core: no browser download). Checks what a planner does and sees, saves
// screenshots, and exits 1 when a check fails.
//
// Usage: node web-test.js BASE_URL OUT_DIR [GUARDED_URL]
//   GUARDED_URL: the same city served with a planner token (PLANNER_TOKEN in the environment):
//   the page must ask for the token before the planner tools answer.
const { chromium } = require('playwright-core');
const fs = require('fs');
const path = require('path');

const [, , base, outDir, guarded] = process.argv;
fs.mkdirSync(outDir, { recursive: true });
const results = [];
function check(name, ok, detail = '') {
  results.push({ name, ok: Boolean(ok), detail: String(detail) });
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${name}${detail ? ` — ${detail}` : ''}`);
}

const executablePath = process.env.CHROMIUM || ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => fs.existsSync(p));

async function ready(page) {
  await page.waitForFunction(() => document.body.dataset.ready, null, { timeout: 90000 });
  return page.evaluate(() => document.body.dataset.ready);
}

// A screen point inside a rendered compound (checked by querying that point back).
async function compoundPoint(page, filter = {}) {
  return page.evaluate((filter) => {
    const map = window.atlasMap;
    const feats = map.queryRenderedFeatures({ layers: ['compounds-fill'] });
    const rect = map.getCanvas().getBoundingClientRect();
    for (const f of feats) {
      if (filter.grade && f.properties.grade !== filter.grade) continue;
      const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
      const n = ring.length - 1;
      const lng = ring.slice(0, n).reduce((a, c) => a + c[0], 0) / n;
      const lat = ring.slice(0, n).reduce((a, c) => a + c[1], 0) / n;
      const p = map.project([lng, lat]);
      if (p.x < 20 || p.y < 20 || p.x > rect.width - 20 || p.y > rect.height - 20) continue;
      const back = map.queryRenderedFeatures([p.x, p.y], { layers: ['compounds-fill'] });
      if (back.length && back[0].properties.id === f.properties.id) {
        return { x: rect.left + p.x, y: rect.top + p.y, id: f.properties.id, name: f.properties.name };
      }
    }
    return null;
  }, filter);
}

async function watch(page, errors, external) {
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('request', (r) => { if (!r.url().startsWith(base) && !r.url().startsWith('data:') && !r.url().startsWith('blob:')) external.push(r.url()); });
}

(async () => {
  const browser = await chromium.launch({
    executablePath,
    args: ['--no-sandbox', '--use-angle=swiftshader', '--enable-unsafe-swiftshader', '--ignore-gpu-blocklist', '--disable-dev-shm-usage'],
  });
  try {
    const errors = [];
    const external = [];
    const ctx = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'zh-CN' });
    const page = await ctx.newPage();
    await watch(page, errors, external);
    const tileUrls = [];
    page.on('request', (r) => { if (r.url().includes('/tiles/atlas/')) tileUrls.push(r.url()); });

    // 1. The page loads over Licang and tiles render compounds with grades.
    await page.goto(`${base}/#13.5/36.165/120.43`);
    check('page becomes ready', (await ready(page)) === 'yes');
    await page.waitForTimeout(500);
    const feats = await page.evaluate(() => window.atlasMap.queryRenderedFeatures({ layers: ['compounds-fill'] }).map((f) => f.properties));
    const graded = feats.filter((p) => ['red', 'yellow', 'blue'].includes(p.grade));
    check('tiles render compounds with grades', feats.length > 20 && graded.length === feats.length, `${feats.length} compounds, ${graded.length} graded, ${new Set(graded.map((p) => p.grade)).size} grades`);
    check('legend shows the grades', (await page.textContent('#legend')).includes('红'));
    await page.screenshot({ path: path.join(outDir, 'map-grade.png') });

    // 1b. Early warning: a compound with an alert in the window's last month is outlined, and
    // its panel lists the alert as /api/alerts gives it.
    // The latest month with an alert (the rule is strict: a small city's month may have none),
    // chosen as the window's last month.
    const lastMonth = await page.$eval('#to', (s) => s.value);
    const alerts = await page.evaluate(async () => {
      let a = await (await fetch('/api/alerts')).json();
      const first = a.month;
      for (let k = 1; k < 24 && !a.alerts.length; k += 1) {
        const [y, m] = first.split('-').map(Number);
        const d = new Date(Date.UTC(y, m - 1 - k, 1));
        a = await (await fetch(`/api/alerts?month=${d.toISOString().slice(0, 7)}`)).json();
      }
      return a;
    });
    check(`the alerts of a month are answered (${alerts.month}: ${alerts.alerts.length} of ${alerts.tested} tests)`, alerts.tested > 0 && alerts.alerts.length > 0, alerts.note || '');
    if (alerts.alerts.length) {
      if (alerts.month !== lastMonth) {
        await page.selectOption('#to', alerts.month);
        await page.waitForTimeout(500);
      }
      const a = alerts.alerts[0];
      await page.evaluate(([lon, lat]) => window.atlasMap.jumpTo({ center: [lon, lat], zoom: 15.5 }), [a.lon, a.lat]);
      await page.waitForFunction(() => window.atlasMap.areTilesLoaded() && window.atlasMap.loaded(), null, { timeout: 30000 }).catch(() => {});
      await page.waitForTimeout(800);
      const outlined = await page.evaluate((id) => {
        const map = window.atlasMap;
        const lines = map.queryRenderedFeatures({ layers: ['compounds-alert'] });
        const fills = map.queryRenderedFeatures({ layers: ['compounds-fill'] });
        return {
          it: lines.some((f) => f.properties.id === id),
          allHaveAlert: lines.every((f) => typeof f.properties.alert === 'string'),
          missing: fills.filter((f) => f.properties.alert && !lines.some((l) => l.properties.id === f.properties.id)).length,
        };
      }, a.compound_id);
      check(`the alerted compound is outlined on the map (${a.name}, ${a.category})`, outlined.it && outlined.allHaveAlert && outlined.missing === 0, JSON.stringify(outlined));
      check('the legend explains the outline', (await page.textContent('#legend')).includes('预警'));
      const at = await page.evaluate(([lon, lat]) => { const p = window.atlasMap.project([lon, lat]); const r = window.atlasMap.getCanvas().getBoundingClientRect(); return { x: r.left + p.x, y: r.top + p.y }; }, [a.lon, a.lat]);
      await page.mouse.click(at.x, at.y);
      await page.waitForSelector(`#panel h2[data-compound="${a.compound_id}"]`, { timeout: 20000 }).catch(() => {});
      const line = await page.textContent('#compound-alerts').catch(() => '');
      check('the compound\'s panel lists its alert', line.includes(a.category_label) && line.includes(String(a.observed)), line);
      await page.screenshot({ path: path.join(outDir, 'alert.png') });
      await page.click('#panel-close');
      if (alerts.month !== lastMonth) await page.selectOption('#to', lastMonth);
      await page.evaluate(() => window.atlasMap.jumpTo({ center: [120.43, 36.165], zoom: 13.5 }));
      await page.waitForFunction(() => window.atlasMap.areTilesLoaded() && window.atlasMap.loaded(), null, { timeout: 30000 }).catch(() => {});
      await page.waitForTimeout(500);
    }

    // 2. Clicking a compound opens its panel with a chart.
    const pt = await compoundPoint(page);
    check('a compound is clickable on screen', pt, pt && pt.name);
    await page.mouse.click(pt.x, pt.y);
    await page.waitForSelector('#panel h2[data-compound]', { timeout: 20000 });
    const title = await page.textContent('#panel h2');
    check('the panel names the clicked compound', title.includes(pt.name), title);
    check('the panel has a monthly chart', (await page.$$('#panel svg.chart rect.bar')).length >= 12);
    check('the panel lists buildings and grade history', (await page.$$('#panel table tr')).length > 5);
    const resolved = (await page.textContent('#fig-resolved')).trim();
    const satisfied = (await page.textContent('#fig-satisfied')).trim();
    check(`the panel shows the compound's resolution and satisfaction rates (${resolved}, ${satisfied})`, /^\d+(\.\d)?%$/.test(resolved) && /^\d+(\.\d)?%$/.test(satisfied));
    const before = (await page.textContent('#fig-complaints')).trim();
    // The compound's repeats of the window: what /api/compounds/{id} answers for the same window.
    const shown = await page.$eval('#fig-repeats', (el) => ({ n: Number(el.dataset.n), text: el.textContent, from: el.dataset.from, to: el.dataset.to }));
    const cid = await page.$eval('#panel h2[data-compound]', (el) => el.dataset.compound);
    const asked = await page.evaluate(async ([id, from, to]) => (await fetch(`/api/compounds/${id}?from=${from}&to=${to}`)).json(), [cid, shown.from, shown.to]);
    check(`the panel shows the compound's repeats and repeat rate as the API counts them (${shown.text})`, shown.n === asked.repeats && asked.repeats <= asked.complaints && shown.text.includes('·'), JSON.stringify({ shown, repeats: asked.repeats }));
    // The weekday × hour table: 7 × 24 cells that sum to the panel's complaints of the window.
    const heatSum = (id) => page.$$eval(`#${id} td[data-n]`, (tds) => ({ cells: tds.length, sum: tds.reduce((a, td) => a + Number(td.dataset.n), 0) }));
    const count = (text) => Number(String(text).replace(/[^\d]/g, ''));
    const heat = await heatSum('heat-compound');
    check(`the panel shows the compound's weekday × hour table summing to its complaints (${heat.sum} of ${before})`, heat.cells === 168 && heat.sum === count(before) && heat.sum > 0, JSON.stringify(heat));
    await page.screenshot({ path: path.join(outDir, 'compound-panel.png') });
    await page.$eval('#heat-compound', (el) => el.scrollIntoView());
    await (await page.$('#panel')).screenshot({ path: path.join(outDir, 'compound-hours.png') });

    // 3. Moving the window changes the numbers and the tiles asked for.
    const months = await page.$$eval('#from option', (os) => os.map((o) => o.value));
    const from = months[Math.max(0, months.length - 48)];
    const to = months[Math.max(0, months.length - 37)];
    tileUrls.length = 0;
    await page.selectOption('#to', to);
    await page.selectOption('#from', from);
    // Setting `to` before `from` makes two windows (the first one month long, `from` pulled
    // up to `to`): wait for the panel of the second, not merely for a changed figure.
    await page.waitForFunction(([f, t]) => {
      const el = document.getElementById('fig-repeats');
      return el && el.dataset.from === f && el.dataset.to === t;
    }, [from, to], { timeout: 20000 }).catch(() => {});
    const after = (await page.textContent('#fig-complaints')).trim();
    check('a new window changes the compound\'s complaints', after !== before, `${before} → ${after} (${from}..${to})`);
    const heatAfter = await heatSum('heat-compound');
    check(`the weekday × hour table follows the window (${heatAfter.sum} of ${after})`, heatAfter.cells === 168 && heatAfter.sum === count(after), JSON.stringify(heatAfter));
    await page.waitForTimeout(1500);
    check('tiles are asked for the new window', tileUrls.some((u) => u.includes(`from=${from}`) && u.includes(`to=${to}`)), tileUrls[0] || 'no tile request');
    check('the window lives in the URL', page.url().includes(`from=${from}`) && /#[\d.]+\/[\d.]+\/[\d.]+/.test(page.url()), page.url());

    // 4. A shared link opens the same place and window.
    const shared = await ctx.newPage();
    await watch(shared, errors, external);
    await shared.goto(page.url());
    await ready(shared);
    const same = await shared.evaluate(() => ({ from: document.getElementById('from').value, zoom: window.atlasMap.getZoom(), c: window.atlasMap.getCenter() }));
    const orig = await page.evaluate(() => ({ zoom: window.atlasMap.getZoom(), c: window.atlasMap.getCenter() }));
    check('a shared link opens the same view', same.from === from && Math.abs(same.zoom - orig.zoom) < 0.05 && Math.abs(same.c.lng - orig.c.lng) < 1e-3, JSON.stringify(same));
    await shared.close();

    // 5. The nearby tool lists and highlights compounds.
    await page.click('#tool-nearby');
    const np = await compoundPoint(page);
    await page.mouse.click(np.x, np.y);
    await page.waitForSelector('#nb-list li', { timeout: 20000 });
    const nb = await page.$$eval('#nb-list li', (lis) => lis.length);
    const hl = await page.evaluate(() => window.atlasMap.querySourceFeatures('sel').length);
    check('nearby lists compounds and highlights them', nb > 0 && hl > 0, `${nb} listed, ${hl} highlighted`);
    await page.screenshot({ path: path.join(outDir, 'nearby.png') });

    // 6. The round tool plans from a selection and draws the route.
    await page.click('#tool-route');
    await page.fill('#rt-limit', '8');
    await page.click('#rt-select');
    await page.waitForSelector('.rt-list li', { timeout: 20000 });
    const stops = await page.$$eval('.rt-list li', (lis) => lis.length);
    // The route's GeoJSON source is parsed by a worker: wait for its line (up to 10 s on a
    // loaded machine with a software renderer) rather than a fixed half second.
    const drawn = await page
      .waitForFunction(() => window.atlasMap.querySourceFeatures('route').some((f) => f.geometry.type === 'LineString'), null, { timeout: 10000 })
      .then(() => true, () => false);
    check('a round is planned and drawn', stops === 8 && drawn, `${stops} stops`);
    check('the round says distances are great-circle', (await page.textContent('#rt-note')).includes('路网'));
    await page.screenshot({ path: path.join(outDir, 'round.png') });

    // 7. The district dashboard.
    await page.selectOption('#district', '370213');
    await page.click('#tool-dashboard');
    await page.waitForSelector('#db-counts', { timeout: 20000 });
    check('the dashboard shows the trend with the campaign marked and grade counts', (await page.$$('#panel svg.chart line.mark')).length === 1 && (await page.textContent('#db-counts')).includes('李沧区'));
    const counts = await page.textContent('#db-counts');
    check('the dashboard gives the districts\' resolution and satisfaction rates', (counts.match(/\d+\.\d%/g) || []).length >= 2, counts.slice(0, 120));
    const effect = await page.textContent('#db-effect');
    check(`the dashboard shows the campaign's effect with its interval (${effect.slice(0, 60)})`, /%.*95%.*%.*….*%/.test(effect) && effect.includes('2023-05'));
    const dbAlerts = await page.evaluate(async () => {
      const el = document.getElementById('db-alerts');
      const to = document.getElementById('to').value;
      const api = await (await fetch(`/api/alerts?district=370213&month=${to}`)).json();
      return { shown: el ? el.querySelectorAll('tr').length - 1 : -1, note: el && el.tagName === 'DIV', api: api.alerts.length, month: api.month };
    });
    check(`the dashboard lists the district's alerts of the month (${dbAlerts.month}: ${dbAlerts.api})`, dbAlerts.api === 0 ? dbAlerts.note : dbAlerts.shown === Math.min(15, dbAlerts.api), JSON.stringify(dbAlerts));
    const dbRow = await page.$eval('#db-counts tr:nth-child(2)', (tr) => tr.children[4].textContent);
    const dbHeat = await heatSum('heat-district');
    check(`the dashboard's weekday × hour table sums to the district's complaints of the window (${dbHeat.sum} of ${dbRow})`, dbHeat.cells === 168 && dbHeat.sum === count(dbRow) && dbHeat.sum > 0, JSON.stringify(dbHeat));
    await page.screenshot({ path: path.join(outDir, 'dashboard.png') });
    await page.$eval('#heat-district', (el) => el.scrollIntoView());
    await (await page.$('#panel')).screenshot({ path: path.join(outDir, 'dashboard-hours.png') });

    // 8. Search by name and by pinyin initials.
    await page.fill('#search', '秋桂园');
    await page.waitForSelector('#search-results li[data-id]', { timeout: 10000 });
    check('search finds 金秋桂园 by name', (await page.textContent('#search-results')).includes('金秋桂园'));
    await page.fill('#search', 'jqgy');
    await page.waitForFunction(() => document.getElementById('search-results').textContent.includes('金秋桂园'), null, { timeout: 10000 }).catch(() => {});
    check('search finds 金秋桂园 by pinyin initials', (await page.textContent('#search-results')).includes('金秋桂园'));
    await page.click('#search-results li[data-id]');
    await page.waitForFunction(() => (document.querySelector('#panel h2') || {}).textContent?.includes('金秋桂园'), null, { timeout: 20000 }).catch(() => {});
    check('choosing a result opens it', (await page.textContent('#panel h2')).includes('金秋桂园'));

    // 9. English.
    await page.click('#lang');
    check('the English switch translates the page', (await page.textContent('#bar h1')).includes('Compound complaint atlas'));
    await page.screenshot({ path: path.join(outDir, 'english.png') });

    check('no console errors', errors.length === 0, errors.slice(0, 5).join(' | '));
    check('no request leaves the server', external.length === 0, external.slice(0, 5).join(' '));

    // 10. A phone-sized screen.
    const phone = await browser.newContext({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true, locale: 'zh-CN' });
    const pp = await phone.newPage();
    await pp.goto(`${base}/#14/36.165/120.43`);
    check('the page works on a phone', (await ready(pp)) === 'yes');
    const ppt = await compoundPoint(pp);
    check('a compound is tappable on a phone', ppt);
    if (ppt) await pp.touchscreen.tap(ppt.x, ppt.y);
    await pp.waitForSelector('#panel h2[data-compound]', { timeout: 20000 }).catch(() => {});
    const box = await pp.evaluate(() => document.getElementById('panel').getBoundingClientRect().width);
    check('on a phone the panel spans the screen', Math.abs(box - 390) < 2, `${box}px`);
    await pp.screenshot({ path: path.join(outDir, 'phone.png') });
    await phone.close();

    // 11. Failures are shown, not a blank map.
    const bad = await browser.newContext({ viewport: { width: 1280, height: 820 } });
    const bp = await bad.newPage();
    await bp.route('**/api/meta', (r) => r.abort());
    await bp.goto(`${base}/`);
    await bp.waitForSelector('#message:not([hidden])', { timeout: 20000 }).catch(() => {});
    check('an unreachable server is shown as a message', (await bp.textContent('#message')).includes('无法连接'), await bp.textContent('#message'));
    await bp.screenshot({ path: path.join(outDir, 'unreachable.png') });
    const bp2 = await bad.newPage();
    await bp2.route('**/api/plan/route', (r) => r.fulfill({ status: 500, contentType: 'application/json', body: '{"error":{"code":"internal","message":"boom"}}' }));
    await bp2.goto(`${base}/#13/36.165/120.43`);
    await ready(bp2);
    await bp2.click('#tool-route');
    await bp2.click('#rt-select');
    await bp2.waitForSelector('#message:not([hidden])', { timeout: 20000 }).catch(() => {});
    check('a failed request is shown as a message', (await bp2.textContent('#message')).includes('boom'));
    await bp2.click('#tool-nearby');
    await bp2.evaluate(() => window.atlasMap.jumpTo({ center: [120.9, 35.9], zoom: 13 })); // the sea
    await bp2.mouse.click(640, 500);
    await bp2.waitForSelector('#panel .empty', { timeout: 20000 }).catch(() => {});
    check('an empty selection says so', (await bp2.$('#panel .empty')) !== null);
    await bad.close();

    // 12. A server that keeps the planner tools to planners: the page asks for the token.
    if (guarded) {
      const gctx = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'zh-CN' });
      const gp = await gctx.newPage();
      const gerrors = [];
      gp.on('pageerror', (e) => gerrors.push(e.message));
      await gp.goto(`${guarded}/#13.5/36.165/120.43`);
      await ready(gp);
      await gp.waitForTimeout(500);
      const gpt = await compoundPoint(gp);
      await gp.mouse.click(gpt.x, gpt.y);
      await gp.waitForSelector('#token-dialog[open]', { timeout: 20000 }).catch(() => {});
      check('without a token the page asks for one', (await gp.$('#token-dialog[open]')) !== null);
      await gp.screenshot({ path: path.join(outDir, 'token-dialog.png') });
      await gp.fill('#token-input', 'not-the-token');
      await gp.click('#token-ok');
      await gp.waitForSelector('#message:not([hidden])', { timeout: 20000 }).catch(() => {});
      check('a wrong token is refused with a message', (await gp.textContent('#message')).includes('unknown token'), await gp.textContent('#message'));
      await gp.mouse.click(gpt.x, gpt.y);
      await gp.waitForSelector('#token-dialog[open]', { timeout: 20000 }).catch(() => {});
      await gp.fill('#token-input', process.env.PLANNER_TOKEN);
      await gp.click('#token-ok');
      await gp.waitForSelector('#panel h2[data-compound]', { timeout: 20000 }).catch(() => {});
      check('with the planner token the compound panel opens', ((await gp.textContent('#panel h2')) || '').includes(gpt.name));
      await gp.click('#tool-route');
      await gp.click('#rt-select');
      await gp.waitForSelector('.rt-list li', { timeout: 20000 }).catch(() => {});
      check('the token is kept for the next planner request', (await gp.$('#token-dialog[open]')) === null && (await gp.$$('.rt-list li')).length > 0);
      check('no page errors behind the token', gerrors.length === 0, gerrors.join('; '));
      await gctx.close();
    }

    // 13. MapLibre Tiles: the same view drawn from `.mlt` tiles holds the same compounds with
    // the same grades as from MVT, every tile fetched as MLT, none that MapLibre cannot parse.
    const rendered = async (query) => {
      const c = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'zh-CN' });
      const p = await c.newPage();
      const errs = [];
      const asked = [];
      await watch(p, errs, external);
      p.on('request', (r) => { if (r.url().includes('/tiles/atlas/')) asked.push(r.url().split('?')[0]); });
      await p.goto(`${base}/${query}#14/36.165/120.43`);
      await ready(p);
      // Every tile of the view loaded (or failed), then what was drawn.
      await p.waitForFunction(() => window.atlasMap.areTilesLoaded(), null, { timeout: 60000 }).catch(() => {});
      await p.waitForTimeout(300);
      const seen = await p.evaluate(() => ({
        compounds: [...new Set(window.atlasMap.queryRenderedFeatures({ layers: ['compounds-fill'] }).map((f) => `${f.properties.id}:${f.properties.grade}`))].sort(),
        mapErrors: (window.atlasMapErrors || []).slice(0, 3),
      }));
      await p.screenshot({ path: path.join(outDir, `map-${query ? 'mlt' : 'mvt'}.png`) });
      await c.close();
      return { ...seen, asked, errs };
    };
    const mvtView = await rendered('');
    const mltView = await rendered('?encoding=mlt');
    check('the MLT page asks for MLT tiles only', mltView.asked.length > 0 && mltView.asked.every((u) => u.endsWith('.mlt')), `${mltView.asked.length} tiles, e.g. ${mltView.asked[0]}`);
    check('MapLibre parses every MLT tile', mltView.mapErrors.length === 0 && mltView.errs.length === 0, [...mltView.mapErrors, ...mltView.errs].join(' | '));
    check('MLT tiles draw the same compounds and grades as MVT', mvtView.compounds.length > 5 && JSON.stringify(mltView.compounds) === JSON.stringify(mvtView.compounds), `${mltView.compounds.length} from MLT, ${mvtView.compounds.length} from MVT`);

    // 14. A property company chosen on the page: the tiles carry its CQL2 filter and only its
    // compounds are drawn; a name that is no company is said so.
    {
      const c = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'zh-CN' });
      const p = await c.newPage();
      const errs = [];
      const asked = [];
      await watch(p, errs, external);
      p.on('request', (r) => { if (r.url().includes('/tiles/atlas/')) asked.push(new URL(r.url()).searchParams.get('filter') || ''); });
      await p.goto(`${base}/#13.5/36.165/120.43`);
      await ready(p);
      await p.waitForFunction(() => window.atlasMap.areTilesLoaded(), null, { timeout: 60000 }).catch(() => {});
      const all = await p.evaluate(() => window.atlasMap.queryRenderedFeatures({ layers: ['compounds-fill'] }).map((f) => f.properties));
      const byCompany = {};
      for (const f of all) (byCompany[f.company] = byCompany[f.company] || new Set()).add(f.id);
      const [name, ids] = Object.entries(byCompany).sort((a, b) => b[1].size - a[1].size)[0] || [];
      await p.fill('#company', name || '');
      await p.dispatchEvent('#company', 'change');
      const only = await p
        .waitForFunction((n) => {
          const fs = window.atlasMap.queryRenderedFeatures({ layers: ['compounds-fill'] });
          return window.atlasMap.areTilesLoaded() && fs.length > 0 && fs.every((f) => f.properties.company === n);
        }, name, { timeout: 30000 })
        .then(() => true, () => false);
      const drawn = await p.evaluate(() => new Set(window.atlasMap.queryRenderedFeatures({ layers: ['compounds-fill'] }).map((f) => f.properties.id)).size);
      check('choosing a company draws only its compounds', only && ids && drawn === ids.size && drawn < new Set(all.map((f) => f.id)).size, `${name}: ${drawn} drawn of ${all.length} before (${ids && ids.size} of it)`);
      check('the tiles carry the company filter', asked.includes(`company = '${name}'`) && p.url().includes('company='), asked[asked.length - 1]);
      await p.screenshot({ path: path.join(outDir, 'map-company.png') });
      await p.fill('#company', '不存在的物业公司');
      await p.dispatchEvent('#company', 'change');
      await p.waitForSelector('#message:not([hidden])', { timeout: 10000 }).catch(() => {});
      check('a name that is no company is said so', (await p.textContent('#message')).includes('不存在的物业公司'));
      check('no errors with a company chosen', errs.length === 0, errs.slice(0, 3).join(' | '));
      await c.close();
    }

    // 14b. The company colouring: compounds filled by their property company's list standing
    // (black / red / none) in the page's grade quarter, as /api/companies/lists has them, with
    // its legend; the choice lives in the URL.
    {
      const c = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'zh-CN' });
      const p = await c.newPage();
      const errs = [];
      await watch(p, errs, external);
      await p.goto(`${base}/#12/36.12/120.40`);
      await ready(p);
      await p.selectOption('#style', 'company');
      await p.waitForFunction(() => {
        const m = window.atlasMap;
        const fill = m.getLayer('compounds-fill') && JSON.stringify(m.getPaintProperty('compounds-fill', 'fill-color'));
        return fill && fill.includes('company_list') && m.areTilesLoaded() && m.queryRenderedFeatures({ layers: ['compounds-fill'] }).length > 0;
      }, null, { timeout: 60000 }).catch(() => {});
      const seen = await p.evaluate(async () => {
        const m = window.atlasMap;
        const feats = m.queryRenderedFeatures({ layers: ['compounds-fill'] }).map((f) => f.properties);
        const period = document.getElementById('period').value;
        const lists = await (await fetch(`/api/companies/lists?period=${period}`)).json();
        return { feats, period, lists, fill: m.getPaintProperty('compounds-fill', 'fill-color') };
      });
      const onList = new Map(seen.lists.companies.filter((r) => r.list !== 'none').map((r) => [r.name, r.list]));
      const wrong = seen.feats.filter((f) => (onList.get(f.company) || 'none') !== f.company_list);
      const listed = seen.feats.filter((f) => f.company_list !== 'none');
      check('the company colouring paints compounds by their company\'s list', JSON.stringify(seen.fill).includes('company_list') && p.url().includes('style=company'), JSON.stringify(seen.fill));
      check('every compound drawn carries its company\'s standing as /api/companies/lists gives it', seen.feats.length > 20 && wrong.length === 0 && listed.length > 0,
        `${seen.period}: ${seen.feats.length} compounds, ${listed.length} of listed companies, ${wrong.length} disagree (e.g. ${JSON.stringify(wrong[0] && [wrong[0].company, wrong[0].company_list])}); ${onList.size} companies listed`);
      const legendText = await p.textContent('#legend');
      const swatches = await p.evaluate(() => [...document.querySelectorAll('#legend [data-list]')].map((e) => [e.dataset.list, getComputedStyle(e).backgroundColor]));
      const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
      const styleColours = { black: seen.fill[3], red: seen.fill[5], none: seen.fill[6] };
      check('the legend names the lists in the style\'s colours', legendText.includes('黑名单') && legendText.includes('红名单') && swatches.length === 3 && swatches.every(([l, c]) => rgb(styleColours[l]) === c), JSON.stringify(swatches));
      await p.screenshot({ path: path.join(outDir, 'map-company-lists.png') });
      check('no errors with the company colouring', errs.length === 0, errs.slice(0, 3).join(' | '));
      await c.close();
    }

    // 15. Hot spots: the 热点 toggle shows the tiles' hotspots layer (hidden until then), the
    // cells drawn carry the patterns, counts and z-scores /api/hotspots gives for the page's
    // window, the legend names every pattern in Chinese and English in the style's colours,
    // and a click on a cell shows its figures.
    {
      const c = await browser.newContext({ viewport: { width: 1280, height: 820 }, locale: 'zh-CN' });
      const p = await c.newPage();
      const errs = [];
      await watch(p, errs, external);
      await p.goto(`${base}/#12.5/36.12/120.40`);
      await ready(p);
      await p.waitForFunction(() => window.atlasMap.areTilesLoaded(), null, { timeout: 60000 }).catch(() => {});
      const hiddenAtFirst = await p.evaluate(() => window.atlasMap.getLayoutProperty('hotspots-fill', 'visibility'));
      const noneBefore = await p.evaluate(() => window.atlasMap.queryRenderedFeatures({ layers: ['hotspots-fill'] }).length);
      await p.click('#tool-hotspots');
      await p.waitForFunction(() => window.atlasMap.areTilesLoaded() && window.atlasMap.queryRenderedFeatures({ layers: ['hotspots-fill'] }).length > 0, null, { timeout: 60000 }).catch(() => {});
      const drawn = await p.evaluate(() => window.atlasMap.queryRenderedFeatures({ layers: ['hotspots-fill'] }).map((f) => f.properties));
      const cells = new Map(drawn.map((d) => [d.cell, d]));
      check('the 热点 toggle shows the hot-spot cells', hiddenAtFirst === 'none' && noneBefore === 0 && cells.size > 20, `hidden at first: ${hiddenAtFirst}; ${cells.size} cells drawn`);
      check('the hot spots live in the URL', p.url().includes('hotspots=1'), p.url());
      const win = await p.evaluate(() => ({ from: document.getElementById('from').value, to: document.getElementById('to').value }));
      const api = await p.evaluate(async (w) => (await fetch(`/api/hotspots?from=${w.from}&to=${w.to}`)).json(), win);
      const byCell = new Map(api.features.map((f) => [f.properties.cell, f.properties]));
      const differ = [...cells.values()].filter((d) => {
        const a = byCell.get(d.cell);
        return !a || a.pattern !== d.pattern || a.complaints !== d.complaints || (a.gi_z === null ? d.gi_z !== undefined : Math.abs(a.gi_z - d.gi_z) > 1e-9);
      });
      const patterns = [...new Set([...cells.values()].map((d) => d.pattern))].sort();
      check('the cells drawn have the API\'s patterns, counts and z-scores', cells.size > 0 && differ.length === 0, `${differ.length} of ${cells.size} differ${differ.length ? `, e.g. ${JSON.stringify(differ[0])}` : ''}; patterns drawn: ${patterns.join(', ')}`);
      check('some cells drawn are hot spots', patterns.some((x) => x.endsWith('_hot')), patterns.join(', '));
      const legend = await p.evaluate(() => [...document.querySelectorAll('#hot-legend .hot-item')].map((el) => ({ pattern: el.dataset.pattern, text: el.textContent, colour: getComputedStyle(el.querySelector('.sw')).backgroundColor })));
      const paint = await p.evaluate(() => window.atlasMap.getPaintProperty('hotspots-fill', 'fill-color'));
      const rgb = (hex) => `rgb(${[1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16)).join(', ')})`;
      const styled = new Map();
      for (let i = 2; i + 1 < paint.length; i += 2) styled.set(paint[i], paint[i + 1]);
      const zh = { new: '新增', consecutive: '连续', intensifying: '加强的', persistent: '持续', diminishing: '逐渐减少的', sporadic: '分散的', oscillating: '振荡', historical: '历史' };
      const wrong = legend.filter((l) => {
        if (l.pattern === 'none') return !l.text.includes('无显著模式') || !l.text.includes('no pattern');
        const [kind, sign] = l.pattern.split('_');
        const name = `${zh[kind]}${sign === 'hot' ? '热点' : '冷点'}`;
        return !l.text.includes(name) || !l.text.includes(`${kind} ${sign} spot`) || !styled.has(l.pattern) || rgb(styled.get(l.pattern)) !== l.colour;
      });
      check('the legend names every pattern in Chinese and English in the style\'s colours', legend.length === 17 && styled.size === 16 && wrong.length === 0 && patterns.every((x) => legend.some((l) => l.pattern === x)), `${legend.length} entries; wrong: ${JSON.stringify(wrong.slice(0, 2))}`);
      await p.screenshot({ path: path.join(outDir, 'map-hotspots.png') });
      // A click on a significant cell (its centre, checked by querying the point back).
      const target = await p.evaluate(() => {
        const map = window.atlasMap;
        const rect = map.getCanvas().getBoundingClientRect();
        const feats = map.queryRenderedFeatures({ layers: ['hotspots-fill'] }).filter((f) => f.properties.pattern !== 'none');
        for (const f of feats) {
          const ring = f.geometry.type === 'Polygon' ? f.geometry.coordinates[0] : f.geometry.coordinates[0][0];
          const n = ring.length - 1;
          const pt = map.project([ring.slice(0, n).reduce((a, q) => a + q[0], 0) / n, ring.slice(0, n).reduce((a, q) => a + q[1], 0) / n]);
          if (pt.x < 30 || pt.y < 30 || pt.x > rect.width - 30 || pt.y > rect.height - 30) continue;
          const back = map.queryRenderedFeatures([pt.x, pt.y], { layers: ['hotspots-fill'] });
          if (back.length && back[0].properties.cell === f.properties.cell) return { x: rect.left + pt.x, y: rect.top + pt.y, props: f.properties };
        }
        return null;
      });
      check('a hot-spot cell is clickable on screen', target, target && target.props.cell);
      if (target) {
        await p.mouse.click(target.x, target.y);
        await p.waitForSelector('#panel h2[data-cell]', { timeout: 20000 }).catch(() => {});
        const shown = await p.evaluate(() => ({
          cell: (document.querySelector('#panel h2[data-cell]') || {}).dataset?.cell,
          pattern: (document.querySelector('#panel h2[data-cell]') || {}).dataset?.pattern,
          title: (document.querySelector('#panel h2') || {}).textContent,
          complaints: (document.getElementById('hot-complaints') || {}).textContent,
          z: (document.getElementById('hot-z') || {}).textContent,
          p: (document.getElementById('hot-p') || {}).textContent,
          q: (document.getElementById('hot-q') || {}).textContent,
        }));
        const a = byCell.get(target.props.cell);
        const num = (s) => Number(String(s).replace(/,/g, ''));
        const ok = a && shown.cell === a.cell && shown.pattern === a.pattern && num(shown.complaints) === a.complaints &&
          Math.abs(num(shown.z) - a.gi_z) < 0.0006 && Math.abs(num(shown.p) - a.gi_p) <= Math.max(0.0006, a.gi_p * 0.01) &&
          Math.abs(num(shown.q) - a.gi_q) <= Math.max(0.0006, a.gi_q * 0.01) && shown.title.includes('热点');
        check('a click on a cell shows its complaints, z, p, q and pattern', ok, JSON.stringify(shown));
        await p.screenshot({ path: path.join(outDir, 'hotspot-panel.png') });
      }
      // A window too short for the statistics: no cells, and the legend says why.
      const months = await p.$$eval('#from option', (os) => os.map((o) => o.value));
      await p.selectOption('#from', months[months.length - 3]);
      await p.waitForFunction(() => window.atlasMap.areTilesLoaded() && document.getElementById('hot-short'), null, { timeout: 60000 }).catch(() => {});
      await p.waitForTimeout(500);
      const shortDrawn = await p.evaluate(() => window.atlasMap.queryRenderedFeatures({ layers: ['hotspots-fill'] }).length);
      check('a window under 10 months draws no cells and says why', shortDrawn === 0 && (await p.$('#hot-short')) !== null, `${shortDrawn} cells`);
      check('no errors with hot spots shown', errs.length === 0, errs.slice(0, 3).join(' | '));
      await c.close();
    }
  } catch (e) {
    check('the run finished', false, e.stack || e.message);
  } finally {
    await browser.close();
  }
  fs.writeFileSync(path.join(outDir, 'results.json'), JSON.stringify(results, null, 2));
  const failed = results.filter((r) => !r.ok).length;
  console.log(`web: ${results.length - failed} passed, ${failed} failed`);
  process.exit(failed ? 1 : 0);
})();
