// The sluice console's page: polls GET /api/state every 0.75 s, draws it,
// and sends the operator's actions (POST /api/<action>, the token in an
// Authorization header, kept in this tab's sessionStorage only).
'use strict';

const POLL_MS = 750;
const STALE_MS = 3000; // no answer for this long: the page says so
const SVG = 'http://www.w3.org/2000/svg';
const COLORS = ['#2563eb', '#d97706', '#7c3aed', '#059669', '#db2777', '#0891b2', '#65a30d', '#9333ea'];
const $ = (sel) => document.querySelector(sel);

let state = null;
let lastOk = 0;
let explained = null; // the class whose next job is explained

function el(tag, attrs, text) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (text !== undefined) e.textContent = text;
  return e;
}

function svg(tag, attrs) {
  const e = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

function time(ms) {
  return ms ? new Date(ms).toISOString().replace('T', ' ').slice(0, 19) : '-';
}

function pct(f) {
  return (100 * f).toFixed(0) + '%';
}

function num(v) {
  if (v === null || v === undefined) return '-';
  return Math.abs(v) >= 100 ? v.toFixed(0) : Number(v.toPrecision(3)).toString();
}

// ------------------------------------------------------------ actions

function token() {
  return sessionStorage.getItem('sluice-token') || '';
}

function say(text, error) {
  const m = $('#message');
  m.textContent = text;
  m.className = error ? 'error' : '';
}

// Sends one action with the token; says what the console answered.
async function act(action, body) {
  if (!token()) return say('Enter the token first: actions need it.', true);
  try {
    const r = await fetch('/api/' + action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + token() },
      body: JSON.stringify(body),
    });
    const answer = await r.json();
    say(r.ok ? answer.message : answer.error, !r.ok);
  } catch (e) {
    say('The console did not answer: ' + e.message, true);
  }
  poll(true);
}

// Every button of the page: data-act names the action, data-class its class.
function onClick(ev) {
  const b = ev.target.closest('button[data-act]');
  if (!b) return;
  const a = b.dataset.act;
  const row = b.closest('tr');
  const cls = b.dataset.class;
  if (a === 'mode') return act('mode', { mode: b.dataset.mode });
  if (a === 'retry' || a === 'purge') return act(a, b.dataset.id ? { class: cls, id: b.dataset.id } : { class: cls, all: true });
  if (a === 'pin') {
    const f = Number(row.querySelector('input.frac').value);
    const body = { class: cls, fraction: f };
    const dur = row.querySelector('input.for').value.trim();
    if (dur) body.for = dur;
    return act('pin', body);
  }
  if (a === 'explain') {
    explained = explained === cls ? null : cls;
    return explain();
  }
  act(a, { class: cls });
}

// -------------------------------------------------------------- chart

// Each signal's pressure (1 at its target, 2 at critical) since the oldest
// point of the last hour; the driver's line is thicker, with dots where it
// drove the decision.
function chart(h, signals, driver) {
  const c = $('#chart');
  const W = 900, H = 220, pad = 4;
  const t1 = h.to, t0 = Math.min(t1 - 60000, h.t.length ? Math.max(h.from, h.t[0]) : h.from);
  let top = 2.5;
  for (const s of Object.values(h.pressure)) for (const p of s) if (p !== null && p > top) top = Math.min(p * 1.1, 10);
  const x = (t) => pad + ((t - t0) / (t1 - t0)) * (W - 2 * pad);
  const y = (p) => H - pad - (Math.max(0, Math.min(p, top)) / top) * (H - 2 * pad);
  c.replaceChildren();
  for (const [level, name, color] of [[h.target, 'target', '#15803d'], [h.critical, 'critical', '#b91c1c']]) {
    c.append(svg('line', { x1: 0, x2: W, y1: y(level), y2: y(level), stroke: color, 'stroke-dasharray': '6 4', 'stroke-width': 1 }));
    const label = svg('text', { x: 6, y: y(level) - 3, fill: color, 'font-size': 11 });
    label.textContent = name;
    c.append(label);
  }
  const span = Math.round((t1 - t0) / 60000);
  setText($('#span'), span >= 60 ? 'last hour' : `last ${span} min`);
  const legend = $('#legend');
  legend.replaceChildren();
  signals.forEach((s, i) => {
    const color = COLORS[i % COLORS.length];
    const series = h.pressure[s.name] || [];
    let d = '';
    series.forEach((p, k) => {
      if (p === null) return;
      d += (d && series[k - 1] !== null ? 'L' : 'M') + x(h.t[k]).toFixed(1) + ' ' + y(p).toFixed(1);
    });
    if (d) c.append(svg('path', { d, fill: 'none', stroke: color, 'stroke-width': s.name === driver ? 2.5 : 1.2 }));
    series.forEach((p, k) => {
      if (p !== null && h.driver[k] === s.name && (k % 6 === 0 || k === series.length - 1))
        c.append(svg('circle', { cx: x(h.t[k]), cy: y(p), r: 2.5, fill: color }));
    });
    const item = el('span');
    const swatch = el('i');
    swatch.style.background = color;
    item.append(swatch, s.name + (s.name === driver ? ' (driver, dots: when it drove)' : ''));
    legend.append(item);
  });
}

// A class's admitted fraction over the hour, 0 at the bottom, 1 at the top.
function spark(values) {
  const W = 120, H = 24;
  const s = svg('svg', { class: 'spark', viewBox: `0 0 ${W} ${H}`, preserveAspectRatio: 'none' });
  let d = '';
  const n = values.length;
  values.forEach((f, k) => {
    if (f === null) return;
    d += (d ? 'L' : 'M') + ((k / Math.max(1, n - 1)) * W).toFixed(1) + ' ' + (H - 1 - f * (H - 2)).toFixed(1);
  });
  if (d) s.append(svg('path', { d, fill: 'none', stroke: '#2563eb', 'stroke-width': 1.2 }));
  return s;
}

// ------------------------------------------------------------- tables

const CELLS = ['name', 'tier', 'fraction', 'spark', 'rate', 'conc', 'ready', 'delayed', 'leased', 'dead', 'throttled', 'gate', 'oldest', 'actions'];

// A new row for a class: its cells and its action buttons.
function classRow(c) {
  const tr = el('tr', { 'data-class': c.name });
  for (const k of CELLS) tr.append(el('td', { class: k }));
  const a = tr.querySelector('td.actions');
  a.append(el('button', { 'data-act': 'pause', 'data-class': c.name }, 'pause'),
    el('button', { 'data-act': 'resume', 'data-class': c.name }, 'resume'), ' ',
    el('input', { class: 'frac', type: 'number', min: 0, max: 1, step: 0.05, value: 0.5, 'aria-label': 'fraction' }),
    el('input', { class: 'for', type: 'text', placeholder: '15m', 'aria-label': 'for' }),
    el('button', { 'data-act': 'pin', 'data-class': c.name }, 'pin'),
    el('button', { 'data-act': 'unpin', 'data-class': c.name }, 'unpin'));
  for (const k of ['rate', 'conc', 'ready', 'delayed', 'leased', 'dead', 'throttled']) tr.querySelector('td.' + k).classList.add('n');
  return tr;
}

// The classes' table, updated in place (rows keyed by class) so a poll
// moves no focus and redraws only what changed.
function classes(list, h) {
  const body = $('#classes tbody');
  const rows = new Map([...body.querySelectorAll('tr[data-class]')].map((r) => [r.dataset.class, r]));
  let prev = null;
  for (const c of list) {
    let tr = rows.get(c.name);
    if (!tr) tr = classRow(c);
    rows.delete(c.name);
    if ((prev ? prev.nextSibling : body.firstChild) !== tr) body.insertBefore(tr, prev ? prev.nextSibling : body.firstChild);
    prev = tr;
    const td = (k) => tr.querySelector('td.' + k);
    tr.className = c.paused ? 'paused' : c.fraction < 1 ? 'throttled' : '';
    setText(td('name'), c.name);
    setText(td('tier'), c.tier);
    setText(td('fraction'), c.paused ? 'paused' : pct(c.fraction));
    setText(td('rate'), c.effective_rate > 0 ? num(c.effective_rate) : '-');
    setText(td('conc'), c.effective_concurrency > 0 ? num(c.effective_concurrency) : '-');
    for (const k of ['ready', 'delayed', 'leased', 'dead', 'throttled']) setText(td(k), String(c[k]));
    setText(td('gate'), c.gate);
    const o = td('oldest');
    if ((o.dataset.id || '') !== (c.oldest || '')) {
      o.dataset.id = c.oldest || '';
      o.replaceChildren(c.oldest ? el('button', { 'data-act': 'explain', 'data-class': c.name }, c.oldest) : '-');
    }
    const series = (h.fraction[c.name] || []).concat([c.fraction]);
    const key = series.length + ':' + series[series.length - 2];
    if (td('spark').dataset.key !== key) {
      td('spark').dataset.key = key;
      td('spark').replaceChildren(spark(series));
    }
    const ex = tr.nextSibling;
    if (ex && ex.classList && ex.classList.contains('explain-row')) prev = ex;
  }
  for (const tr of rows.values()) tr.remove();
}

// Shows explain's answer for the job at the head of the chosen class, in a
// row under it (one at a time; clicking the job again closes it).
async function explain() {
  document.querySelectorAll('tr.explain-row').forEach((r) => r.remove());
  if (!explained || !state) return;
  const c = state.classes.find((k) => k.name === explained);
  const tr = document.querySelector(`#classes tr[data-class="${CSS.escape(explained)}"]`);
  if (!c || !c.oldest || !tr) return;
  let answer;
  try {
    const r = await fetch('/api/explain?id=' + encodeURIComponent(c.oldest));
    answer = await r.json();
  } catch (e) {
    answer = { error: 'The console did not answer: ' + e.message };
  }
  const row = el('tr', { class: 'explain-row' });
  const td = el('td', { class: 'explain', colspan: CELLS.length });
  (answer.explanation || [answer.error]).forEach((line) => td.append(el('div', {}, line)));
  row.append(td);
  document.querySelectorAll('tr.explain-row').forEach((x) => x.remove());
  tr.after(row);
}

// Replaces a table's rows; a cell is text or a node.
function fill(tbody, rows) {
  const b = $(tbody);
  const frag = document.createDocumentFragment();
  for (const cells of rows) {
    const tr = el('tr');
    for (const c of cells) tr.append(c instanceof Node ? el('td').appendChild(c).parentNode : el('td', {}, c));
    frag.append(tr);
  }
  b.replaceChildren(frag);
}

// Draws one /api/state answer.
function render(s) {
  const g = s.governor;
  setText($('#leader'), g.leader || '(none)');
  setText($('#mode'), g.mode);
  setText($('#ticks'), `${g.ticks} ticks, last ${time(g.last_tick)}`);
  setText($('#decision'), 'Last decision: ' + g.decision);
  $('#readonly').hidden = s.actions;
  $('#token-form').hidden = !s.actions;
  $('#mode-actions').hidden = !s.actions;
  document.querySelectorAll('td.actions, #dead button').forEach((n) => (n.hidden = !s.actions));
  chart(s.history, s.signals, g.driver);
  fill('#signals tbody', s.signals.map((x) => [x.name, num(x.value), num(x.target), num(x.critical),
    x.pressure === null ? '-' : x.pressure.toFixed(2), x.stale ? 'stale' : x.name === g.driver ? 'driver' : '']));
  classes(s.classes, s.history);
  fill('#dead tbody', s.dead.map((d) => [d.class, d.id, time(d.died_at), String(d.attempt), d.reason,
    s.actions ? deadButtons(d) : '']));
  fill('#audit tbody', s.audit.map((e) => [time(e.at), e.class || '-', e.actor || '-', e.what, e.detail]));
}

// Retry and purge for one dead job.
function deadButtons(d) {
  const span = el('span');
  span.append(el('button', { 'data-act': 'retry', 'data-class': d.class, 'data-id': d.id }, 'retry'),
    el('button', { 'data-act': 'purge', 'data-class': d.class, 'data-id': d.id }, 'purge'));
  return span;
}

// ------------------------------------------------------------ polling

// The stale mark (a reason, or '' when all answers) and the time of the
// last good answer.
function staleness(reason) {
  const st = $('#stale');
  st.hidden = !reason;
  if (reason) setText(st, 'stale: ' + reason);
  const live = $('#live');
  live.className = 'pill' + (Date.now() - lastOk > STALE_MS ? ' down' : '');
  setText(live, lastOk ? 'updated ' + new Date(lastOk).toLocaleTimeString() : 'no answer yet');
}

let polling = false;
let timer = null;

// Reads /api/state and draws it, then again POLL_MS later; "now" (after an
// action) redraws without reloading the open explanation.
async function poll(now) {
  if (polling) return;
  polling = true;
  clearTimeout(timer);
  try {
    const ctl = new AbortController();
    const t = setTimeout(() => ctl.abort(), STALE_MS);
    const r = await fetch('/api/state', { signal: ctl.signal });
    clearTimeout(t);
    const s = await r.json();
    if (!r.ok) throw new Error(s.error || r.statusText);
    state = s;
    lastOk = Date.now();
    render(s);
    if (explained && !now) explain();
    staleness(s.governor.stale ? 'the governor is silent (no process holds its lease)' : '');
  } catch (e) {
    staleness('no answer from Redis or the console (' + (e.name === 'AbortError' ? 'timed out' : e.message) + ')');
  } finally {
    polling = false;
    timer = setTimeout(poll, POLL_MS);
  }
}

document.addEventListener('click', onClick);
$('#token-form').addEventListener('submit', (ev) => {
  ev.preventDefault();
  sessionStorage.setItem('sluice-token', $('#token').value.trim());
  $('#token').value = '';
  setText($('#token-state'), token() ? 'token set for this tab' : 'actions need the token');
});
setText($('#token-state'), token() ? 'token set for this tab' : 'actions need the token');
poll();
