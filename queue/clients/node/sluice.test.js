'use strict';
// Tests of the Node producer against a real redis-server: every case of
// ../conformance.json, then what the cases cannot say (versions, connection
// errors, JavaScript's own types). tests/test_clients.c starts the server,
// declares the conformance setup in SLUICE_NAMESPACE and runs this file with
// `node --test` and SLUICE_REDIS_URL pointing at it.

const test = require('node:test');
const assert = require('node:assert');
const fs = require('node:fs');
const path = require('node:path');
const Redis = require('ioredis');
const sluice = require('./sluice');

const CONFORMANCE = path.join(__dirname, '..', 'conformance.json');
const COMMON_LUA = path.join(__dirname, '..', '..', 'lua', 'common.lua');
const SPECIAL = { nan: NaN, inf: Infinity, '-inf': -Infinity };

// A conformance value as JavaScript's: {"$special": "nan"} is NaN.
function native(v) {
  if (Array.isArray(v)) return v.map(native);
  if (v !== null && typeof v === 'object') {
    const keys = Object.keys(v);
    if (keys.length === 1 && keys[0] === '$special') return SPECIAL[v.$special];
    return Object.fromEntries(keys.map((k) => [k, native(v[k])]));
  }
  return v;
}

const camel = (s) => s.replace(/_([a-z])/g, (_, c) => c.toUpperCase());
const snake = (s) => s.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);

function payloadOf(spec) {
  if ('payload' in spec) return native(spec.payload);
  if ('payload_json' in spec) return spec.payload_json;
  if ('payload_hex' in spec) return Buffer.from(spec.payload_hex, 'hex');
  const gen = spec.payload_gen;
  if ('size' in gen) return `{"p":"${'x'.repeat(gen.size - 8)}"}`;
  return '{"a":'.repeat(gen.nest - 1) + '{}' + '}'.repeat(gen.nest - 1);
}

const optionsOf = (spec) => Object.fromEntries(Object.entries(native(spec.opts || {})).map(([k, v]) => [camel(k), v]));

function jobsOf(specs) {
  return specs.flatMap((spec) => ('repeat' in spec ? Array(spec.repeat).fill(spec.job) : [spec])
    .map((one) => new sluice.Job(payloadOf(one), optionsOf(one))));
}

const snakeKeys = (o) => Object.fromEntries(Object.entries(o).map(([k, v]) => [snake(k), v]));

// The outcome of one case: an object of what it returned.
async function run(c, k) {
  switch (k.op) {
    case 'enqueue': return { id: await c.enqueue(k.class, payloadOf(k.job), optionsOf(k.job)) };
    case 'enqueue_many': {
      const ids = await c.enqueueMany(k.class, jobsOf(k.jobs));
      return { ids, count: ids.length, first: ids[0] ?? null, last: ids[ids.length - 1] ?? null };
    }
    case 'job': return snakeKeys(await c.job(k.id));
    case 'cancel': await c.cancel(k.id); return { ok: true };
    case 'stats': return await c.stats(k.class);
    case 'signal_report':
      await c.reportSignal(k.signal, native(k.value), { ageMs: k.age_ms ?? 0 });
      return { ok: true };
    case 'url': return { url: sluice.parseUrl(k.url) };
    default: throw new Error(`unknown op ${k.op}`);
  }
}

// Why the outcome differs from the case's expectation, or null.
function mismatch(k, got, error) {
  const want = k.expect;
  if ('error' in want) {
    if (!error) return `expected ${want.error}, got ${JSON.stringify(got)}`;
    if (error.word !== want.error || !error.message.includes(want.message || '')) {
      return `expected ${want.error} (${want.message || ''}), got ${error.word}: ${error.message}`;
    }
    if ('done' in want && (error.ids || {}).length !== want.done) {
      return `expected ${want.done} done, got ${(error.ids || {}).length}`;
    }
    return null;
  }
  if (error) return `expected ${JSON.stringify(want)}, got ${error.word}: ${error.message}`;
  for (const [key, v] of Object.entries(want)) {
    if (key === 'url') {
      const bad = Object.keys(v).filter((f) => JSON.stringify(got.url[f]) !== JSON.stringify(v[f]));
      if (bad.length) return `url fields differ: ${bad}`;
    } else if (JSON.stringify(got[key]) !== JSON.stringify(v)) {
      return `${key}: expected ${JSON.stringify(v)}, got ${JSON.stringify(got[key])}`;
    }
  }
  return null;
}

test('every conformance case gives its answer', async () => {
  const { cases } = JSON.parse(fs.readFileSync(CONFORMANCE, 'utf8'));
  const c = await sluice.connect();
  const failures = [];
  for (const k of cases) {
    let got = null;
    let error = null;
    try {
      got = await run(c, k);
    } catch (e) {
      if (!(e instanceof sluice.SluiceError)) throw e;
      error = e;
    }
    const why = mismatch(k, got, error);
    if (why) failures.push(`${k.name}: ${why}`);
  }
  await c.close();
  console.error(`node: ${cases.length} conformance cases, ${cases.length - failures.length} passed, ${failures.length} failed`);
  assert.deepStrictEqual(failures, []);
});

test('the errors are the C library\'s codes and words', () => {
  const table = JSON.parse(fs.readFileSync(CONFORMANCE, 'utf8')).errors.slice(1);
  assert.deepStrictEqual(sluice.ERRORS, table);
});

test('the client speaks the version in queue/lua/common.lua', () => {
  const version = Number(/^local VERSION = (\d+)/m.exec(fs.readFileSync(COMMON_LUA, 'utf8'))[1]);
  assert.strictEqual(sluice.FUNCTIONS_VERSION, version);
});

// Redis holding no, an older or a newer Functions library: a clear
// SLUICE_ERR_PROTOCOL on connect. The real library is restored after each.
test('versions', async (t) => {
  const admin = new Redis({ path: sluice.parseUrl().path });
  const saved = await admin.callBuffer('FUNCTION', 'DUMP');
  const loadVersion = (v) => admin.call('FUNCTION', 'LOAD', 'REPLACE', '#!lua name=sluice\n' +
    `redis.register_function{function_name='sluice_version', callback=function() return ${v} end, flags={'no-writes'}}`);
  const refused = async (pattern) => {
    await assert.rejects(sluice.connect(), (e) => e.code === 'SLUICE_ERR_PROTOCOL' && pattern.test(e.message));
  };
  try {
    await t.test('an older library is refused with what to do', async () => {
      await loadVersion(sluice.FUNCTIONS_VERSION - 1);
      await refused(new RegExp(`holds the sluice Functions v${sluice.FUNCTIONS_VERSION - 1}.*upgrade them`));
    });
    await t.test('a newer library is refused', async () => {
      await loadVersion(sluice.FUNCTIONS_VERSION + 1);
      await refused(/upgrade this client/);
    });
    await t.test('a missing library is refused', async () => {
      await admin.call('FUNCTION', 'DELETE', 'sluice');
      await refused(/not loaded/);
    });
  } finally {
    await admin.call('FUNCTION', 'RESTORE', saved, 'REPLACE');
    admin.disconnect();
  }
});

test('an unreachable redis is named without the password', async () => {
  await assert.rejects(sluice.connect({ url: 'unix://u:hunter2@/nonexistent/redis.sock' }), (e) =>
    e.code === 'SLUICE_ERR_UNREACHABLE' && e.message.includes('cannot reach redis at unix:/nonexistent/redis.sock') &&
    !e.message.includes('hunter2'));
});

test('a refused password is an auth error without the password', async () => {
  const url = process.env.SLUICE_REDIS_URL.replace('unix://', 'unix://:hunter2@');
  await assert.rejects(sluice.connect({ url }), (e) => e.code === 'SLUICE_ERR_AUTH' && e.word === 'authentication failed' &&
    e.message.includes('check the user and password') && !e.message.includes('hunter2'));
});

test('a bad url is refused before connecting', async () => {
  await assert.rejects(sluice.connect({ url: 'rediss://h' }), (e) => e.code === 'SLUICE_ERR_URL');
});

test('the namespace comes from the environment and is checked', async () => {
  const c = await sluice.connect();
  assert.strictEqual(c.namespace, process.env.SLUICE_NAMESPACE);
  await c.close();
  await assert.rejects(sluice.connect({ namespace: 'a b' }), (e) => e.code === 'SLUICE_ERR_ARGUMENT');
});

test('an unknown option is refused', async () => {
  const c = await sluice.connect();
  await assert.rejects(c.enqueue('conf-free', {}, { delay: 5 }), (e) => e.code === 'SLUICE_ERR_ARGUMENT' &&
    e.message.includes("unknown option 'delay'"));
  await c.close();
});

// Every key of the database with its value (DUMP): what a call wrote.
async function keyspace() {
  const redis = new Redis({ path: sluice.parseUrl().path });
  const out = {};
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'COUNT', 1000);
    for (const k of keys) out[k] = (await redis.dumpBuffer(k)).toString('hex');
    cursor = next;
  } while (cursor !== '0');
  redis.disconnect();
  return out;
}

test('bad input writes nothing', async () => {
  const c = await sluice.connect();
  const before = await keyspace();
  const cyclic = {};
  cyclic.self = cyclic;
  const bad = [[{ x: NaN }, {}], [{ x: 'y'.repeat(300000) }, {}], [{}, { priority: 'high' }], [{}, { cost: 1e300 }],
    [[{}], {}], [{ x: undefined }, {}], [{ f() {} }, {}], [{ n: 10n }, {}], [cyclic, {}], ['{"a":1', {}],
    [{}, { maxAttempts: 2.5 }], [{}, { unique: '\ud800' }], ['{"a":"\ud800"}', {}]];
  for (const [payload, options] of bad) {
    await assert.rejects(c.enqueue('conf-free', payload, options), sluice.SluiceError);
  }
  await assert.rejects(c.enqueueMany('conf-free', [...Array(5).fill({}), { x: Infinity }]),
    (e) => e.code === 'SLUICE_ERR_PAYLOAD');
  assert.deepStrictEqual(await keyspace(), before);
  await c.close();
});

test('enqueueMany options apply to every bare payload', async () => {
  const c = await sluice.connect();
  const ids = await c.enqueueMany('conf-free', [{ a: 1 }, new sluice.Job({ b: 2 }, { priority: 3 })], { priority: -2 });
  assert.deepStrictEqual(await Promise.all(ids.map(async (id) => (await c.job(id)).priority)), [-2, 3]);
  for (const id of ids) await c.cancel(id);
  await c.close();
});

test('after the link broke, the call in progress fails and the next one connects again', async () => {
  const c = await sluice.connect();
  const admin = new Redis({ path: sluice.parseUrl().path });
  await admin.call('CLIENT', 'KILL', 'TYPE', 'normal', 'SKIPME', 'yes');
  admin.disconnect();
  await c.stats('conf-free').catch((e) => assert.strictEqual(e.code, 'SLUICE_ERR_UNREACHABLE'));
  assert.ok((await c.stats('conf-free')).ready >= 0);
  await c.close();
});
