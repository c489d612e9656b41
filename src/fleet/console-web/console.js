// The fleet console in the browser: MQTT.js (window.mqtt, served by the console) over WebSocket to
// the broker; sensors from their retained sensor_status, live readings from sensor_data, history
// from the recorder's database through /api/history, orders published on config_change.
import { drawPlot, drawSparkline } from './plot.js';
import { sensorAdminConnected, setupSensorAdmin } from './sensor-admin.js';

const $ = (id) => document.getElementById(id);
const KEEP_MS = 3_600_000; // readings kept in memory per sensor
const SPARK_MS = 120_000;
const CONFIRM_MS = 8_000;
const LOGIN_KEY = 'culex-console-login';

const state = {
  config: null,
  client: null,
  /** id → { id, status, points: [[ts, value]], unit, kind, card } */
  sensors: new Map(),
  selected: null,
  windowMs: 60_000,
  /** The last order sent: { id, topic, targets, applied: Map(id → appliedAt), sentAt, summary, timer } */
  pending: null,
  /** id → [[ts, label]]: when orders were applied, drawn on the plot */
  markers: new Map(),
  formDirty: false,
};

const two = (n) => String(n).padStart(2, '0');
const clock = (ts) => {
  const d = new Date(ts);
  return `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}.${String(d.getMilliseconds()).padStart(3, '0')}`;
};
const decimalsOf = (unit) => (unit === 'ppm' || unit === 'lx' ? 0 : unit === '°C' ? 2 : 1);
const formatRate = (hz) => (hz >= 1 ? `${Number(hz.toFixed(2))} Hz` : `every ${Number((1 / hz).toFixed(1))} s`);

// ---- connection -------------------------------------------------------------------------------

function brokerUrl() {
  const { config } = state;
  if (config.brokerUrl) return config.brokerUrl;
  const scheme = location.protocol === 'https:' ? 'wss' : 'ws';
  return `${scheme}://${location.hostname}:${config.webSocketPort}/mqtt`;
}

function setConnection(kind, text) {
  const pill = $('conn-state');
  pill.className = `pill pill-${kind}`;
  pill.dataset.state = kind;
  pill.textContent = text;
  $('apply').disabled = kind !== 'connected' || $('target').options.length === 0;
}

function connect(login) {
  state.client?.end(true);
  const url = brokerUrl();
  $('broker-url').textContent = url;
  setConnection('connecting', 'connecting…');
  const client = mqtt.connect(url, {
    clientId: `console-${Math.random().toString(36).slice(2, 10)}`,
    username: login?.username,
    password: login?.password,
    protocolVersion: 5,
    clean: true,
    reconnectPeriod: 2000,
    connectTimeout: 8000,
  });
  state.client = client;
  client.on('connect', () => {
    setConnection('connected', 'connected');
    sensorAdminConnected(client);
    $('login').hidden = true;
    $('user').textContent = login?.username ? `as ${login.username}` : 'anonymous';
    $('logout').hidden = !login;
    const { topics } = state.config;
    client.subscribe([`${topics.status}/#`, `${topics.data}/#`], { qos: 0 }, (error, granted) => {
      const refused = (granted ?? []).filter((g) => g.qos >= 0x80).map((g) => g.topic);
      if (error || refused.length) setConnection('error', `not allowed to read ${refused.join(', ') || error.message}`);
    });
  });
  client.on('reconnect', () => setConnection('connecting', 'reconnecting…'));
  client.on('offline', () => setConnection('error', 'broker unreachable'));
  client.on('error', (error) => {
    // A refused login (v5 0x86 bad user name or password, 0x87 not authorized) will not get better.
    if (error.code === 0x86 || error.code === 0x87 || error.code === 4 || error.code === 5) {
      client.end(true);
      sessionStorage.removeItem(LOGIN_KEY);
      setConnection('error', 'login refused');
      showLogin('The broker refused this username or password.');
    }
  });
  client.on('message', onMessage);
}

function showLogin(message = '') {
  $('login-broker').textContent = brokerUrl();
  $('login-error').textContent = message;
  $('login').hidden = false;
  $('login-user').focus();
}

// ---- messages ---------------------------------------------------------------------------------

function sensorEntry(id) {
  let entry = state.sensors.get(id);
  if (entry) return entry;
  entry = { id, status: null, points: [], unit: '', kind: '', card: buildCard(id), dirty: true };
  state.sensors.set(id, entry);
  const list = $('sensor-list');
  const after = [...list.children].find((li) => li.dataset.sensor > id);
  list.insertBefore(entry.card, after ?? null);
  rebuildTargets();
  $('sensor-count').textContent = `${state.sensors.size} sensor${state.sensors.size === 1 ? '' : 's'}`;
  if (state.selected === null) select(id);
  return entry;
}

function onMessage(topic, payload) {
  const { topics } = state.config;
  const slash = topic.lastIndexOf('/');
  const prefix = topic.slice(0, slash);
  const id = topic.slice(slash + 1);
  let message;
  try {
    message = JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return;
  }
  if (prefix === topics.status) onStatus(id, message);
  else if (prefix === topics.data && typeof message.value === 'number' && typeof message.ts === 'number') onReading(id, message);
}

function onStatus(id, status) {
  const entry = sensorEntry(id);
  // The will carries only { online: false }: keep the settings last seen.
  entry.status = { ...(entry.status ?? {}), ...status };
  if (status.unit) entry.unit = status.unit;
  if (status.kind) entry.kind = status.kind;
  entry.dirty = true;
  updateCard(entry);
  if (id === state.selected && !state.formDirty) fillForm(entry);
  if (id === state.selected) updatePlotHeader();
  const pending = state.pending;
  if (pending && status.lastChange === pending.id && pending.targets.includes(id) && !pending.applied.has(id)) {
    pending.applied.set(id, status.appliedAt ?? Date.now());
    addMarker(id, status.appliedAt ?? Date.now(), pending.marker);
    reportPending();
  }
}

function onReading(id, reading) {
  const entry = sensorEntry(id);
  const points = entry.points;
  if (points.length === 0 || reading.ts >= points[points.length - 1][0]) points.push([reading.ts, reading.value]);
  if (reading.unit) entry.unit = reading.unit;
  const cutoff = Date.now() - KEEP_MS;
  if (points.length > 0 && points[0][0] < cutoff) entry.points = points.filter((p) => p[0] >= cutoff);
  entry.dirty = true;
}

// ---- sensor cards -----------------------------------------------------------------------------

function buildCard(id) {
  const li = document.createElement('li');
  li.className = 'sensor-card';
  li.dataset.sensor = id;
  li.dataset.online = 'unknown';
  li.tabIndex = 0;
  li.innerHTML = `
    <div class="sensor-name"><span class="dot"></span><span class="id"></span></div>
    <div class="sensor-value"><span class="value">–</span><span class="unit"></span></div>
    <div class="sensor-meta"><span class="kind"></span><span class="state"></span><span class="rate"></span><span class="sens"></span></div>
    <svg class="spark" aria-hidden="true"></svg>`;
  li.querySelector('.id').textContent = id;
  li.addEventListener('click', () => select(id));
  li.addEventListener('keydown', (event) => (event.key === 'Enter' || event.key === ' ') && select(id));
  return li;
}

function updateCard(entry) {
  const card = entry.card;
  const status = entry.status ?? {};
  card.dataset.online = status.online === undefined ? 'unknown' : String(status.online);
  card.querySelector('.kind').textContent = entry.kind;
  card.querySelector('.unit').textContent = entry.unit;
  card.querySelector('.state').textContent = status.online ? (status.enabled === false ? 'disabled' : 'online') : 'offline';
  card.querySelector('.state').className = `state${status.enabled === false || !status.online ? ' off' : ''}`;
  card.querySelector('.rate').textContent = status.sampleRateHz ? formatRate(status.sampleRateHz) : '';
  card.querySelector('.sens').textContent = status.sensitivity ? `×${status.sensitivity}` : '';
  card.querySelector('.sens').title = 'sensitivity';
  card.classList.toggle('selected', entry.id === state.selected);
}

function refreshCards(now) {
  for (const entry of state.sensors.values()) {
    if (!entry.dirty) continue;
    entry.dirty = false;
    const last = entry.points[entry.points.length - 1];
    entry.card.querySelector('.value').textContent = last ? last[1].toFixed(decimalsOf(entry.unit)) : '–';
    const from = now - SPARK_MS;
    drawSparkline(entry.card.querySelector('.spark'), entry.points.filter((p) => p[0] >= from));
  }
}

// ---- selection, plot and history --------------------------------------------------------------

function select(id) {
  state.selected = id;
  state.formDirty = false;
  for (const entry of state.sensors.values()) entry.card.classList.toggle('selected', entry.id === id);
  const entry = state.sensors.get(id);
  $('target').value = id;
  updateOrderTopic();
  if (entry) fillForm(entry);
  updatePlotHeader();
  loadHistory(id);
}

function updatePlotHeader() {
  const entry = state.sensors.get(state.selected);
  if (!entry) return;
  $('plot-title').textContent = `${entry.id}${entry.kind ? ` · ${entry.kind}` : ''}${entry.unit ? ` (${entry.unit})` : ''}`;
  const s = entry.status ?? {};
  const parts = [s.online ? 'online' : s.online === false ? 'offline' : 'status unknown'];
  if (s.sampleRateHz) parts.push(formatRate(s.sampleRateHz));
  if (s.sensitivity) parts.push(`sensitivity ${s.sensitivity}`);
  if (s.enabled === false) parts.push('disabled');
  if (s.appliedAt) parts.push(`settings applied ${clock(s.appliedAt)}`);
  $('plot-meta').textContent = parts.join(' · ');
}

async function loadHistory(id) {
  const note = $('history-note');
  if (!state.config.history) {
    note.textContent = 'Live readings only: the console has no database for history.';
    return;
  }
  const seconds = Math.ceil(state.windowMs / 1000);
  try {
    const response = await fetch(`/api/history?sensor=${encodeURIComponent(id)}&since=${seconds}s`);
    const body = await response.json();
    if (!response.ok) throw new Error(body.error ?? response.statusText);
    const history = body.sensors[id]?.readings ?? [];
    const entry = sensorEntry(id);
    const lastStored = history.length ? history[history.length - 1][0] : -Infinity;
    const firstLive = entry.points.length ? entry.points[0][0] : Infinity;
    // History up to where it ends, then the live readings after it.
    entry.points = [...history.filter((p) => p[0] < firstLive || firstLive === Infinity), ...entry.points.filter((p) => p[0] > lastStored)];
    if (body.sensors[id]?.unit && !entry.unit) entry.unit = body.sensors[id].unit;
    entry.dirty = true;
    if (id === state.selected) note.textContent = `${history.length} reading${history.length === 1 ? '' : 's'} of the last ${seconds >= 3600 ? `${seconds / 3600} h` : `${seconds / 60} min`} from the recorder's database, then live.`;
  } catch (error) {
    if (id === state.selected) note.textContent = `History unavailable: ${error.message}`;
  }
}

function addMarker(id, ts, label) {
  const list = state.markers.get(id) ?? [];
  list.push([ts, label]);
  state.markers.set(id, list.slice(-5));
}

function render() {
  const now = Date.now();
  refreshCards(now);
  const entry = state.sensors.get(state.selected);
  if (!entry) return;
  drawPlot($('plot'), entry.points, {
    from: now - state.windowMs,
    to: now,
    unit: entry.unit,
    decimals: decimalsOf(entry.unit),
    markers: state.markers.get(entry.id) ?? [],
    emptyText: entry.status?.enabled === false ? 'sensor disabled' : 'waiting for readings…',
  });
}

// ---- orders -----------------------------------------------------------------------------------

function rebuildTargets() {
  const select = $('target');
  const current = select.value;
  const ids = [...state.sensors.keys()].sort();
  select.replaceChildren(...ids.map((id) => new Option(id, id)), new Option('All sensors', 'all'));
  select.value = current && [...select.options].some((o) => o.value === current) ? current : (state.selected ?? ids[0]);
  $('apply').disabled = $('conn-state').dataset.state !== 'connected';
}

function updateOrderTopic() {
  $('order-topic').textContent = `${state.config.topics.config}/${$('target').value || '…'}`;
}

function fillForm(entry) {
  const s = entry.status ?? {};
  if (s.sampleRateHz !== undefined) $('rate').value = s.sampleRateHz;
  if (s.sensitivity !== undefined) $('sensitivity').value = s.sensitivity;
  if (s.enabled !== undefined) $('enabled').checked = s.enabled;
}

function reportPending() {
  const pending = state.pending;
  const line = $('apply-status');
  if (!pending) return;
  const { targets, applied } = pending;
  if (applied.size === targets.length) {
    clearTimeout(pending.timer);
    const slowest = Math.max(...applied.values());
    const who = targets.length === 1 ? targets[0] : `all ${targets.length} sensors`;
    line.dataset.state = 'applied';
    line.textContent = `Applied by ${who} at ${clock(slowest)} (${Math.max(0, slowest - pending.sentAt)} ms after sending): ${pending.summary}.`;
    state.pending = null;
    state.formDirty = false;
    return;
  }
  line.dataset.state = 'pending';
  line.textContent = `Sent to ${pending.topic} at ${clock(pending.sentAt)}: ${pending.summary}. Applied by ${applied.size} of ${targets.length}…`;
}

function sendOrder(event) {
  event.preventDefault();
  const client = state.client;
  if (!client?.connected) return;
  const target = $('target').value;
  const order = {
    sampleRateHz: Number($('rate').value),
    sensitivity: Number($('sensitivity').value),
    enabled: $('enabled').checked,
    id: `console-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 6)}`,
  };
  const topic = `${state.config.topics.config}/${target}`;
  const targets = target === 'all' ? [...state.sensors.values()].filter((e) => e.status?.online).map((e) => e.id) : [target];
  clearTimeout(state.pending?.timer);
  const summary = `${formatRate(order.sampleRateHz)}, sensitivity ${order.sensitivity}, ${order.enabled ? 'enabled' : 'disabled'}`;
  const marker = `→ ${formatRate(order.sampleRateHz)}, ×${order.sensitivity}${order.enabled ? '' : ', off'}`;
  const pending = { id: order.id, topic, targets, applied: new Map(), sentAt: Date.now(), summary, marker, timer: undefined };
  state.pending = pending;
  reportPending();
  client.publish(topic, JSON.stringify(order), { qos: 1 }, (error) => {
    if (!error || state.pending !== pending) return;
    clearTimeout(pending.timer);
    state.pending = null;
    $('apply-status').dataset.state = 'failed';
    $('apply-status').textContent = `The broker refused the order on ${topic}: ${error.message}`;
  });
  pending.timer = setTimeout(() => {
    if (state.pending !== pending) return;
    const missing = targets.filter((id) => !pending.applied.has(id));
    $('apply-status').dataset.state = 'failed';
    $('apply-status').textContent = `No confirmation from ${missing.join(', ')} within ${CONFIRM_MS / 1000} s: offline, or the order was refused.`;
    state.pending = null;
  }, CONFIRM_MS);
}

// ---- start ------------------------------------------------------------------------------------

async function start() {
  state.config = await (await fetch('/api/config')).json();
  setupSensorAdmin(state.config, (id) => state.sensors.get(id)?.status?.online);
  $('settings-form').addEventListener('submit', sendOrder);
  $('settings-form').addEventListener('input', () => (state.formDirty = true));
  $('target').addEventListener('change', () => {
    updateOrderTopic();
    const entry = state.sensors.get($('target').value);
    if (entry) select(entry.id);
  });
  for (const button of document.querySelectorAll('[data-window]')) {
    button.addEventListener('click', () => {
      state.windowMs = Number(button.dataset.window);
      for (const b of document.querySelectorAll('[data-window]')) b.classList.toggle('active', b === button);
      if (state.selected) loadHistory(state.selected);
    });
  }
  $('login-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const login = { username: $('login-user').value, password: $('login-password').value };
    sessionStorage.setItem(LOGIN_KEY, JSON.stringify(login));
    $('login-error').textContent = '';
    connect(login);
  });
  $('logout').addEventListener('click', () => {
    sessionStorage.removeItem(LOGIN_KEY);
    state.client?.end(true);
    setConnection('idle', 'not connected');
    $('user').textContent = '';
    $('logout').hidden = true;
    showLogin();
  });
  new ResizeObserver(() => render()).observe($('plot'));
  setInterval(render, 250);
  if (!state.config.loginRequired) return connect(undefined);
  const saved = sessionStorage.getItem(LOGIN_KEY);
  if (saved) connect(JSON.parse(saved));
  else showLogin();
}

start().catch((error) => setConnection('error', `console failed to start: ${error.message}`));
