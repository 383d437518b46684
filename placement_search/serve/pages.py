"""The HTML of the live pages: one shell per page, everything drawn by inline JS from the JSON API.

No external resource is loaded (the machines this runs on are often offline, and the Content
Security Policy the server sends forbids it): CSS, JS and the charts (SVG built in the browser)
are inline. The page data is embedded at render time, so the first paint needs no request, then
refreshed from ``/api/...`` every ``POLL_MS`` milliseconds without a reload. Text from the store
(search names, placements, errors) only ever reaches the page through ``textContent`` and
``setAttribute``, never as markup.
"""

from __future__ import annotations

import html
import json
from typing import Any

POLL_MS = 2000

CSS = """
:root { --ok:#2e7d32; --stopped:#f9a825; --failed:#c62828; --running:#1e88e5; --muted:#6b7280; }
* { box-sizing: border-box; }
body { font: 14px/1.4 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 0; color: #111; background: #fafafa; }
header { background: #1f2937; color: #fff; padding: 10px 20px; display: flex; gap: 16px; align-items: baseline; flex-wrap: wrap; }
header a { color: #fff; text-decoration: none; font-weight: 600; }
header .store { color: #cbd5e1; font-family: ui-monospace, monospace; font-size: 12px; }
header .clock { margin-left: auto; color: #cbd5e1; font-size: 12px; }
main { padding: 16px 20px; max-width: 1400px; }
#banner { display: none; background: #fde68a; color: #7c2d12; padding: 8px 20px; font-weight: 600; }
#banner.shown { display: block; }
table { border-collapse: collapse; background: #fff; margin: 8px 0 16px; }
th, td { padding: 4px 8px; border-bottom: 1px solid #e5e7eb; text-align: left; vertical-align: top; }
th { background: #f3f4f6; font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
code, .mono { font-family: ui-monospace, monospace; font-size: 12px; }
.status { padding: 1px 6px; border-radius: 8px; font-size: 12px; color: #fff; background: var(--muted); }
.status.running { background: var(--running); } .status.completed { background: var(--ok); }
.status.failed { background: var(--failed); } .status.interrupted, .status.stopped { background: var(--stopped); color: #111; }
.bar { display: flex; width: 220px; height: 12px; background: #e5e7eb; border-radius: 3px; overflow: hidden; }
.bar span { display: block; height: 100%; }
.bar .ok { background: var(--ok); } .bar .stopped { background: var(--stopped); } .bar .failed { background: var(--failed); }
.bar .running { background: repeating-linear-gradient(45deg, var(--running), var(--running) 4px, #90caf9 4px, #90caf9 8px); }
.counts { font-size: 12px; color: var(--muted); white-space: nowrap; }
.hint { border-bottom: 1px dotted var(--muted); cursor: help; }
section { background: #fff; border: 1px solid #e5e7eb; border-radius: 6px; padding: 10px 14px; margin: 0 0 16px; }
section h2 { font-size: 15px; margin: 0 0 8px; }
.grid { display: flex; gap: 16px; flex-wrap: wrap; align-items: flex-start; }
.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 14px; }
.facts dt { color: var(--muted); } .facts dd { margin: 0; }
.note { color: var(--muted); font-size: 12px; }
.error { color: var(--failed); font-size: 12px; max-width: 420px; }
svg text { font: 10px system-ui, sans-serif; fill: #374151; }
.empty { color: var(--muted); font-style: italic; }
"""

COMMON_JS = r"""
'use strict';
const POLL_MS = %(poll_ms)d;
const SVGNS = 'http://www.w3.org/2000/svg';
let polls = 0;
function el(tag, attrs, ...kids) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (v !== null && v !== undefined) node.setAttribute(k, v); }
  for (const kid of kids) { if (kid === null || kid === undefined) continue;
    node.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid))); }
  return node;
}
function sv(tag, attrs, ...kids) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs || {})) { if (v !== null && v !== undefined) node.setAttribute(k, v); }
  for (const kid of kids) { if (kid === null || kid === undefined) continue;
    node.appendChild(typeof kid === 'object' ? kid : document.createTextNode(String(kid))); }
  return node;
}
function tip(text) { return sv('title', {}, text); }
function acc(v) { return v === null || v === undefined ? '–' : v.toFixed(4); }
function signed(v) { return v === null || v === undefined ? '–' : (v >= 0 ? '+' : '') + v.toFixed(4); }
function dur(s) {
  if (s === null || s === undefined) return '–';
  s = Math.round(s);
  if (s < 60) return s + ' s';
  if (s < 3600) return Math.floor(s / 60) + ' min ' + (s %% 60) + ' s';
  if (s < 86400) return Math.floor(s / 3600) + ' h ' + Math.floor((s %% 3600) / 60) + ' min';
  return Math.floor(s / 86400) + ' d ' + Math.floor((s %% 86400) / 3600) + ' h';
}
function placementText(p) { return p ? p : 'empty'; }
function searchLink(name) { return el('a', {href: '/search/' + encodeURIComponent(name)}, name); }
function statusBadge(status) { return el('span', {'class': 'status ' + status}, status); }
function hint(text, title) { return el('span', {'class': 'hint', title: title}, text); }
function progressBar(s) {
  const budget = Math.max(s.budget || 0, s.done, 1);
  const bar = el('div', {'class': 'bar', title: s.done + ' of ' + (s.budget === null ? '?' : s.budget) + ' finished'});
  for (const [cls, n] of [['ok', s.ok], ['stopped', s.stopped], ['failed', s.failed], ['running', s.running]]) {
    if (n > 0) bar.appendChild(el('span', {'class': cls, style: 'width:' + (100 * n / budget) + '%%'}));
  }
  return bar;
}
function counts(s, note) {
  const budget = s.budget === null ? '?' : s.budget;
  const n = (cls, v) => el('span', {'class': 'n-' + cls}, v === null || v === undefined ? '?' : String(v));
  return el('div', {'class': 'counts'},
    n('done', s.done), ' done (', n('ok', s.ok), ' ok, ', n('failed', s.failed), ' failed, ', n('stopped', s.stopped), ' stopped) · ',
    hint(n('running', s.running), note), ' running or queued · of ', n('budget', budget));
}
function standing(best) {
  if (!best || best.regret === null) return ['–', '–'];
  const r = best.reference;
  const where = 'ground truth: ' + r.source + ' (' + r.edges + ' single edges; optimum ' +
    placementText(r.optimum_placement) + ' at ' + acc(r.optimum) + ')';
  return [hint(signed(best.regret), where),
          el('span', {}, hint(best.percentile.toFixed(1), 'at least as good as ' + r.edges_beaten + ' of ' + r.edges + ' single edges; ' + where),
             el('span', {'class': 'note'}, ' of ' + r.edges + ' edges'))];
}
function setBanner(text) {
  const b = document.getElementById('banner');
  b.textContent = text || '';
  b.className = text ? 'shown' : '';
  document.body.dataset.state = text ? 'unreachable' : 'live';
}
function stamp(now) {
  const c = document.getElementById('clock');
  if (c) c.textContent = 'updated ' + new Date(now).toLocaleTimeString() + ' · every ' + (POLL_MS / 1000) + ' s';
}
function startPolling(url, render, initial) {
  if (initial) { if (initial.error) setBanner('results store unreachable: ' + initial.error + ' (retrying)'); else render(initial); }
  async function tick() {
    try {
      const r = await fetch(url, {cache: 'no-store', headers: {Accept: 'application/json'}});
      let body = null;
      try { body = await r.json(); } catch (e) { body = null; }
      if (r.ok && body) { setBanner(null); render(body); }
      else if (r.status === 404) setBanner((body && body.error) || 'not found');
      else setBanner('results store unreachable: ' + ((body && body.error) || r.status + ' ' + r.statusText) + ' (retrying)');
    } catch (e) {
      setBanner('server unreachable (' + e.message + '); is `placement-search serve` still running? retrying');
    } finally {
      polls += 1;
      document.body.dataset.polls = String(polls);
      setTimeout(tick, POLL_MS);
    }
  }
  setTimeout(tick, POLL_MS);
}
"""

INDEX_JS = r"""
function renderIndex(d) {
  stamp(d.now);
  document.getElementById('store').textContent = d.store;
  const body = document.getElementById('rows');
  const rows = [];
  for (const s of d.searches) {
    const best = s.best;
    const [regret, pct] = standing(best);
    const eta = s.status === 'running' ? dur(s.eta_s) : '–';
    rows.push(el('tr', {'data-search': s.name},
      el('td', {}, searchLink(s.name)), el('td', {}, s.searcher), el('td', {}, statusBadge(s.status)),
      el('td', {}, progressBar(s), counts(s, d.running_note)),
      el('td', {'class': 'num', title: 'since ' + s.created_at}, dur(s.elapsed_s)),
      el('td', {'class': 'num', title: s.trials_per_hour === null ? 'no finished trial yet' :
        s.trials_per_hour + ' trials/h over the last finished trials; last one ' + dur(s.last_trial_age_s) + ' ago'}, eta),
      el('td', {'class': 'mono best'}, best ? placementText(best.placement) : '–'),
      el('td', {'class': 'num'}, best ? acc(best.val_accuracy) : '–'),
      el('td', {'class': 'num'}, best ? acc(best.test_accuracy) : '–'),
      el('td', {'class': 'num'}, regret), el('td', {'class': 'num'}, pct)));
  }
  body.replaceChildren(...rows);
  document.getElementById('none').style.display = d.searches.length ? 'none' : 'block';
  document.body.dataset.searches = String(d.searches.length);
  document.body.dataset.trials = String(d.searches.reduce((a, s) => a + s.done, 0));
  document.title = 'placement-search · ' + d.searches.length + ' searches';
}
startPolling('/api/searches', renderIndex, JSON.parse(document.getElementById('initial').textContent));
"""

SEARCH_JS = r"""
const NAME = JSON.parse(document.getElementById('name').textContent);
const TYPE_COLOR = {'sequential': '#2e7d32', 'parallel': '#1e88e5', 'long-range': '#7b1fa2', 'recurrent': '#e65100'};
const PALETTE = ['#1f77b4', '#2ca02c', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf', '#ff7f0e'];
const VIRIDIS = [[68,1,84],[59,82,139],[33,145,140],[94,201,98],[253,231,37]];
let version = null;
function color(t) {
  t = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(Math.floor(t), VIRIDIS.length - 2), f = t - i;
  const c = VIRIDIS[i].map((a, k) => Math.round(a + f * (VIRIDIS[i + 1][k] - a)));
  return 'rgb(' + c.join(',') + ')';
}
function pointName(p) { return p === 0 ? 'embeddings' : (p %% 2 ? 'after attention ' + (p + 1) / 2 : 'after MLP ' + p / 2); }
function edgeType(s, d) { return s === d ? 'sequential' : d === s + 1 ? 'parallel' : d > s ? 'long-range' : 'recurrent'; }
function every(n) { return n <= 16 ? 1 : n <= 40 ? 2 : n <= 80 ? 5 : 10; }

function heatmap(h) {
  if (!h) return el('p', {'class': 'empty'}, 'no single-edge trial yet');
  const n = h.n, cell = Math.max(4, Math.min(40, Math.floor(520 / Math.max(n, 1)))), pad = 34;
  const W = pad + n * cell + 70, H = pad + n * cell + 10;
  const g = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, id: 'heatmap-svg', 'data-measured': h.measured});
  const lo = h.min, hi = h.max, span = (hi - lo) || 1;
  g.appendChild(sv('text', {x: pad + n * cell / 2, y: 10, 'text-anchor': 'middle'}, 'destination'));
  g.appendChild(sv('text', {x: 8, y: pad + n * cell / 2, transform: 'rotate(-90 8 ' + (pad + n * cell / 2) + ')', 'text-anchor': 'middle'}, 'source'));
  const k = every(n);
  for (let i = 0; i < n; i += k) {
    g.appendChild(sv('text', {x: pad + i * cell + cell / 2, y: pad - 6, 'text-anchor': 'middle'}, i));
    g.appendChild(sv('text', {x: pad - 4, y: pad + i * cell + cell / 2 + 3, 'text-anchor': 'end'}, i));
  }
  g.appendChild(sv('rect', {x: pad, y: pad, width: n * cell, height: n * cell, fill: '#f3f4f6'}));
  for (let s = 0; s < n; s++) for (let d = 0; d < n; d++) {
    const v = h.values[s][d];
    if (v === null) continue;
    const seeds = h.seeds[s][d];
    g.appendChild(sv('rect', {x: pad + d * cell, y: pad + s * cell, width: cell, height: cell, fill: color((v - lo) / span),
      'class': 'cell', 'data-edge': s + '->' + d},
      tip(s + '->' + d + ' (' + edgeType(s, d) + '): val acc ' + acc(v) + (seeds > 1 ? ' (mean of ' + seeds + ' seeds)' : ''))));
  }
  if (h.best) g.appendChild(sv('rect', {x: pad + h.best[1] * cell, y: pad + h.best[0] * cell, width: cell, height: cell,
    fill: 'none', stroke: '#d32f2f', 'stroke-width': 2}, tip('best: ' + h.best[0] + '->' + h.best[1])));
  const lx = pad + n * cell + 16, lh = Math.min(n * cell, 200);
  for (let i = 0; i < 20; i++) g.appendChild(sv('rect', {x: lx, y: pad + lh - (i + 1) * lh / 20, width: 12, height: lh / 20 + 0.5, fill: color(i / 19)}));
  g.appendChild(sv('text', {x: lx + 16, y: pad + 8}, acc(hi)));
  g.appendChild(sv('text', {x: lx + 16, y: pad + lh}, acc(lo)));
  return g;
}

function ticks(lo, hi, n) { const out = []; for (let i = 0; i <= n; i++) out.push(lo + (hi - lo) * i / n); return out; }
function curves(c) {
  if (!c.trials.length) return el('p', {'class': 'empty'}, c.note);
  const W = 620, H = 300, L = 48, R = 12, T = 10, B = 32;
  let xmax = 0, ylo = 1, yhi = 0;
  for (const t of c.trials) for (const [x, y] of t.points) { xmax = Math.max(xmax, x); ylo = Math.min(ylo, y); yhi = Math.max(yhi, y); }
  if (yhi <= ylo) { ylo -= 0.01; yhi += 0.01; }
  const X = x => L + (W - L - R) * x / (xmax || 1), Y = y => T + (H - T - B) * (1 - (y - ylo) / (yhi - ylo));
  const g = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, id: 'curves-svg'});
  g.appendChild(sv('line', {x1: L, y1: H - B, x2: W - R, y2: H - B, stroke: '#9ca3af'}));
  g.appendChild(sv('line', {x1: L, y1: T, x2: L, y2: H - B, stroke: '#9ca3af'}));
  for (const y of ticks(ylo, yhi, 4)) {
    g.appendChild(sv('line', {x1: L, y1: Y(y), x2: W - R, y2: Y(y), stroke: '#f3f4f6'}));
    g.appendChild(sv('text', {x: L - 4, y: Y(y) + 3, 'text-anchor': 'end'}, y.toFixed(3)));
  }
  for (const x of ticks(0, xmax || 1, 4)) g.appendChild(sv('text', {x: X(x), y: H - B + 14, 'text-anchor': 'middle'}, +x.toFixed(2)));
  const xlabel = c.trials.every(t => t.x_is_epoch) ? 'epoch' : 'epoch (step where no epoch was recorded)';
  g.appendChild(sv('text', {x: (L + W - R) / 2, y: H - 4, 'text-anchor': 'middle'}, xlabel));
  g.appendChild(sv('text', {x: 10, y: (T + H - B) / 2, transform: 'rotate(-90 10 ' + (T + H - B) / 2 + ')', 'text-anchor': 'middle'}, 'val accuracy'));
  const ordered = c.trials.slice().sort((a, b) => a.best - b.best);
  ordered.forEach((t, i) => {
    const pts = t.points.map(([x, y]) => X(x).toFixed(1) + ',' + Y(y).toFixed(1)).join(' ');
    const stroke = t.best ? '#d32f2f' : PALETTE[i %% PALETTE.length];
    const last = t.points[t.points.length - 1];
    const label = tip('#' + t.trial_id + ' ' + placementText(t.placement) + ' (' + t.status + '): val acc ' + acc(last[1]) + (t.best ? ' (best)' : ''));
    g.appendChild(sv('polyline', {points: pts, fill: 'none', stroke: stroke, 'stroke-width': t.best ? 3 : 1.3, 'class': 'curve',
      'stroke-dasharray': t.status === 'stopped' ? '4 3' : null, 'data-trial': t.trial_id}, label));
    g.appendChild(sv('circle', {cx: X(last[0]), cy: Y(last[1]), r: t.best ? 3.5 : 2.5, fill: stroke}, label.cloneNode(true)));
  });
  return g;
}

function arcs(p, n) {
  const W = 640, H = 130, pad = 20, y = 64, step = (W - 2 * pad) / Math.max(n - 1, 1);
  const X = i => pad + i * step;
  const g = sv('svg', {width: W, height: H, viewBox: '0 0 ' + W + ' ' + H, 'class': 'arcs'});
  const defs = sv('defs', {});
  for (const [type, col] of Object.entries(TYPE_COLOR)) defs.appendChild(sv('marker', {id: 'arrow-' + type, viewBox: '0 0 10 10', refX: 9, refY: 5,
    markerWidth: 6, markerHeight: 6, orient: 'auto-start-reverse'}, sv('path', {d: 'M0,0 L10,5 L0,10 z', fill: col})));
  g.appendChild(defs);
  g.appendChild(sv('line', {x1: X(0), y1: y, x2: X(n - 1), y2: y, stroke: '#9ca3af', 'stroke-width': 2}));
  const k = every(n);
  for (let i = 0; i < n; i++) {
    g.appendChild(sv('circle', {cx: X(i), cy: y, r: 3, fill: '#374151'}, tip('point ' + i + ': ' + pointName(i))));
    if (i %% k === 0) g.appendChild(sv('text', {x: X(i), y: y + 14, 'text-anchor': 'middle'}, i));
  }
  for (const [s, d, type] of p.edges) {
    const col = TYPE_COLOR[type] || '#111';
    const label = s + '->' + d + ' (' + type + ')';
    if (s === d) {
      g.appendChild(sv('circle', {cx: X(s), cy: y - 9, r: 8, fill: 'none', stroke: col, 'stroke-width': 2, 'class': 'edge ' + type}, tip(label)));
      continue;
    }
    const r = Math.abs(X(d) - X(s)) / 2;
    // sweep 1 from the source: forward edges arc above the stream, recurrent (backward) ones below
    g.appendChild(sv('path', {d: 'M' + X(s) + ',' + y + ' A' + r + ',' + Math.min(r, y - 8) + ' 0 0 1 ' + X(d) + ',' + y,
      fill: 'none', stroke: col, 'stroke-width': 2, 'stroke-dasharray': type === 'recurrent' ? '5 3' : null,
      'marker-end': 'url(#arrow-' + type + ')', 'class': 'edge ' + type}, tip(label)));
  }
  return g;
}

function facts(pairs) {
  const dl = el('dl', {'class': 'facts'});
  for (const [k, v] of pairs) { dl.appendChild(el('dt', {}, k)); dl.appendChild(el('dd', {}, v)); }
  return dl;
}

function trialTable(rows, cols) {
  const head = el('tr', {}, ...cols.map(([label, , cls]) => el('th', {'class': cls || null}, label)));
  const body = rows.map(r => el('tr', {'data-trial': r.trial_id}, ...cols.map(([, f, cls]) => el('td', {'class': cls || null}, f(r)))));
  return el('table', {}, el('thead', {}, head), el('tbody', {}, ...body));
}

function renderSearch(d) {
  stamp(d.now);
  document.getElementById('store').textContent = d.store;
  const s = d.search, best = s.best, [regret, pct] = standing(best);
  document.title = s.name + ' · ' + s.done + '/' + (s.budget === null ? '?' : s.budget) + ' · placement-search';
  document.body.dataset.trials = String(s.done);
  document.getElementById('summary').replaceChildren(
    el('div', {'class': 'grid'},
      facts([['status', statusBadge(s.status)], ['searcher', s.searcher], ['progress', el('div', {}, progressBar(s), counts(s, d.running_note))],
             ['elapsed', dur(s.elapsed_s)], ['ETA', s.status === 'running' ? hint(dur(s.eta_s), s.trials_per_hour === null ? 'no finished trial yet' :
               s.trials_per_hour + ' trials/h over the last finished trials') : '–'],
             ['last trial', s.last_trial_age_s === null ? '–' : dur(s.last_trial_age_s) + ' ago']]),
      facts([['best placement', el('span', {'class': 'mono'}, best ? placementText(best.placement) : '–')],
             ['val accuracy', best ? acc(best.val_accuracy) : '–'], ['test at best val', best ? acc(best.test_accuracy) : '–'],
             ['regret', regret], ['percentile among single edges', pct],
             ['backbone / task', (d.config.backbone || '?') + ' / ' + (d.config.task || '?')],
             ['points', d.n_points + (d.n_points_exact ? '' : ' (at least: from the trials)')], ['benchmark key', el('code', {}, s.benchmark_key)]])));
  if (d.version === version) return;  // the rest changes only when a trial lands or the status moves
  version = d.version;
  const h = document.getElementById('heatmap');
  h.replaceChildren(heatmap(d.heatmap), d.heatmap ? el('p', {'class': 'note'}, 'mean val accuracy per single edge (source row, destination column) from ' +
    d.heatmap.origin + '; ' + d.heatmap.measured + ' of ' + d.heatmap.n * d.heatmap.n + ' edges measured; red outline: best') : null);
  document.getElementById('curves').replaceChildren(curves(d.curves), el('p', {'class': 'note'}, 'val accuracy per epoch: ' + d.curves.note + '; red: the best trial, dashed: stopped early'));
  const arcBox = document.getElementById('placements');
  arcBox.style.display = d.multi_adapter ? 'block' : 'none';
  if (d.multi_adapter) {
    const items = d.placements.map(p => el('div', {'class': 'placement'},
      el('div', {}, el('span', {'class': 'mono'}, placementText(p.placement)), ' · val acc ' + acc(p.val_accuracy) + ' · trial #' + p.trial_id), arcs(p, d.n_points)));
    arcBox.replaceChildren(el('h2', {}, 'Best placements on the residual stream'),
      el('p', {'class': 'note'}, 'points 0..' + (d.n_points - 1) + ' (0: embeddings, odd: after attention, even: after MLP); forward edges above the stream, ' +
        'recurrent edges dashed below it, sequential edges as loops; colours: sequential green, parallel blue, long-range purple, recurrent orange'),
      ...(items.length ? items : [el('p', {'class': 'empty'}, 'no completed trial yet')]));
  }
  document.getElementById('top').replaceChildren(d.top.length ? trialTable(d.top, [
    ['#', r => r.trial_id, 'num'], ['placement', r => el('span', {'class': 'mono'}, placementText(r.placement))], ['seed', r => r.seed, 'num'],
    ['status', r => r.status], ['val acc', r => acc(r.val_accuracy), 'num'], ['test acc', r => acc(r.test_accuracy), 'num']]) :
    el('p', {'class': 'empty'}, 'no completed trial yet'));
  const t = d.trials;
  document.getElementById('table-note').textContent = t.total > t.rows.length ?
    'the ' + t.rows.length + ' most recent of ' + t.total + ' finished trials, newest first' : t.total + ' finished trials, newest first';
  document.getElementById('trials').replaceChildren(trialTable(t.rows, [
    ['#', r => r.trial_id, 'num'], ['placement', r => el('span', {'class': 'mono'}, placementText(r.placement))], ['k', r => r.k, 'num'],
    ['seed', r => r.seed, 'num'], ['status', r => statusBadge(r.status)], ['val acc', r => acc(r.val_accuracy), 'num'],
    ['test acc', r => acc(r.test_accuracy), 'num'], ['epochs', r => r.epochs === null ? '–' : +r.epochs.toFixed(2), 'num'],
    ['time', r => dur(r.wall_time_s), 'num'], ['where', r => [r.node, r.device].filter(x => x).join(' · ')],
    ['label / error', r => r.error ? el('div', {'class': 'error'}, r.error) : (r.label || '')], ['finished', r => r.finished_at ? new Date(r.finished_at).toLocaleTimeString() : '']]));
}
startPolling('/api/search/' + encodeURIComponent(NAME), renderSearch, JSON.parse(document.getElementById('initial').textContent));
"""


def _json_for_script(value: Any) -> str:
    """JSON that is safe inside a <script> element (no '</script>', no HTML comment openers)."""
    from placement_search.serve.data import plain

    text = json.dumps(plain(value), allow_nan=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _page(title: str, body: str, scripts: str, data: dict[str, str] | None = None) -> str:
    blobs = "".join(f'<script type="application/json" id="{k}">{_json_for_script(v)}</script>'
                    for k, v in (data or {}).items())
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>{html.escape(title)}</title><style>{CSS}</style></head>
<body data-polls="0" data-state="live">
<header><a href="/">placement-search · live</a><span class="store" id="store"></span><span class="clock" id="clock"></span></header>
<div id="banner"></div>
<main>{body}</main>
<noscript><p>These pages draw everything with JavaScript; the same data is at <a href="/api/searches">/api/searches</a>.</p></noscript>
{blobs}<script>{COMMON_JS % {"poll_ms": POLL_MS}}{scripts}</script>
</body></html>
"""


def index_page(initial: dict) -> str:
    body = """<h1 style="font-size:18px">Searches</h1>
<table id="searches"><thead><tr><th>search</th><th>searcher</th><th>status</th><th>progress</th><th class="num">elapsed</th>
<th class="num">ETA</th><th>best placement</th><th class="num">val acc</th><th class="num">test at best val</th>
<th class="num">regret</th><th class="num">percentile</th></tr></thead><tbody id="rows"></tbody></table>
<p id="none" class="empty" style="display:none">no searches in this store yet; start one with <code>placement-search run CONFIG</code></p>
<p class="note">best: highest val accuracy among trials trained to the end (ties: earliest), as in <code>show</code>;
regret and percentile: against the exhaustive single-edge ground truth of the same benchmark key (in this store, else one
shipped with placement-search), where one exists.</p>"""
    return _page("placement-search", body, INDEX_JS % {}, {"initial": initial})


def search_page(name: str, initial: dict) -> str:
    body = f"""<h1 style="font-size:18px">Search <span class="mono">{html.escape(name)}</span></h1>
<section id="summary"></section>
<div class="grid">
<section><h2>Single-edge heatmap</h2><div id="heatmap"></div></section>
<section><h2>Learning curves</h2><div id="curves"></div></section>
</div>
<section id="placements" style="display:none"></section>
<section><h2>Best placements</h2><div id="top"></div></section>
<section><h2>Trials</h2><p class="note" id="table-note"></p><div id="trials"></div></section>"""
    return _page(f"{name} · placement-search", body, SEARCH_JS % {}, {"initial": initial, "name": name})


def message_page(title: str, message: str, status_line: str = "") -> str:
    """A plain page (404, bad host) without polling."""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{CSS}</style></head>
<body><header><a href="/">placement-search · live</a><span class="store">{html.escape(status_line)}</span></header>
<main><h1 style="font-size:18px">{html.escape(title)}</h1><p>{html.escape(message)}</p><p><a href="/">all searches</a></p></main>
</body></html>
"""
