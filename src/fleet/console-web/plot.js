// Line plots as inline SVG, drawn from [ts, value] pairs: the main plot with axes, and sparklines.

const SVG = 'http://www.w3.org/2000/svg';

/** Round tick steps (1, 2, 5 × 10^n) giving about `count` ticks over [min, max]. */
function niceTicks(min, max, count) {
  const span = max - min || Math.abs(max) || 1;
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? 10 * power;
  const ticks = [];
  for (let t = Math.ceil(min / step) * step; t <= max + step * 1e-9; t += step) ticks.push(Number(t.toFixed(10)));
  return { ticks, step };
}

const two = (n) => String(n).padStart(2, '0');
const clock = (ts, seconds) => {
  const d = new Date(ts);
  return seconds ? `${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())}` : `${two(d.getHours())}:${two(d.getMinutes())}`;
};

function element(name, attributes, text) {
  const node = document.createElementNS(SVG, name);
  for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
  if (text !== undefined) node.textContent = text;
  return node;
}

/** Visible points, plus the one just before the window so the line enters from the edge. */
function visible(points, from) {
  let start = points.findIndex((p) => p[0] >= from);
  if (start < 0) return [];
  if (start > 0) start--;
  return points.slice(start);
}

/**
 * Draws `points` ([ts, value], time order) over the window [from, to] into `container`.
 * `markers` are [ts, label] pairs drawn as dashed vertical lines (settings applied).
 */
export function drawPlot(container, points, { from, to, unit, decimals = 2, markers = [], emptyText = 'waiting for readings…' }) {
  const width = Math.max(200, container.clientWidth);
  const height = Math.max(160, container.clientHeight);
  const pad = { left: 56, right: 64, top: 14, bottom: 28 };
  const svg = element('svg', { viewBox: `0 0 ${width} ${height}`, role: 'img', 'aria-label': 'readings over time' });
  const defs = element('defs', {});
  const gradient = element('linearGradient', { id: 'plot-fill', x1: 0, y1: 0, x2: 0, y2: 1 });
  gradient.append(element('stop', { offset: '0%', 'stop-color': '#0f766e', 'stop-opacity': 0.22 }), element('stop', { offset: '100%', 'stop-color': '#0f766e', 'stop-opacity': 0 }));
  defs.append(gradient);
  svg.append(defs);

  const shown = visible(points, from);
  const inside = shown.filter((p) => p[0] >= from);
  const plotW = width - pad.left - pad.right;
  const plotH = height - pad.top - pad.bottom;
  const x = (ts) => pad.left + ((ts - from) / (to - from)) * plotW;

  let lo = Math.min(...(inside.length ? inside : shown).map((p) => p[1]));
  let hi = Math.max(...(inside.length ? inside : shown).map((p) => p[1]));
  if (!Number.isFinite(lo)) [lo, hi] = [0, 1];
  const margin = (hi - lo) * 0.12 || Math.max(Math.abs(hi) * 0.01, 0.5);
  lo -= margin;
  hi += margin;
  const y = (v) => pad.top + (1 - (v - lo) / (hi - lo)) * plotH;

  const { ticks } = niceTicks(lo, hi, Math.max(3, Math.floor(plotH / 48)));
  for (const t of ticks) {
    svg.append(element('line', { class: 'grid', x1: pad.left, x2: width - pad.right, y1: y(t), y2: y(t) }));
    svg.append(element('text', { class: 'axis-label', x: pad.left - 8, y: y(t) + 4, 'text-anchor': 'end' }, `${Number(t.toFixed(6))}`));
  }
  const span = to - from;
  const timeStep = [5e3, 1e4, 15e3, 3e4, 6e4, 12e4, 3e5, 6e5, 9e5, 18e5].find((s) => span / s <= Math.max(3, plotW / 110)) ?? 36e5;
  for (let t = Math.ceil(from / timeStep) * timeStep; t <= to; t += timeStep) {
    svg.append(element('line', { class: 'grid', x1: x(t), x2: x(t), y1: pad.top, y2: height - pad.bottom }));
    svg.append(element('text', { class: 'axis-label', x: x(t), y: height - 8, 'text-anchor': 'middle' }, clock(t, timeStep < 6e4)));
  }
  if (unit) svg.append(element('text', { class: 'axis-label', x: 8, y: pad.top + 4 }, unit));

  for (const [ts, label] of markers) {
    if (ts < from || ts > to) continue;
    svg.append(element('line', { class: 'marker', x1: x(ts), x2: x(ts), y1: pad.top, y2: height - pad.bottom }));
    svg.append(element('text', { class: 'marker-label', x: x(ts) + 4, y: pad.top + 12 }, label));
  }

  if (shown.length === 0) {
    svg.append(element('text', { class: 'empty', x: pad.left + plotW / 2, y: pad.top + plotH / 2, 'text-anchor': 'middle' }, emptyText));
  } else {
    // Clip so the entering segment does not cross the axis labels.
    const clip = element('clipPath', { id: 'plot-clip' });
    clip.append(element('rect', { x: pad.left, y: 0, width: plotW, height }));
    defs.append(clip);
    const path = shown.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
    const last = shown[shown.length - 1];
    const area = `${path}L${x(last[0]).toFixed(1)},${height - pad.bottom}L${x(shown[0][0]).toFixed(1)},${height - pad.bottom}Z`;
    svg.append(element('path', { class: 'area', d: area, 'clip-path': 'url(#plot-clip)' }));
    svg.append(element('path', { class: 'line', d: path, 'clip-path': 'url(#plot-clip)', 'data-points': shown.length }));
    svg.append(element('circle', { class: 'last', cx: x(last[0]), cy: y(last[1]), r: 4 }));
    svg.append(element('text', { class: 'last-label', x: x(last[0]) + 8, y: y(last[1]) + 4 }, last[1].toFixed(decimals)));
  }
  container.replaceChildren(svg);
}

/** A small line of the last readings, scaled to its own range. */
export function drawSparkline(svg, points) {
  const width = 92;
  const height = 26;
  svg.setAttribute('viewBox', `0 0 ${width} ${height}`);
  if (points.length < 2) {
    svg.replaceChildren();
    return;
  }
  const from = points[0][0];
  const to = points[points.length - 1][0];
  const values = points.map((p) => p[1]);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const x = (ts) => 2 + ((ts - from) / (to - from || 1)) * (width - 4);
  const y = (v) => 2 + (1 - (v - lo) / (hi - lo || 1)) * (height - 4);
  const d = points.map((p, i) => `${i ? 'L' : 'M'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`).join('');
  svg.replaceChildren(element('path', { d, fill: 'none', stroke: '#14b8a6', 'stroke-width': 1.5, 'stroke-linejoin': 'round' }));
}
