// The console in a real browser: Debian's Chromium driven by playwright-core
// against a real redis-server (a unix socket in a temp dir), sluice-worker
// hosting the governor, and sluicectl console on 127.0.0.1 and a free port.
// Every process it starts is stopped on exit, Ctrl-C or failure. Waits are
// polls with deadlines. Prints "browser: N passed, N failed".
// usage: node tests/console/console.test.mjs  (from the top of the tree;
// BUILD=dir, CHROMIUM=path, SANITIZER=... for a sanitized build,
// UPDATE_SCREENSHOT=1 also writes docs/console.png)
import { execFileSync, spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { chromium } from 'playwright-core';

const BUILD = process.env.BUILD || 'build';
const BIN = path.resolve(BUILD, 'bin');
const CHROMIUM = process.env.CHROMIUM || '/usr/bin/chromium';
const TOKEN = 'console-test-token-' + process.pid;
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'sluice-console-'));
const sock = path.join(tmp, 'redis.sock');
const children = [];
const started = Date.now();
let passed = 0;
let failed = 0;

// ------------------------------------------------------------ processes

function stopAll() {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  fs.rmSync(tmp, { recursive: true, force: true });
}
process.on('exit', stopAll);
for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(sig, () => process.exit(130));

function start(cmd, args, env, name) {
  const log = fs.openSync(path.join(tmp, name + '.log'), 'a');
  const c = spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', log] });
  children.push(c);
  c.out = '';
  c.stdout.on('data', (d) => (c.out += d));
  return c;
}

async function stop(c) {
  if (c.exitCode !== null || c.signalCode !== null) return;
  c.kill('SIGTERM');
  await waitFor(() => c.exitCode !== null || c.signalCode !== null, 5000, 'a process to stop').catch(() => c.kill('SIGKILL'));
}

function env(ns) {
  return { SLUICE_REDIS_URL: 'unix://' + sock, SLUICE_NAMESPACE: ns };
}

function ctl(ns, ...args) {
  return execFileSync(path.join(BIN, 'sluicectl'), args, { env: { ...process.env, ...env(ns) }, encoding: 'utf8' });
}

function redis(...args) {
  return execFileSync('redis-cli', ['-s', sock, ...args], { encoding: 'utf8', stdio: 'pipe' }).trim();
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Polls cond (sync or async) until it is truthy or ms have passed.
async function waitFor(cond, ms, what) {
  const end = Date.now() + ms;
  for (;;) {
    const v = await cond();
    if (v) return v;
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(20);
  }
}

async function check(name, fn) {
  const t0 = Date.now();
  try {
    const note = await fn();
    passed++;
    console.log(`browser: ok   ${name} (${Date.now() - t0} ms${note ? '; ' + note : ''})`);
  } catch (e) {
    failed++;
    console.log(`browser: FAIL ${name}: ${e.message}`);
  }
}

function assert(cond, msg) {
  if (!cond) throw new Error(msg);
}

async function startConsole(ns, name, extra) {
  const c = start(path.join(BIN, 'sluicectl'), ['console', '--listen', '127.0.0.1:0', ...extra], env(ns), name);
  const line = await waitFor(() => /console: (http:\/\/127\.0\.0\.1:\d+\/)/.exec(c.out), 10000, name + "'s address");
  c.url = line[1];
  return c;
}

async function post(url, action, body, headers) {
  const r = await fetch(url + 'api/' + action, { method: 'POST', headers, body: JSON.stringify(body) });
  return { status: r.status, body: await r.json() };
}

// ----------------------------------------------------------------- setup

const redisServer = start('redis-server', ['--port', '0', '--unixsocket', sock, '--unixsocketperm', '700', '--save', '', '--appendonly', 'no', '--dir', tmp], {}, 'redis');
await waitFor(() => {
  try {
    return redis('ping') === 'PONG';
  } catch {
    return false;
  }
}, 10000, 'redis-server');

const tokenFile = path.join(tmp, 'token');
fs.writeFileSync(tokenFile, TOKEN + '\n', { mode: 0o600 });
ctl('t', 'signal', 'define', 'db_util', '--target', '0.8', '--critical', '0.95');
ctl('t', 'signal', 'define', 'replica_lag', '--target', '2', '--critical', '10');
ctl('t', 'signal', 'set', 'db_util', '0.55');
ctl('t', 'signal', 'set', 'replica_lag', '0.5');
ctl('t', 'class', 'set', 'certificates', '--tier', 'low', '--max-rate', '20/s', '--max-concurrency', '8', '--floor', '0.1');
ctl('t', 'class', 'set', 'integration_sync', '--tier', 'normal', '--max-rate', '10/s', '--floor', '0.5');
ctl('t', 'class', 'set', 'reports', '--tier', 'high', '--max-rate', '5/s', '--max-attempts', '1');
for (let i = 0; i < 40; i++) ctl('t', 'enqueue', 'certificates', `{"n":${i}}`);
for (let i = 0; i < 3; i++) ctl('t', 'enqueue', 'reports', `{"n":${i}}`);
const worker = start(path.join(BIN, 'sluice-worker'), ['--name', 'browser-worker', '--concurrency', '4', '--grace', '1s',
  '--handler', 'certificates=/bin/sleep', '10', '--', '--handler', 'integration_sync=/bin/true', '--',
  '--handler', 'reports=/bin/false'], env('t'), 'worker');
const main = await startConsole('t', 'console', ['--token-file', tokenFile, '--user', 'browser-test']);
await waitFor(() => /"leader":"/.test(ctl('t', '--json', 'governor', 'status').replace(/\s/g, '')), 10000, 'the governor to lead');

const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu'] });
const page = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
const errors = [];
page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
page.on('pageerror', (e) => errors.push(e.message));
const fraction = (cls) => page.textContent(`#classes tr[data-class="${cls}"] td.fraction`).catch(() => null);

// ----------------------------------------------------------------- checks

await check('the page loads with no console errors', async () => {
  await page.goto(main.url);
  await page.waitForSelector('#classes tr[data-class="certificates"]', { timeout: 5000 });
  await waitFor(async () => !['-', '(none)'].includes(await page.textContent('#leader')), 5000, 'the leader');
  await waitFor(async () => (await page.textContent('#decision')).includes('pressure'), 5000, 'a decision in words');
  assert(errors.length === 0, 'console errors: ' + errors.join(' | '));
  return 'decision: ' + (await page.textContent('#decision'));
});

await check('a class appears within 2 s of sluicectl class set', async () => {
  ctl('t', 'class', 'set', 'thumbnails', '--tier', 'low', '--max-rate', '5/s');
  const t0 = Date.now();
  await page.waitForSelector('#classes tr[data-class="thumbnails"]', { timeout: 2000 });
  return `after ${Date.now() - t0} ms`;
});

await check('a signal over its target: the page says the governor cuts', async () => {
  ctl('t', 'signal', 'set', 'db_util', '0.9');
  await waitFor(async () => /^Last decision: cut /.test(await page.textContent('#decision')), 15000, 'a cut');
  return await page.textContent('#decision');
});

await check('a signal over critical changes the low tier\'s fraction within 3 s', async () => {
  const before = await fraction('certificates');
  ctl('t', 'signal', 'set', 'db_util', '0.97');
  const t0 = Date.now();
  await waitFor(async () => (await fraction('certificates')) === '10%', 3000, `certificates at its floor (was ${before})`);
  return `${before} -> 10% after ${Date.now() - t0} ms`;
});

await check('a screenshot of the page under pressure is saved', async () => {
  await waitFor(async () => (await page.textContent('#decision')).startsWith('Last decision: critical'), 5000, 'the critical decision');
  await waitFor(async () => (await page.$$('#dead tbody tr')).length > 0, 10000, 'dead jobs');
  await page.click('#classes tr[data-class="certificates"] td.oldest button', { timeout: 3000 });
  await page.waitForSelector('tr.explain-row', { timeout: 3000 });
  fs.mkdirSync(BUILD, { recursive: true });
  await page.screenshot({ path: path.join(BUILD, 'console.png'), fullPage: true });
  if (process.env.UPDATE_SCREENSHOT === '1') fs.copyFileSync(path.join(BUILD, 'console.png'), 'docs/console.png');
  return path.join(BUILD, 'console.png') + (process.env.UPDATE_SCREENSHOT === '1' ? ' and docs/console.png' : '');
});

await check('the pause button pauses the class and the audit log shows it', async () => {
  await page.fill('#token', TOKEN);
  await page.click('#token-form button');
  await page.click('#classes tr[data-class="integration_sync"] button[data-act="pause"]');
  await waitFor(() => redis('HGET', 't:{integration_sync}:gate', 'paused') === '1', 3000, 'paused=1 in Redis');
  await waitFor(async () => {
    const rows = await page.$$eval('#audit tbody tr', (trs) => trs.map((tr) => tr.textContent));
    return rows.some((r) => r.includes('integration_sync') && r.includes('console:browser-test') && r.includes('paused'));
  }, 3000, 'the audit entry on the page');
  await waitFor(async () => (await fraction('integration_sync')) === 'paused', 3000, 'the class shown paused');
});

await check('an action without the token, or from another site, is refused and changes nothing', async () => {
  const json = { 'Content-Type': 'application/json' };
  const none = await post(main.url, 'resume', { class: 'integration_sync' }, json);
  const wrong = await post(main.url, 'resume', { class: 'integration_sync' }, { ...json, Authorization: 'Bearer wrong-token-wrong-token' });
  const cross = await post(main.url, 'resume', { class: 'integration_sync' }, { ...json, Authorization: 'Bearer ' + TOKEN, Origin: 'http://evil.example' });
  assert(none.status === 401 && none.body.error, `no token: ${none.status} ${JSON.stringify(none.body)}`);
  assert(wrong.status === 401, `wrong token: ${wrong.status}`);
  assert(cross.status === 403, `cross-site: ${cross.status}`);
  assert(redis('HGET', 't:{integration_sync}:gate', 'paused') === '1', 'the class was resumed');
  const readonly = await startConsole('t', 'console-readonly', []);
  const ro = await post(readonly.url, 'resume', { class: 'integration_sync' }, { ...json, Authorization: 'Bearer ' + TOKEN });
  await stop(readonly);
  assert(ro.status === 403 && /read-only/.test(ro.body.error), `read-only console: ${ro.status}`);
  return `401, 401, 403, read-only 403: "${none.body.error}"`;
});

await check('no console errors during the run', async () => {
  assert(errors.length === 0, 'console errors: ' + errors.join(' | '));
});

// ------------------------------------------ 200 classes, 10,000 decisions

// A decision as the governor records it, for "classes" at time t.
function decision(t, classes, k) {
  const p = 0.8 + 0.5 * Math.sin(k / 300);
  return JSON.stringify({
    t, epoch: 1, mode: 'enforce', action: 'hold', pressure: p, acted: p, driver: 'db_util', driver_value: 0.8 * p,
    driver_stale: false, summary: 'hold: db_util at ' + (0.8 * p).toFixed(3) + '; dwell 500 of 3000 ms since the last cut', band: 0.1,
    signals: [
      { name: 'db_util', value: 0.8 * p, target: 0.8, critical: 0.95, pressure: p, age_ms: 400, stale: false, period_ms: 0, raise_at: 0.72, cut_at: 0.8, rule: 'raise below 0.72, cut above 0.8' },
      { name: 'replica_lag', value: 1, target: 2, critical: 10, pressure: 0.5, age_ms: 400, stale: false, period_ms: 0, raise_at: 1.8, cut_at: 2, rule: 'raise below 1.8, cut above 2' },
    ],
    classes: classes.map((c, i) => ({ name: c.name, tier: c.tier, fraction: Math.max(0.1, Math.min(1, 1.6 - p - (i % 4) * 0.1)), floor: 0.1, waiting: 3, reason: 'held: db_util at target' })),
  });
}

// RESP for one command.
function resp(args) {
  return `*${args.length}\r\n` + args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`).join('');
}

// The bound on an answer of the API: 100 ms for a plain build; a build
// under sanitizers (make test's SANITIZER) allocates several times slower.
const API_MS = process.env.SANITIZER ? 1000 : 100;

await check(`with 200 classes and 10,000 decisions the API answers in under ${API_MS} ms and the page stays responsive`, async () => {
  const classes = [];
  for (let i = 0; i < 200; i++) classes.push({ name: 'class-' + String(i).padStart(3, '0'), tier: ['low', 'normal', 'high', 'critical'][i % 4] });
  const config = { classes: Object.fromEntries(classes.map((c) => [c.name, { tier: c.tier, max_rate: 10 }])) };
  execFileSync(path.join(BIN, 'sluicectl'), ['apply', '-'], { env: { ...process.env, ...env('perf') }, input: JSON.stringify(config) });
  const now = Number(redis('TIME').split('\n')[0]) * 1000;
  const file = path.join(tmp, 'history.resp');
  const fd = fs.openSync(file, 'w');
  for (let k = 9999; k >= 0; k--) {
    const t = now - k * 1000;
    fs.writeSync(fd, resp(['XADD', 'perf:{_}:governor:history', `${t}-0`, 'decision', decision(t, classes, k)]));
  }
  fs.closeSync(fd);
  execFileSync('sh', ['-c', `redis-cli -s '${sock}' --pipe < '${file}' > /dev/null`]);
  assert(redis('XLEN', 'perf:{_}:governor:history') === '10000', 'history length');
  const perf = await startConsole('perf', 'console-perf', ['--token-file', tokenFile]);
  const timed = async () => {
    const t0 = performance.now();
    const r = await fetch(perf.url + 'api/state');
    const body = await r.json();
    assert(r.ok && body.classes.length === 200, `state: ${r.status}, ${body.classes?.length} classes`);
    return performance.now() - t0;
  };
  const cold = await timed();
  const warm = [];
  for (let i = 0; i < 20; i++) warm.push(await timed());
  warm.sort((a, b) => a - b);
  // 18 of the 20 answers within the bound: one stall of a shared machine is
  // not the console's
  const median = warm[10], p90 = warm[17], worst = warm[19];
  assert(p90 < API_MS, `the API took ${p90.toFixed(1)} ms at the 90th percentile (median ${median.toFixed(1)} ms; the bound is ${API_MS} ms)`);

  const p2 = await browser.newPage({ viewport: { width: 1280, height: 1000 } });
  const t0 = Date.now();
  await p2.goto(perf.url);
  await waitFor(async () => (await p2.$$('#classes tbody tr[data-class]')).length === 200, 10000, '200 rows');
  const shown = Date.now() - t0;
  // what an operator feels once it is up: the longest task and the wait for
  // a frame while the page keeps polling and redrawing (ten probes paced
  // 300 ms apart, over several polls; no probe waits on another process)
  await p2.evaluate(() => {
    window.longest = 0;
    new PerformanceObserver((l) => l.getEntries().forEach((e) => (window.longest = Math.max(window.longest, e.duration)))).observe({ type: 'longtask' });
  });
  const lags = [];
  for (let i = 0; i < 10; i++) {
    lags.push(await p2.evaluate(() => new Promise((done) => {
      const t0 = performance.now();
      setTimeout(() => requestAnimationFrame(() => done(performance.now() - t0)), 0);
    })));
    await sleep(300);
  }
  const longest = await p2.evaluate(() => window.longest);
  await p2.close();
  await stop(perf);
  const lag = Math.max(...lags);
  assert(lag < 200, `the page answered a frame after ${lag.toFixed(0)} ms`);
  assert(longest < 300, `a task of ${longest.toFixed(0)} ms blocked the page`);
  return `API cold ${cold.toFixed(1)} ms, then median ${median.toFixed(1)} ms, 90th percentile ${p90.toFixed(1)} ms, worst ${worst.toFixed(1)} ms; page: 200 rows shown after ${shown} ms, then longest task ${longest.toFixed(0)} ms, worst frame ${lag.toFixed(0)} ms`;
});

await check('the page marks itself stale when the governor falls silent, then when Redis stops answering', async () => {
  const stale = async () => ((await page.isVisible('#stale')) ? await page.textContent('#stale') : '');
  assert(!(await stale()), 'stale while all runs: ' + (await stale()));
  await stop(worker);
  await waitFor(async () => /governor is silent/.test(await stale()), 8000, 'the governor-silent mark');
  await stop(redisServer);
  await waitFor(async () => /no answer from Redis/.test(await stale()), 8000, 'the no-answer mark');
  return await stale();
});

await browser.close();
await stop(main);
console.log(`browser: ${((Date.now() - started) / 1000).toFixed(1)} s`);
console.log(`browser: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
