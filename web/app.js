// The map page: MapLibre GL JS over this server's styles and tiles, with the planner's tools.
// Everything it loads comes from this server unless a basemap key is configured.
(() => {
  'use strict';

  const T = {
    zh: {
      title: '小区物业投诉地图', style: '图层', style_grade: '红黄蓝评级', style_density: '投诉密度', style_company: '物业红黑名单',
      legend_company: '物业公司名单（评级季度）', list_black: '黑名单', list_red: '红名单', list_none: '不在名单',
      from: '起', to: '止', period: '评级季度', district: '区市', street: '街道', company: '物业公司', no_company: '没有这家物业公司：', all: '全部',
      search_ph: '搜索小区（名称或拼音首字母）', nearby: '周边', route: '巡查路线', dashboard: '区市看板',
      unreachable: '无法连接服务器，请检查网络后重试。', failed: '请求失败：', tiles_failed: '地图瓦片加载失败：',
      complaints: '投诉', density: '密度（件/百户·年）', households: '户数', buildings: '楼栋', floors: '层数',
      monthly: '逐月投诉', categories: '投诉类别', history: '评级历史', company: '物业公司',
      computed: '计算', override: '人工调整', why: '原因', grade: '评级', name: '名称',
      red: '红', yellow: '黄', blue: '蓝', none: '无', no_results: '没有找到符合条件的小区。',
      radius: '半径（米）', grades: '评级', click_map: '在地图上点击一个位置。', results: '结果',
      distance: '距离', start: '起点', start_hint: '起点：最后点击的地图位置（默认地图中心）。',
      by_selection: '按条件选择', picked: '点选的小区', pick_hint: '在地图上点击小区加入路线。',
      plan: '规划路线', clear: '清除', limit: '数量', rounds: '天数', max_stops: '每天最多',
      total: '总距离', legs: '段距离', km: '公里', m: '米', note: '说明',
      trend: '逐月投诉趋势', campaign: '专项整治开始', yoy: '同比', half: '半年', vs_prev: '环比上半年',
      vs_year: '同比去年同期', effect: '整治效果（季节与趋势调整后）', observed: '实际', expected: '预期', year_before: '去年同期', counts: '红黄蓝数量', city: '全市', window: '时间窗',
      repeats: '重复投诉（件 · 占比）', repeats_hint: '同一单元（或楼栋）同类问题在配置的天数内再次投诉',
      resolved: '办结率', satisfied: '满意率', response_h: '首次响应（小时，中位数）', closing_h: '办结用时（小时，中位数/90%）', rates: '办理情况',
      hours: '投诉时段（星期 × 小时）', peak: '高峰', hour: '时',
      legend_grade: '评级', legend_density: '投诉密度（件/百户·年）', suppressed: '（数量少，已隐藏）',
      loading: '加载中…', round: '第{n}天', stops: '个点',
      route_note: '距离为起点、各小区内部点与终点之间的大圆距离（球面）：尚无路网数据，实际道路行程会更长。',
      token_needed: '此功能需要规划人员令牌。', token: '令牌', cancel: '取消', sign_in: '确定',
      needs_token: '需要规划人员令牌。',
      alerts: '预警', alert: '预警', alerts_month: '本月预警', legend_alert: '紫色虚线：本月投诉预警',
      p_value: 'p 值', no_alerts: '本月没有预警。', alert_of: '{c}：{o} 件（预期 {e}）',
    },
    en: {
      title: 'Compound complaint atlas', style: 'Layer', style_grade: 'Red/yellow/blue grade', style_density: 'Complaint density', style_company: 'Company red/black list',
      legend_company: 'Property company list (grade quarter)', list_black: 'black list', list_red: 'red list', list_none: 'on no list',
      from: 'From', to: 'To', period: 'Grade quarter', district: 'District', street: 'Street', company: 'Company', no_company: 'No such property company: ', all: 'All',
      search_ph: 'Search compounds (name or pinyin initials)', nearby: 'Nearby', route: 'Round', dashboard: 'Dashboard',
      unreachable: 'The server cannot be reached. Check the connection and try again.', failed: 'Request failed: ', tiles_failed: 'Map tiles failed: ',
      complaints: 'Complaints', density: 'Density (per 100 households·yr)', households: 'Households', buildings: 'Buildings', floors: 'Floors',
      monthly: 'Complaints by month', categories: 'Categories', history: 'Grade history', company: 'Property company',
      computed: 'Computed', override: 'Override', why: 'Why', grade: 'Grade', name: 'Name',
      red: 'red', yellow: 'yellow', blue: 'blue', none: 'none', no_results: 'No compound matches.',
      radius: 'Radius (m)', grades: 'Grades', click_map: 'Click a place on the map.', results: 'Results',
      distance: 'Distance', start: 'Start', start_hint: 'Start: the last place clicked on the map (default: the map centre).',
      by_selection: 'By selection', picked: 'Picked compounds', pick_hint: 'Click compounds on the map to add them.',
      plan: 'Plan round', clear: 'Clear', limit: 'How many', rounds: 'Days', max_stops: 'Max per day',
      total: 'Total', legs: 'Leg', km: 'km', m: 'm', note: 'Note',
      trend: 'Complaints by month', campaign: 'campaign start', yoy: 'YoY', half: 'Half-year', vs_prev: 'vs previous half',
      vs_year: 'vs same half last year', effect: 'Campaign effect (seasonally and trend adjusted)', observed: 'observed', expected: 'expected', year_before: 'a year before', counts: 'Red / yellow / blue', city: 'Whole city', window: 'Window',
      repeats: 'Repeats (count · share)', repeats_hint: 'the same unit (or building) and category again within the configured days',
      resolved: 'Resolved', satisfied: 'Satisfied', response_h: 'First response (hours, median)', closing_h: 'Closing (hours, median / 90%)', rates: 'Handling',
      hours: 'Complaints by weekday and hour', peak: 'Peak', hour: 'h',
      legend_grade: 'Grade', legend_density: 'Complaint density (per 100 households·yr)', suppressed: '(few, withheld)',
      loading: 'Loading…', round: 'Day {n}', stops: 'stops', route_note: '',
      token_needed: 'This needs a planner token.', token: 'Token', cancel: 'Cancel', sign_in: 'OK',
      needs_token: 'A planner token is needed.',
      alerts: 'Alerts', alert: 'Alert', alerts_month: 'Alerts of the month', legend_alert: 'Purple dashes: an early-warning alert this month',
      p_value: 'p', no_alerts: 'No alert this month.', alert_of: '{c}: {o} complaints (expected {e})',
    },
  };
  const GRADE_COLORS = { red: '#d7301f', yellow: '#f5b700', blue: '#6fa8dc' };
  // The company style's fill by the compound's company's list (`company_list` in the tiles),
  // as /styles/company.json paints it.
  const LIST_COLORS = { black: '#212121', red: '#d7301f', none: '#c9c9c9' };
  const STYLES = ['grade', 'density', 'company'];
  const DENSITY_CLASSES = [['0', '#f0f0f0'], ['< 3', '#fee5d9'], ['3–6', '#fcbba1'], ['6–12', '#fc9272'], ['12–24', '#ef3b2c'], ['≥ 24', '#99000d']];

  const $ = (id) => document.getElementById(id);
  const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }[c]));
  const url = new URL(location.href);
  const state = {
    lang: url.searchParams.get('lang') === 'en' ? 'en' : 'zh',
    style: STYLES.includes(url.searchParams.get('style')) ? url.searchParams.get('style') : 'grade',
    // `?encoding=mlt`: the vector tiles as MapLibre Tiles (the style's source says so).
    encoding: url.searchParams.get('encoding') === 'mlt' ? 'mlt' : '',
    from: url.searchParams.get('from'),
    to: url.searchParams.get('to'),
    period: url.searchParams.get('period'),
    district: url.searchParams.get('district') || '',
    // A property company: the tiles carry `filter=company = '…'` (CQL2), so only its
    // compounds are drawn.
    company: url.searchParams.get('company') || '',
    // `?hotspots=1`: the tiles' hot-spot cells drawn over the map.
    hot: url.searchParams.get('hotspots') === '1',
    meta: null,
    tool: null,
    compound: null,
    lastClick: null,
    picked: [],
    overlays: { sel: empty(), route: empty(), probe: empty() },
  };
  const t = (k) => T[state.lang][k] ?? k;
  function empty() { return { type: 'FeatureCollection', features: [] }; }

  // ---- messages and requests ------------------------------------------------------------
  let messageTimer = null;
  function showMessage(text, kind = 'error', ms = 8000) {
    const m = $('message');
    m.textContent = text;
    m.className = kind;
    m.hidden = false;
    clearTimeout(messageTimer);
    if (ms) messageTimer = setTimeout(() => { m.hidden = true; }, ms);
  }
  // The planner token, for the tools a server keeps to planners (compound detail, exports,
  // rounds): asked for when the server answers 401, kept for the browser tab.
  const TOKEN_KEY = 'atlas-token';
  function askToken() {
    const d = $('token-dialog');
    const input = $('token-input');
    input.value = '';
    return new Promise((resolve) => {
      const done = (v) => { d.close(); resolve(v); };
      $('token-cancel').onclick = () => done(null);
      d.onsubmit = (e) => { e.preventDefault(); done(input.value.trim() || null); };
      d.oncancel = () => resolve(null);
      d.showModal();
      input.focus();
    });
  }
  async function api(path, opts = {}, retried = false) {
    let r;
    const token = sessionStorage.getItem(TOKEN_KEY);
    const o = token ? { ...opts, headers: { ...(opts.headers || {}), Authorization: `Bearer ${token}` } } : opts;
    try {
      r = await fetch(path, o);
    } catch (e) {
      throw new Error(t('unreachable'));
    }
    if (r.status === 401 && !retried) {
      // No token, or one the server no longer takes: ask, then try once more.
      sessionStorage.removeItem(TOKEN_KEY);
      const given = await askToken();
      if (!given) throw new Error(t('needs_token'));
      sessionStorage.setItem(TOKEN_KEY, given);
      return api(path, opts, true);
    }
    if (r.status === 401) sessionStorage.removeItem(TOKEN_KEY);
    if (!r.ok) {
      let msg = `HTTP ${r.status}`;
      try { msg = (await r.json()).error.message; } catch (e) { /* not our JSON */ }
      throw new Error(msg);
    }
    return r.json();
  }
  const guard = (f) => async (...a) => {
    try { return await f(...a); } catch (e) { showMessage(e.message.startsWith(t('unreachable')) ? e.message : t('failed') + e.message); return undefined; }
  };
  function windowQuery(extra = {}) {
    const q = new URLSearchParams();
    if (state.from) q.set('from', state.from);
    if (state.to) q.set('to', state.to);
    if (state.period) q.set('period', state.period);
    for (const [k, v] of Object.entries(extra)) if (v !== undefined && v !== null && v !== '') q.set(k, v);
    return q.toString();
  }
  function writeUrl() {
    const q = new URLSearchParams();
    q.set('style', state.style);
    if (state.from) q.set('from', state.from);
    if (state.to) q.set('to', state.to);
    if (state.period) q.set('period', state.period);
    if (state.district) q.set('district', state.district);
    if (state.company) q.set('company', state.company);
    if (state.hot) q.set('hotspots', '1');
    if (state.lang === 'en') q.set('lang', 'en');
    if (state.encoding) q.set('encoding', state.encoding);
    history.replaceState(null, '', `${location.pathname}?${q}${location.hash}`);
  }

  // ---- language ---------------------------------------------------------------------------
  function applyLang() {
    document.documentElement.lang = state.lang === 'zh' ? 'zh-CN' : 'en';
    document.querySelectorAll('[data-i18n]').forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll('[data-i18n-placeholder]').forEach((el) => { el.placeholder = t(el.dataset.i18nPlaceholder); });
    $('lang').textContent = state.lang === 'zh' ? 'EN' : '中文';
    document.title = `${t('title')} · compound-atlas`;
    legend();
    refreshPanel();
  }

  // ---- controls -----------------------------------------------------------------------------
  function months(first, last) {
    const out = [];
    let [y, m] = first.split('-').map(Number);
    const [ly, lm] = last.split('-').map(Number);
    while (y < ly || (y === ly && m <= lm)) {
      out.push(`${y}-${String(m).padStart(2, '0')}`);
      m += 1; if (m > 12) { m = 1; y += 1; }
    }
    return out;
  }
  function fillSelect(sel, items, value) {
    sel.innerHTML = items.map(([v, label]) => `<option value="${esc(v)}">${esc(label)}</option>`).join('');
    if (value !== undefined) sel.value = value;
  }
  function fillControls() {
    const m = state.meta;
    const ms = m.months.first ? months(m.months.first, m.months.last) : [];
    state.from = state.from && ms.includes(state.from) ? state.from : m.window.from;
    state.to = state.to && ms.includes(state.to) ? state.to : m.window.to;
    state.period = state.period && m.periods.includes(state.period) ? state.period : m.period;
    fillSelect($('from'), ms.map((x) => [x, x]), state.from);
    fillSelect($('to'), ms.map((x) => [x, x]), state.to);
    fillSelect($('period'), m.periods.slice().reverse().map((x) => [x, x]), state.period);
    fillSelect($('district'), [['', t('all')], ...m.districts.map((d) => [d.code, d.name])], state.district);
    const list = $('companies');
    list.replaceChildren(...(m.companies || []).map((n) => Object.assign(document.createElement('option'), { value: n })));
    $('company').value = state.company;
    fillStreets();
    $('style').value = state.style;
  }
  function fillStreets() {
    const list = state.meta.streets.filter((s) => !state.district || s.district_code === state.district);
    fillSelect($('street'), [['', t('all')], ...list.map((s) => [s.code, s.name])], '');
  }

  // ---- the map ------------------------------------------------------------------------------
  const amap = () => Boolean(state.meta && state.meta.basemaps && state.meta.basemaps.amap);
  function styleUrl() {
    const filter = state.company ? `company = '${state.company.replace(/'/g, "''")}'` : '';
    return `/styles/${state.style}.json?${windowQuery({ datum: amap() ? 'gcj02' : '', encoding: state.encoding, filter })}`;
  }
  function withBasemap(prev, next) {
    const b = state.meta && state.meta.basemaps;
    if (!b || (!b.tianditu && !b.amap)) return next; // offline: the style's plain background
    const tiles = b.amap
      ? ['https://webrd01.is.autonavi.com/appmaptile?lang=zh_cn&size=1&scale=1&style=8&x={x}&y={y}&z={z}&key=' + encodeURIComponent(b.amap)]
      : ['https://t0.tianditu.gov.cn/vec_w/wmts?SERVICE=WMTS&REQUEST=GetTile&VERSION=1.0.0&LAYER=vec&STYLE=default&TILEMATRIXSET=w&FORMAT=tiles&TILEMATRIX={z}&TILEROW={y}&TILECOL={x}&tk=' + encodeURIComponent(b.tianditu)];
    next.sources.basemap = { type: 'raster', tiles, tileSize: 256, attribution: b.amap ? '© AMap' : '© 天地图' };
    const at = next.layers.findIndex((l) => l.type !== 'background');
    next.layers.splice(at < 0 ? next.layers.length : at, 0, { id: 'basemap', type: 'raster', source: 'basemap' });
    return next;
  }
  let map;
  function createMap() {
    // The city's centre as the server says it (configured, or the median of its compounds).
    const c = state.meta && state.meta.center;
    const view = location.hash ? {} : { center: c || [0, 0], zoom: c ? 11 : 1 };
    map = new maplibregl.Map({ container: 'map', style: styleUrl(), hash: true, attributionControl: { compact: true }, ...view, transformStyle: withBasemap });
    window.atlasMap = map; // for tests and the curious
    map.addControl(new maplibregl.NavigationControl(), 'top-left');
    map.addControl(new maplibregl.ScaleControl({ unit: 'metric' }), 'bottom-right');
    map.on('style.load', addOverlays);
    map.on('error', (e) => {
      const msg = (e && e.error && e.error.message) || 'error';
      (window.atlasMapErrors = window.atlasMapErrors || []).push(msg); // for tests
      showMessage(t('tiles_failed') + msg);
    });
    map.on('click', onMapClick);
    map.on('mousemove', (e) => {
      const hit = map.getLayer('compounds-fill') && map.queryRenderedFeatures(e.point, { layers: ['compounds-fill'] }).length;
      map.getCanvas().style.cursor = hit ? 'pointer' : '';
    });
    map.on('moveend', writeUrl);
  }
  function setStyle() {
    writeUrl();
    map.setStyle(styleUrl(), { transformStyle: withBasemap });
    legend();
  }
  function addOverlays() {
    const add = (id, data) => { if (!map.getSource(id)) map.addSource(id, { type: 'geojson', data }); };
    add('sel', state.overlays.sel);
    add('route', state.overlays.route);
    add('probe', state.overlays.probe);
    if (!map.getLayer('sel-line')) map.addLayer({ id: 'sel-line', type: 'line', source: 'sel', paint: { 'line-color': '#00e5ff', 'line-width': 3 } });
    if (!map.getLayer('probe-fill')) map.addLayer({ id: 'probe-fill', type: 'fill', source: 'probe', filter: ['==', ['geometry-type'], 'Polygon'], paint: { 'fill-color': '#00e5ff', 'fill-opacity': 0.08 } });
    if (!map.getLayer('route-line')) map.addLayer({ id: 'route-line', type: 'line', source: 'route', paint: { 'line-color': '#6a1b9a', 'line-width': 3, 'line-dasharray': [2, 1] } });
    if (!map.getLayer('route-stops')) map.addLayer({ id: 'route-stops', type: 'circle', source: 'route', filter: ['==', ['geometry-type'], 'Point'], paint: { 'circle-radius': 7, 'circle-color': '#6a1b9a', 'circle-stroke-color': '#fff', 'circle-stroke-width': 2 } });
    if (!map.getLayer('route-order')) map.addLayer({ id: 'route-order', type: 'symbol', source: 'route', filter: ['==', ['geometry-type'], 'Point'], layout: { 'text-field': ['to-string', ['get', 'order']], 'text-size': 10, 'text-font': ['Noto Sans CJK SC Regular'], 'text-allow-overlap': true }, paint: { 'text-color': '#fff' } });
    showHot();
  }
  function setOverlay(id, data) {
    state.overlays[id] = data;
    const s = map && map.getSource(id);
    if (s) s.setData(data);
  }
  function circle(lon, lat, r) {
    const pts = [];
    for (let i = 0; i <= 64; i += 1) {
      const a = (i / 64) * 2 * Math.PI;
      pts.push([lon + (r / (111320 * Math.cos((lat * Math.PI) / 180))) * Math.cos(a), lat + (r / 110574) * Math.sin(a)]);
    }
    return { type: 'Feature', properties: {}, geometry: { type: 'Polygon', coordinates: [pts] } };
  }
  function fitFeatures(features) {
    const b = new maplibregl.LngLatBounds();
    const walk = (c) => { if (typeof c[0] === 'number') b.extend(c); else c.forEach(walk); };
    features.forEach((f) => f.geometry && walk(f.geometry.coordinates));
    if (!b.isEmpty()) map.fitBounds(b, { padding: 60, maxZoom: 16, duration: 0 });
  }

  function legend() {
    const el = $('legend');
    if (state.style === 'grade') {
      el.innerHTML = `<b>${esc(t('legend_grade'))}</b><br>` + ['red', 'yellow', 'blue'].map((g) => `<span class="sw" style="background:${GRADE_COLORS[g]}"></span>${esc(t(g))}`).join(' ');
    } else if (state.style === 'company') {
      el.innerHTML = `<b>${esc(t('legend_company'))}</b><br>` + ['black', 'red', 'none'].map((l) => `<span class="sw" data-list="${l}" style="background:${LIST_COLORS[l]}"></span>${esc(t(`list_${l}`))}`).join(' ');
    } else {
      el.innerHTML = `<b>${esc(t('legend_density'))}</b><br>` + DENSITY_CLASSES.map(([l, c]) => `<span class="sw" style="background:${c}"></span>${esc(l)}`).join(' ');
    }
    el.innerHTML += `<br><span class="sw alert-sw"></span>${esc(t('legend_alert'))}`;
    el.insertAdjacentHTML('beforeend', hotLegend());
  }

  // ---- charts -------------------------------------------------------------------------------
  function barChart(points, opts = {}) {
    const w = 380; const h = opts.height || 120; const pad = 18;
    const max = Math.max(1, ...points.map((p) => p.value));
    const bw = (w - pad) / Math.max(1, points.length);
    const mark = opts.mark;
    let bars = '';
    let marker = '';
    points.forEach((p, i) => {
      const bh = ((h - pad - 4) * p.value) / max;
      const after = mark && p.label >= mark;
      bars += `<rect class="bar${after ? ' after' : ''}" x="${pad + i * bw + 0.5}" y="${h - pad - bh}" width="${Math.max(1, bw - 1)}" height="${bh}"><title>${esc(p.label)}: ${p.value}</title></rect>`;
      if (mark && p.label === mark) {
        const x = pad + i * bw;
        const right = x > w * 0.7; // keep the label inside the chart
        marker = `<line class="mark" x1="${x}" x2="${x}" y1="2" y2="${h - pad}"/><text x="${right ? x - 2 : x + 2}" y="10" text-anchor="${right ? 'end' : 'start'}">${esc(t('campaign'))}</text>`;
      }
    });
    const first = points[0] ? points[0].label : '';
    const last = points.length ? points[points.length - 1].label : '';
    return `<svg class="chart" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(opts.title || '')}">` +
      `<text x="0" y="10">${max}</text>${bars}${marker}` +
      `<text x="${pad}" y="${h - 4}">${esc(first)}</text><text x="${w - 40}" y="${h - 4}">${esc(last)}</text></svg>`;
  }

  // ---- the panel ------------------------------------------------------------------------------
  let refreshPanel = () => {};
  function openPanel(html, refresh) {
    $('panel-body').innerHTML = html;
    $('panel').hidden = false;
    if (refresh) refreshPanel = refresh;
  }
  function closePanel() {
    $('panel').hidden = true;
    refreshPanel = () => {};
    state.tool = null;
    state.compound = null;
    markTools();
  }
  const gradeBadge = (g) => (g ? `<span class="grade ${esc(g)}">${esc(t(g))}</span>` : `<span class="hint">${esc(t('none'))}</span>`);
  const fmt = (n, d = 1) => (n === null || n === undefined ? '—' : Number(n).toLocaleString(state.lang === 'zh' ? 'zh-CN' : 'en', { maximumFractionDigits: d }));
  const share = (v) => (v === null || v === undefined ? '—' : `${(v * 100).toFixed(1)}%`);
  // The three rates and the hours of an answer (compound, district, street, company).
  const ratesBlock = (x) => `<h3>${esc(t('rates'))}</h3>
      <div class="figures" id="fig-rates">
        <div><b id="fig-resolved">${share(x.resolved_rate)}</b>${esc(t('resolved'))}</div>
        <div><b id="fig-satisfied">${share(x.satisfied_rate)}</b>${esc(t('satisfied'))}</div>
        <div><b>${fmt(x.response_hours_median)}</b>${esc(t('response_h'))}</div>
        <div><b>${fmt(x.closing_hours_median)} / ${fmt(x.closing_hours_p90)}</b>${esc(t('closing_h'))}</div>
      </div>`;

  // Complaints by weekday (rows, Monday first) and hour (columns): a 7 × 24 table shaded by
  // count, each cell's count in its title and data-n (GET /api/stats/hours).
  const WEEKDAYS = { zh: ['周一', '周二', '周三', '周四', '周五', '周六', '周日'], en: ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'] };
  function heatTable(answer, id) {
    if (answer.error) return `<div id="${id}" class="hint">${esc(answer.error)}</div>`;
    const x = answer.hours;
    const days = WEEKDAYS[state.lang];
    const max = Math.max(1, ...x.counts.flat());
    let peak = [0, 0];
    x.counts.forEach((day, d) => day.forEach((n, k) => { if (n > x.counts[peak[0]][peak[1]]) peak = [d, k]; }));
    const head = Array.from({ length: 24 }, (_, k) => `<th>${k % 6 === 0 ? k : ''}</th>`).join('');
    const cell = (n, d, k) => `<td data-n="${n}" title="${esc(days[d])} ${k}${esc(t('hour'))}: ${n}" style="background:${n ? `rgba(215,48,31,${(0.08 + (0.92 * n) / max).toFixed(3)})` : '#f3f4f6'}"></td>`;
    const rows = x.counts.map((day, d) => `<tr><th>${esc(days[d])}</th>${day.map((n, k) => cell(n, d, k)).join('')}</tr>`).join('');
    const about = x.note
      ? esc(x.note)
      : `${esc(t('peak'))}: ${esc(days[peak[0]])} ${peak[1]}${esc(t('hour'))} (${x.counts[peak[0]][peak[1]]}) · ${esc(t('complaints'))} ${fmt(x.complaints, 0)} · ${esc(x.data_from)} – ${esc(x.data_to)}`;
    return `<table class="heat" id="${id}" data-total="${x.complaints}"><tr><th></th>${head}</tr>${rows}</table><div class="hint">${about}</div>`;
  }
  const hoursQuery = (sel, from, to) => new URLSearchParams({ ...sel, ...(from && to ? { from, to } : {}) });

  // Each opening of the panel is numbered: an answer for an earlier one (the window changed
  // again, or another compound was opened, while it was on its way) is dropped, never drawn
  // over the newer one.
  let panelAsked = 0;
  const openCompound = guard(async (id, zoom) => {
    state.tool = null;
    markTools();
    state.compound = id;
    const asked = ++panelAsked;
    const [c, al] = await Promise.all([
      api(`/api/compounds/${encodeURIComponent(id)}?${windowQuery()}`),
      // The early-warning alerts of the window's last month (the data's last by default).
      api(`/api/alerts?${new URLSearchParams({ compound: id, ...(state.to ? { month: state.to } : {}) })}`).catch(() => null),
    ]);
    if (asked !== panelAsked) return;
    // The time pattern of the same window as the figures.
    const hours = await api(`/api/stats/hours?${hoursQuery({ compound: id }, c.window.from, c.window.to)}`).catch((e) => ({ error: e.message }));
    if (asked !== panelAsked) return;
    const feature = { type: 'Feature', properties: { id: c.id }, geometry: c.geometry };
    setOverlay('sel', { type: 'FeatureCollection', features: [feature] });
    if (zoom) fitFeatures([feature]);
    const cats = c.categories.filter((x) => x.complaints > 0).sort((a, b) => b.complaints - a.complaints);
    const catMax = Math.max(1, ...cats.map((x) => x.complaints));
    const label = (x) => (state.lang === 'zh' ? x.label : x.category.replace(/_/g, ' '));
    openPanel(`
      <h2 data-compound="${c.id}">${esc(c.name)} ${gradeBadge(c.grade && c.grade.grade)}</h2>
      <div class="hint">${esc(c.district && c.district.name)} · ${esc(c.street && c.street.name)} · ${esc(t('company'))}: ${esc(c.company && c.company.name)}</div>
      <div class="hint">${esc(t('window'))}: ${esc(c.window.from)} – ${esc(c.window.to)}</div>
      <div class="figures">
        <div><b id="fig-complaints">${fmt(c.complaints, 0)}</b>${esc(t('complaints'))}</div>
        <div><b>${fmt(c.density)}</b>${esc(t('density'))}</div>
        <div><b>${fmt(c.households, 0)}</b>${esc(t('households'))}</div>
        <div title="${esc(t('repeats_hint'))}"><b id="fig-repeats" data-n="${c.repeats}" data-from="${esc(c.window.from)}" data-to="${esc(c.window.to)}">${fmt(c.repeats, 0)} · ${share(c.repeat_rate)}</b>${esc(t('repeats'))}</div>
      </div>
      ${c.grade ? `<div class="hint">${esc(why(c.grade))}</div>` : ''}
      ${alertsLine(al)}
      ${ratesBlock(c)}
      <h3>${esc(t('monthly'))}</h3>
      ${barChart(c.monthly.map((m) => ({ label: m.month, value: m.complaints })), { mark: state.meta.campaign_start, title: t('monthly') })}
      <h3>${esc(t('hours'))}</h3>
      ${heatTable(hours, 'heat-compound')}
      <h3>${esc(t('categories'))}</h3>
      <table>${cats.map((x) => `<tr><td>${esc(label(x))}</td><td class="n">${x.complaints}</td><td style="width:40%"><div style="background:#4a78b0;height:8px;width:${(100 * x.complaints) / catMax}%"></div></td></tr>`).join('') || `<tr><td>${esc(t('none'))}</td></tr>`}</table>
      <h3>${esc(t('history'))}</h3>
      <table><tr><th>${esc(t('period'))}</th><th>${esc(t('grade'))}</th><th>${esc(t('computed'))}</th><th>${esc(t('override'))}</th></tr>
      ${c.grade_history.slice().reverse().map((r) => `<tr><td>${esc(r.period)}</td><td>${gradeBadge(r.grade)}</td><td>${gradeBadge(r.computed)}</td><td>${r.override ? esc(`${r.override.author}: ${r.override.reason}`) : ''}</td></tr>`).join('')}</table>
      <h3>${esc(t('buildings'))} (${c.buildings.length})</h3>
      <table><tr><th>${esc(t('name'))}</th><th class="n">${esc(t('floors'))}</th><th class="n">${esc(t('households'))}</th><th class="n">${esc(t('complaints'))}</th></tr>
      ${c.buildings.map((b) => `<tr><td>${esc(b.name)}</td><td class="n">${b.floors}</td><td class="n">${b.households}</td><td class="n">${b.suppressed ? esc(t('suppressed')) : b.complaints}</td></tr>`).join('')}</table>`,
    () => openCompound(id));
  });

  // A compound's alerts of the month, one line each (none: nothing shown).
  const catLabel = (a) => (state.lang === 'zh' ? a.category_label : a.category.replace(/_/g, ' '));
  const alertText = (a) => t('alert_of').replace('{c}', catLabel(a)).replace('{o}', a.observed).replace('{e}', fmt(a.expected));
  function alertsLine(al) {
    if (!al || !al.alerts.length) return '';
    return `<div id="compound-alerts"><span class="alert-badge">${esc(t('alert'))} ${esc(al.month)}</span> ` +
      al.alerts.map((a) => `<span class="hint" data-category="${esc(a.category)}">${esc(alertText(a))}, ${esc(t('p_value'))} ${a.p.toExponential(1)}</span>`).join('；') + '</div>';
  }
  // The district's (or city's) alerts of the month, strongest first.
  function alertsTable(al) {
    if (!al) return '';
    if (!al.alerts.length) return `<div id="db-alerts" class="hint">${esc(al.note || t('no_alerts'))}</div>`;
    return `<table id="db-alerts"><tr><th>${esc(t('name'))}</th><th>${esc(t('categories'))}</th><th class="n">${esc(t('observed'))}</th><th class="n">${esc(t('expected'))}</th><th class="n">${esc(t('p_value'))}</th></tr>
      ${al.alerts.slice(0, 15).map((a) => `<tr><td><a href="#" data-open="${a.compound_id}">${esc(a.name)}</a> ${gradeBadge(a.grade)}</td><td>${esc(catLabel(a))}</td><td class="n">${a.observed}</td><td class="n">${fmt(a.expected)}</td><td class="n">${a.p.toExponential(1)}</td></tr>`).join('')}</table>`;
  }

  // Why a compound has its grade, in the page's language.
  function why(g) {
    if (state.lang !== 'zh') return g.why;
    if (g.override) return `人工调整：${g.override.author}（${String(g.override.at).slice(0, 10)}）：${g.override.reason}`;
    const base = `区内排名第 ${g.rank}/${g.of}，加权投诉率 ${fmt(g.rate)}（件/百户·年）`;
    if (g.grade === 'red' && g.held) return `${base}；红色未满两个季度低于黄线，保持红色（摘帽条件未满足）。`;
    if (g.grade === 'red') return `${base}，在红色名额内且高于红线下限。`;
    if (g.grade === 'yellow') return `${base}，在黄色名额内且高于黄线下限。`;
    return `${base}，低于红线和黄线。`;
  }

  function onMapClick(e) {
    state.lastClick = [e.lngLat.lng, e.lngLat.lat];
    if (state.tool === 'nearby') { runNearby(); return; }
    const hits = map.getLayer('compounds-fill') ? map.queryRenderedFeatures(e.point, { layers: ['compounds-fill'] }) : [];
    const id = hits.length ? hits[0].properties.id : null;
    if (state.tool === 'route') {
      if (id !== null && !state.picked.some((p) => p.id === id)) state.picked.push({ id, name: hits[0].properties.name });
      routePanel();
      return;
    }
    const cell = hotCellAt(e.point);
    if (cell) { hotPanel(cell, id !== null ? hits[0].properties : null); return; }
    if (id !== null) openCompound(id, false);
  }

  // ---- nearby ---------------------------------------------------------------------------------
  function nearbyForm() {
    const r = $('nb-radius') ? $('nb-radius').value : 1000;
    const gs = ['red', 'yellow', 'blue'].filter((g) => !$(`nb-${g}`) || $(`nb-${g}`).checked);
    return { r, gs };
  }
  function nearbyPanel(list) {
    const { r, gs } = nearbyForm();
    const grades = ['red', 'yellow', 'blue'].map((g) => `<label><input type="checkbox" id="nb-${g}" ${gs.includes(g) ? 'checked' : ''}> ${gradeBadge(g)}</label>`).join(' ');
    openPanel(`<h2>${esc(t('nearby'))}</h2>
      <form id="nb-form"><label>${esc(t('radius'))} <input id="nb-radius" type="number" min="1" max="50000" value="${esc(r)}"></label> ${grades}</form>
      <div class="hint">${esc(t('click_map'))}</div>
      <div id="nb-results">${list || ''}</div>`, () => { if (state.lastClick) runNearby(); else nearbyPanel(); });
    $('nb-form').addEventListener('change', () => { if (state.lastClick) runNearby(); });
  }
  const runNearby = guard(async () => {
    const { r, gs } = nearbyForm();
    const [lon, lat] = state.lastClick;
    setOverlay('probe', { type: 'FeatureCollection', features: [circle(lon, lat, Number(r) || 1000)] });
    const q = windowQuery({ lon: lon.toFixed(6), lat: lat.toFixed(6), radius_m: r, limit: 50, grade: gs.length === 3 ? '' : gs.join(',') });
    const fc = gs.length ? await api(`/api/compounds/nearby?${q}`) : empty();
    setOverlay('sel', fc);
    const items = fc.features.map((f) => `<li data-id="${f.properties.id}">${gradeBadge(f.properties.grade)} ${esc(f.properties.name)} <span class="hint">${fmt(f.properties.distance_m, 0)} ${esc(t('m'))} · ${esc(t('complaints'))} ${f.properties.complaints}</span></li>`);
    nearbyPanel(items.length ? `<h3>${esc(t('results'))} (${items.length})</h3><ol id="nb-list">${items.join('')}</ol>` : `<p class="empty">${esc(t('no_results'))}</p>`);
    $('panel-body').querySelectorAll('#nb-list li').forEach((li) => li.addEventListener('click', () => openCompound(Number(li.dataset.id), true)));
  });

  // ---- rounds ---------------------------------------------------------------------------------
  function routePanel(result) {
    const sel = (id, v) => ($(id) ? $(id).value : v);
    const grade = sel('rt-grade', 'red,yellow');
    const limit = sel('rt-limit', 12);
    const rounds = sel('rt-rounds', 1);
    openPanel(`<h2>${esc(t('route'))}</h2>
      <div class="hint">${esc(t('start_hint'))}</div>
      <h3>${esc(t('by_selection'))}</h3>
      <form id="rt-form">
        <select id="rt-grade"><option value="red,yellow">${esc(t('red'))}+${esc(t('yellow'))}</option><option value="red">${esc(t('red'))}</option><option value="yellow">${esc(t('yellow'))}</option><option value="">${esc(t('all'))}</option></select>
        <label>${esc(t('limit'))} <input id="rt-limit" type="number" min="1" max="500" value="${esc(limit)}"></label>
        <label>${esc(t('rounds'))} <input id="rt-rounds" type="number" min="1" max="100" value="${esc(rounds)}"></label>
        <button type="button" id="rt-select">${esc(t('plan'))}</button>
      </form>
      <h3>${esc(t('picked'))} (${state.picked.length})</h3>
      <div class="hint">${esc(t('pick_hint'))}</div>
      <ul>${state.picked.map((p) => `<li>${esc(p.name)}</li>`).join('')}</ul>
      <form><button type="button" id="rt-picked" ${state.picked.length ? '' : 'disabled'}>${esc(t('plan'))}</button> <button type="button" id="rt-clear">${esc(t('clear'))}</button></form>
      <div id="rt-result">${result || ''}</div>`, () => routePanel(result));
    $('rt-grade').value = grade;
    $('rt-select').addEventListener('click', () => {
      const select = { limit: Number($('rt-limit').value) || 12 };
      if ($('rt-grade').value) select.grade = $('rt-grade').value;
      if (state.district) select.district = state.district;
      planRound({ select, rounds: Number($('rt-rounds').value) || 1 });
    });
    $('rt-picked').addEventListener('click', () => planRound({ compounds: state.picked.map((p) => p.id) }));
    $('rt-clear').addEventListener('click', () => { state.picked = []; setOverlay('route', empty()); setOverlay('sel', empty()); routePanel(); });
  }
  const planRound = guard(async (what) => {
    const c = map.getCenter();
    const start = state.lastClick || [c.lng, c.lat];
    const body = { start, ...what };
    if (state.from) { body.from = state.from; body.to = state.to; body.period = state.period; }
    const plan = await api('/api/plan/route', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    const feats = [];
    let html = `<h3>${esc(t('total'))}: ${fmt(plan.total_m / 1000, 2)} ${esc(t('km'))} · ${plan.stops} ${esc(t('stops'))}</h3><div class="hint" id="rt-note">${esc(state.lang === 'zh' ? t('route_note') : plan.note)}</div>`;
    plan.rounds.forEach((r) => {
      feats.push(r.route);
      r.stops.forEach((s) => feats.push({ type: 'Feature', properties: { order: s.order, round: r.round }, geometry: { type: 'Point', coordinates: [s.lon, s.lat] } }));
      html += `<h3>${esc(t('round').replace('{n}', r.round))} — ${fmt(r.total_m / 1000, 2)} ${esc(t('km'))}</h3><ol class="rt-list">` +
        r.stops.map((s) => `<li data-id="${s.id}">${gradeBadge(s.grade)} ${esc(s.name)} <span class="hint">+${fmt(s.leg_m / 1000, 2)} ${esc(t('km'))}</span></li>`).join('') + '</ol>';
    });
    setOverlay('route', { type: 'FeatureCollection', features: feats });
    fitFeatures(feats);
    routePanel(html);
    $('panel-body').querySelectorAll('.rt-list li').forEach((li) => li.addEventListener('click', () => openCompound(Number(li.dataset.id), true)));
  });

  // ---- district dashboard ---------------------------------------------------------------------
  // The campaign's effect: the change with its interval, observed against expected by month.
  const effectPanel = (effect, pct) => {
    if (effect.error) return `<div id="db-effect" class="hint">${esc(effect.error)}</div>`;
    const e = effect.effect;
    const n = (v) => (v === null || v === undefined ? '—' : fmt(v, 0));
    const head = e.change === null
      ? esc(e.note || '')
      : `<b>${pct(e.change)}</b> (95%: ${pct(e.change_low)} … ${pct(e.change_high)})`;
    return `<div id="db-effect">${head} · ${esc(e.start)} – ${esc(e.to)} · ${esc(t('observed'))} ${n(e.after)} / ${esc(t('expected'))} ${n(e.expected)}</div>
      ${barChart(e.series.map((m) => ({ label: m.month, value: m.complaints })), { title: t('effect') })}
      <table><tr><th></th><th class="n">${esc(t('observed'))}</th><th class="n">${esc(t('year_before'))}</th><th class="n">${esc(t('expected'))}</th></tr>
      ${e.series.map((m) => `<tr><td>${esc(m.month)}</td><td class="n">${m.complaints}</td><td class="n">${m.year_before}</td><td class="n">${n(m.expected)}</td></tr>`).join('')}</table>`;
  };
  const dashboard = guard(async () => {
    const d = state.district;
    // The trend: the last three years of data (the campaign in view); figures: the window.
    const all = months(state.meta.months.first, state.meta.months.last);
    const tfrom = all[Math.max(0, all.length - 36)];
    const tto = all[all.length - 1];
    const [trend, districts, effect, al, hours] = await Promise.all([
      api(`/api/stats/trend?${new URLSearchParams({ ...(d ? { district: d } : {}), from: tfrom, to: tto })}`),
      api(`/api/districts?${windowQuery()}`),
      // The campaign's effect: data that cannot hold it say why instead of a figure.
      api(`/api/stats/effect?${new URLSearchParams(d ? { district: d } : {})}`).catch((e) => ({ error: e.message })),
      api(`/api/alerts?${new URLSearchParams({ ...(d ? { district: d } : {}), ...(state.to ? { month: state.to } : {}) })}`).catch(() => null),
      // The time pattern of the figures' window.
      api(`/api/stats/hours?${hoursQuery(d ? { district: d } : {}, state.from, state.to)}`).catch((e) => ({ error: e.message })),
    ]);
    const name = d ? (state.meta.districts.find((x) => x.code === d) || {}).name : t('city');
    const rows = districts.districts.filter((x) => !d || x.code === d);
    const pct = (v) => (v === null || v === undefined ? '—' : `${v > 0 ? '+' : ''}${(v * 100).toFixed(1)}%`);
    openPanel(`<h2>${esc(t('dashboard'))}: ${esc(name)}</h2>
      <div class="hint">${esc(t('window'))}: ${esc(trend.trend.from)} – ${esc(trend.trend.to)}</div>
      <h3>${esc(t('trend'))}</h3>
      ${barChart(trend.trend.months.map((m) => ({ label: m.month, value: m.complaints })), { mark: state.meta.campaign_start, title: t('trend') })}
      <table><tr><th>${esc(t('half'))}</th><th class="n">${esc(t('complaints'))}</th><th class="n">${esc(t('vs_prev'))}</th><th class="n">${esc(t('vs_year'))}</th></tr>
      ${trend.trend.halves.map((h) => `<tr><td>${esc(h.half)}</td><td class="n">${h.complaints}</td><td class="n">${pct(h.vs_previous_half)}</td><td class="n">${pct(h.vs_same_half_last_year)}</td></tr>`).join('')}</table>
      <h3>${esc(t('effect'))}</h3>
      ${effectPanel(effect, pct)}
      <h3>${esc(t('alerts_month'))} ${al ? `${esc(al.month)} (${al.compounds_alerted})` : ''}</h3>
      ${alertsTable(al)}
      <h3>${esc(t('counts'))} (${esc(districts.period || '')}; ${esc(t('window'))} ${esc(districts.window.from)} – ${esc(districts.window.to)})</h3>
      <table id="db-counts"><tr><th>${esc(t('district'))}</th><th class="n">${esc(t('red'))}</th><th class="n">${esc(t('yellow'))}</th><th class="n">${esc(t('blue'))}</th><th class="n">${esc(t('complaints'))}</th><th class="n">${esc(t('density'))}</th><th class="n">${esc(t('resolved'))}</th><th class="n">${esc(t('satisfied'))}</th><th class="n">${esc(t('closing_h'))}</th></tr>
      ${rows.map((x) => `<tr><td>${esc(x.name)}</td><td class="n">${x.red}</td><td class="n">${x.yellow}</td><td class="n">${x.blue}</td><td class="n">${fmt(x.complaints, 0)}</td><td class="n">${fmt(x.density)}</td><td class="n">${share(x.resolved_rate)}</td><td class="n">${share(x.satisfied_rate)}</td><td class="n">${fmt(x.closing_hours_median)} / ${fmt(x.closing_hours_p90)}</td></tr>`).join('')}</table>
      <h3>${esc(t('hours'))} (${esc(name)})</h3>
      ${heatTable(hours, 'heat-district')}
      <h3>${esc(t('yoy'))}</h3>
      <table>${trend.trend.months.slice(-12).map((m) => `<tr><td>${esc(m.month)}</td><td class="n">${m.complaints}</td><td class="n">${pct(m.yoy)}</td></tr>`).join('')}</table>`,
    () => dashboard());
    $('panel-body').querySelectorAll('#db-alerts a[data-open]').forEach((a) => a.addEventListener('click', (e) => { e.preventDefault(); openCompound(Number(a.dataset.open), true); }));
  });

  // ---- hot spots --------------------------------------------------------------------------------
  // The tiles' `hotspots` layer (H3 cells: Gi* over the window, its FDR q-value and the
  // emerging pattern — the figures of /api/hotspots), drawn by the style's `hotspots-fill`,
  // hidden until the 热点 toggle shows it. The legend takes its colours from the style.
  Object.assign(T.zh, {
    hotspots: '热点', hot_legend: '新兴热点模式', hot_cell: 'H3 单元', gi_z: 'Gi* z 值', gi_p: 'p 值', gi_q: 'q 值（FDR）',
    pattern: '模式', hot_short: '热点分析需要至少 10 个月的时间窗。', open_compound: '打开小区', hot_hot: '热点', hot_cold: '冷点',
  });
  Object.assign(T.en, {
    hotspots: 'Hot spots', hot_legend: 'Emerging hot-spot pattern', hot_cell: 'H3 cell', gi_z: 'Gi* z', gi_p: 'p', gi_q: 'q (FDR)',
    pattern: 'Pattern', hot_short: 'Hot spots need a window of at least 10 months.', open_compound: 'Open compound', hot_hot: 'hot', hot_cold: 'cold',
  });
  const HOT_KINDS = ['intensifying', 'persistent', 'consecutive', 'new', 'diminishing', 'oscillating', 'sporadic', 'historical'];
  // ArcGIS Pro's Chinese names of the patterns.
  const HOT_ZH = { new: '新增', consecutive: '连续', intensifying: '加强的', persistent: '持续', diminishing: '逐渐减少的', sporadic: '分散的', oscillating: '振荡', historical: '历史' };
  function patternName(p, lang) {
    if (!p || p === 'none') return lang === 'zh' ? '无显著模式' : 'no pattern detected';
    const [kind, sign] = p.split('_');
    return lang === 'zh' ? `${HOT_ZH[kind] || kind}${sign === 'hot' ? '热点' : '冷点'}` : `${kind} ${sign} spot`;
  }
  function hotColours() {
    const e = map && map.getLayer('hotspots-fill') ? map.getPaintProperty('hotspots-fill', 'fill-color') : null;
    const out = {};
    if (Array.isArray(e) && e[0] === 'match') for (let i = 2; i + 1 < e.length; i += 2) out[e[i]] = e[i + 1];
    out.none = Array.isArray(e) ? e[e.length - 1] : 'transparent';
    return out;
  }
  function hotLegend() {
    if (!state.hot) return '';
    const c = hotColours();
    const item = (p) => `<span class="hot-item" data-pattern="${esc(p)}"><span class="sw" style="background:${esc(c[p] || 'transparent')}"></span>${esc(patternName(p, 'zh'))} <span class="en">${esc(patternName(p, 'en'))}</span></span>`;
    const all = HOT_KINDS.flatMap((k) => [`${k}_hot`, `${k}_cold`]);
    const span = state.from && state.to ? months(state.from, state.to).length : 12;
    const short = span < 10 ? `<div class="hint" id="hot-short">${esc(t('hot_short'))}</div>` : '';
    return `<div id="hot-legend"><b>${esc(t('hot_legend'))}</b>${short}<div class="hot-grid">${all.map(item).join('')}${item('none')}</div></div>`;
  }
  function showHot() {
    if (map && map.getLayer('hotspots-fill')) map.setLayoutProperty('hotspots-fill', 'visibility', state.hot ? 'visible' : 'none');
    $('tool-hotspots').classList.toggle('active', state.hot);
    $('tool-hotspots').setAttribute('aria-pressed', String(state.hot));
    legend();
  }
  function hotCellAt(point) {
    if (!state.hot || !map.getLayer('hotspots-fill')) return null;
    const hits = map.queryRenderedFeatures(point, { layers: ['hotspots-fill'] });
    return hits.length ? hits[0].properties : null;
  }
  const small = (v) => (v === undefined || v === null ? '—' : (v !== 0 && Math.abs(v) < 0.001 ? Number(v).toExponential(2) : Number(v).toFixed(3)));
  function hotPanel(p, compound) {
    const other = state.lang === 'zh' ? 'en' : 'zh';
    openPanel(`<h2 data-cell="${esc(p.cell)}" data-pattern="${esc(p.pattern)}">${esc(t('hotspots'))}: ${esc(patternName(p.pattern, state.lang))}</h2>
      <div class="hint">${esc(patternName(p.pattern, other))} · ${esc(t('hot_cell'))} ${esc(p.cell)}</div>
      <div class="hint">${esc(t('window'))}: ${esc(state.from)} – ${esc(state.to)}</div>
      <div class="figures" id="hot-figures">
        <div><b id="hot-complaints">${fmt(p.complaints, 0)}</b>${esc(t('complaints'))}</div>
        <div><b id="hot-z">${small(p.gi_z)}</b>${esc(t('gi_z'))}</div>
        <div><b id="hot-sign">${esc(p.hot ? t(`hot_${p.hot}`) : '—')}</b>q &lt; 0.05</div>
        <div><b id="hot-p">${small(p.gi_p)}</b>${esc(t('gi_p'))}</div>
        <div><b id="hot-q">${small(p.gi_q)}</b>${esc(t('gi_q'))}</div>
      </div>
      ${compound ? `<button type="button" id="hot-open">${esc(t('open_compound'))}: ${esc(compound.name)}</button>` : ''}`,
    () => {
      // The same cell in the window now shown, once its tiles are drawn.
      const again = () => {
        const f = state.hot && map.getLayer('hotspots-fill') && map.queryRenderedFeatures({ layers: ['hotspots-fill'] }).find((x) => x.properties.cell === p.cell);
        if (f) hotPanel(f.properties, compound); else closePanel();
      };
      if (map.loaded() && map.areTilesLoaded()) again(); else map.once('idle', again);
    });
    if (compound) $('hot-open').addEventListener('click', () => openCompound(compound.id, false));
  }

  // ---- search ---------------------------------------------------------------------------------
  let searchTimer = null;
  const search = guard(async () => {
    const q = $('search').value.trim();
    const ul = $('search-results');
    if (!q) { ul.hidden = true; return; }
    const fc = await api(`/api/compounds?${windowQuery({ q, limit: 12 })}`);
    ul.innerHTML = fc.features.length
      ? fc.features.map((f) => `<li role="option" data-id="${f.properties.id}">${esc(f.properties.name)} <span class="sub">${esc(f.properties.district)} ${esc(f.properties.street)}</span></li>`).join('')
      : `<li class="sub">${esc(t('no_results'))}</li>`;
    ul.hidden = false;
    ul.querySelectorAll('li[data-id]').forEach((li) => li.addEventListener('click', () => { ul.hidden = true; openCompound(Number(li.dataset.id), true); }));
  });

  function markTools() {
    $('tool-nearby').classList.toggle('active', state.tool === 'nearby');
    $('tool-route').classList.toggle('active', state.tool === 'route');
  }
  function bind() {
    $('style').addEventListener('change', (e) => { state.style = e.target.value; setStyle(); });
    const windowChanged = (moved) => {
      // A window never runs backwards: the other end follows the one moved.
      if ($('from').value > $('to').value) {
        if (moved === 'from') $('to').value = $('from').value; else $('from').value = $('to').value;
      }
      state.from = $('from').value; state.to = $('to').value; state.period = $('period').value;
      setStyle();
      refreshPanel();
    };
    $('from').addEventListener('change', () => windowChanged('from'));
    $('to').addEventListener('change', () => windowChanged('to'));
    $('period').addEventListener('change', windowChanged);
    $('district').addEventListener('change', (e) => {
      state.district = e.target.value;
      fillStreets();
      writeUrl();
      const d = state.meta.districts.find((x) => x.code === state.district);
      if (d && d.bbox) map.fitBounds([[d.bbox[0], d.bbox[1]], [d.bbox[2], d.bbox[3]]], { padding: 20, duration: 0 });
      refreshPanel();
    });
    $('company').addEventListener('change', (e) => {
      const name = e.target.value.trim();
      if (name && !(state.meta.companies || []).includes(name)) {
        showMessage(t('no_company') + name);
        e.target.value = state.company;
        return;
      }
      state.company = name;
      setStyle();
    });
    $('street').addEventListener('change', (e) => {
      const s = state.meta.streets.find((x) => x.code === e.target.value);
      if (s && s.bbox) map.fitBounds([[s.bbox[0], s.bbox[1]], [s.bbox[2], s.bbox[3]]], { padding: 20, duration: 0 });
    });
    $('search').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(search, 200); });
    $('search').addEventListener('keydown', (e) => { if (e.key === 'Enter') { clearTimeout(searchTimer); search(); } });
    $('tool-nearby').addEventListener('click', () => { state.tool = state.tool === 'nearby' ? null : 'nearby'; markTools(); if (state.tool) nearbyPanel(); else closePanel(); });
    $('tool-route').addEventListener('click', () => { state.tool = state.tool === 'route' ? null : 'route'; markTools(); if (state.tool) routePanel(); else closePanel(); });
    $('tool-dashboard').addEventListener('click', () => { state.tool = null; markTools(); dashboard(); });
    $('tool-hotspots').addEventListener('click', () => { state.hot = !state.hot; writeUrl(); showHot(); });
    $('panel-close').addEventListener('click', closePanel);
    $('lang').addEventListener('click', () => { state.lang = state.lang === 'zh' ? 'en' : 'zh'; writeUrl(); applyLang(); fillControls(); });
  }

  async function start() {
    applyLang();
    bind();
    try {
      state.meta = await api('/api/meta');
    } catch (e) {
      showMessage(e.message, 'error', 0);
      document.body.dataset.ready = 'error';
      return;
    }
    fillControls();
    createMap();
    legend();
    writeUrl();
    map.once('idle', () => { document.body.dataset.ready = 'yes'; });
  }
  start();
})();
