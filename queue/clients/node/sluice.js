'use strict';
// sluice producer for Node.js (ioredis, pinned in package.json).
//
// Enqueues jobs, looks them up, cancels them, reads a class's counters and
// reports signal values, through the Redis Functions of sluice (their
// contract: queue/lua/*.lua). Checks what it sends exactly as the C library
// does, and rejects with the C library's errors: a SluiceError carries
// `code` (e.g. 'SLUICE_ERR_QUEUE_FULL') and `word` ('queue full').
//
//   const sluice = require('./sluice');
//   const c = await sluice.connect();          // SLUICE_REDIS_URL, SLUICE_NAMESPACE
//   await c.enqueue('certificates', {user: 42}, {unique: 'cert-42'});
//   await c.close();
//
// A client is one connection (on a Redis Cluster, ioredis's Cluster: one per
// master); calls on it are sent in the order they are made. The URL may be
// of any node of a Redis Cluster, or redis-sentinel:// (see parseUrl).

const Redis = require('ioredis');

const FUNCTIONS_VERSION = 10; // the Functions library this client speaks (queue/lua/common.lua)
const DEFAULT_URL = 'redis://127.0.0.1:6379';
const DEFAULT_NAMESPACE = 'sluice';
const CONNECT_TIMEOUT_MS = 2000;
const CLUSTER_RETRY_MS = 50; // TRYAGAIN, CLUSTERDOWN: retried every 50 ms,
const CLUSTER_RETRIES = 16; // 16 times at most, redirections included (ioredis counts
// them together: 0.8 s of TRYAGAIN alone, 0.4 s when each follows an ASK)
const DID_NOT_RUN = ['MOVED ', 'ASK ', 'TRYAGAIN', 'CLUSTERDOWN']; // error replies that prove it
const BATCH_MAX = 1000; // jobs per Function call
const PAYLOAD_HARD_MAX = 262144; // bytes
const PAYLOAD_MAX_DEPTH = 32;
const SENTINELS_MAX = 16;
const CLASS_KEYS = ['class', 'gate', 'ready', 'delayed', 'leased', 'dead', 'jobs', 'meta', 'unique', 'stats',
  'done', 'audit', 'bucket', 'deadlines', 'parked'];
const SIGNAL_KEYS = ['signals', 'signal-values', 'audit'];
const STAT_FIELDS = ['enqueued', 'claimed', 'acked', 'failed', 'retried', 'died', 'reclaimed', 'released',
  'cancelled', 'throttled', 'dead_dropped', 'purged', 'late', 'expired'];
const NAME = /^[a-z0-9][a-z0-9_.-]{0,63}$/;
const NAMESPACE = /^[A-Za-z0-9_.:-]{1,64}$/;
const JOB_ID = /^([a-z0-9][a-z0-9_.-]{0,63}):[0-9]{1,20}$/;
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

// -------------------------------- errors ---------------------------------

// The C library's codes and words (include/sluice/error.h, sluice_error_name),
// in the order of its enum.
const ERRORS = [
  ['SLUICE_ERR_UNREACHABLE', 'unreachable'], ['SLUICE_ERR_AUTH', 'authentication failed'],
  ['SLUICE_ERR_URL', 'bad url'], ['SLUICE_ERR_NAME', 'invalid name'], ['SLUICE_ERR_PAYLOAD', 'invalid payload'],
  ['SLUICE_ERR_ARGUMENT', 'invalid argument'], ['SLUICE_ERR_UNKNOWN_CLASS', 'unknown class'],
  ['SLUICE_ERR_QUEUE_FULL', 'queue full'], ['SLUICE_ERR_STALE', 'stale token'],
  ['SLUICE_ERR_NOT_FOUND', 'not found'], ['SLUICE_ERR_BUSY', 'busy'], ['SLUICE_ERR_STATE', 'wrong state'],
  ['SLUICE_ERR_SERVER', 'server error'], ['SLUICE_ERR_PROTOCOL', 'protocol error'],
  ['SLUICE_ERR_NOMEM', 'out of memory'], ['SLUICE_ERR_UNAVAILABLE', 'unavailable'],
  ['SLUICE_ERR_NOT_REPLICATED', 'not replicated'],
];
const WORDS = new Map(ERRORS);

// A sluice error: `code` and `word` as the C library's; the message names
// the problem. `ids`: after a failed enqueueMany, the ids of the calls that
// stood before the failing one.
class SluiceError extends Error {
  constructor(code, message) {
    super(message);
    this.name = 'SluiceError';
    this.code = code;
    this.word = WORDS.get(code);
  }
}

// The Functions' error words (queue/lua/common.lua).
const DOMAIN = new Map([['NOCLASS', 'SLUICE_ERR_UNKNOWN_CLASS'], ['BADNAME', 'SLUICE_ERR_NAME'],
  ['BADARG', 'SLUICE_ERR_ARGUMENT'], ['PAYLOAD', 'SLUICE_ERR_PAYLOAD'], ['FULL', 'SLUICE_ERR_QUEUE_FULL'],
  ['STALE', 'SLUICE_ERR_STALE'], ['NOTFOUND', 'SLUICE_ERR_NOT_FOUND'], ['BUSY', 'SLUICE_ERR_BUSY'],
  ['STATE', 'SLUICE_ERR_STATE']]);
const AUTH_REFUSALS = ['WRONGPASS', 'NOAUTH', 'ERR invalid password', 'ERR AUTH'];
const TRANSIENT = ['LOADING', 'BUSY', 'MASTERDOWN', 'TRYAGAIN', 'CLUSTERDOWN', 'MOVED', 'ASK'];
const ACL_IN_SCRIPT = "ERR The user executing the script can't";

const wordAt = (line, word) => line === word || line.startsWith(`${word} `);

// The error for a Redis error reply `line`, as the C library maps it.
function fromLine(line, what) {
  const trailer = line.indexOf(' script:');
  const body = trailer >= 0 ? line.slice(0, trailer) : line;
  if (AUTH_REFUSALS.some((w) => line.startsWith(w))) {
    return new SluiceError('SLUICE_ERR_AUTH', `${what}: authentication failed (check the user and password)`);
  }
  if (trailer < 0 && TRANSIENT.some((w) => wordAt(body, w))) {
    return new SluiceError('SLUICE_ERR_UNAVAILABLE', `${what}: redis cannot serve now (retry later): ${body.slice(0, 160)}`);
  }
  for (const [word, code] of DOMAIN) {
    if (wordAt(body, word)) return new SluiceError(code, `${what}: ${body.slice(word.length + 1) || word}`);
  }
  if (line.startsWith(ACL_IN_SCRIPT)) {
    return new SluiceError('SLUICE_ERR_SERVER', `${what}: redis: NOPERM (ACL) ${body.slice(4, 184)}`);
  }
  return new SluiceError('SLUICE_ERR_SERVER', `${what}: redis: ${body.slice(0, 200)}`);
}

// The SluiceError for an error of ioredis: a reply (the last one when a
// Cluster gave up retrying), or a broken link.
function fromRedis(err, what) {
  if (err instanceof Redis.ReplyError) return fromLine(err.message, what);
  const last = /^Too many Cluster redirections\. Last error: ReplyError: ([^]*)$/.exec(err.message);
  if (last) return fromLine(last[1], what);
  return new SluiceError('SLUICE_ERR_UNREACHABLE', `${what}: lost the link to redis: ${err.message}`);
}

const fail = (code, message) => { throw new SluiceError(code, message); };

// -------------------------------- checks ---------------------------------

function checkName(name) {
  if (typeof name !== 'string' || !NAME.test(name)) {
    fail('SLUICE_ERR_NAME', 'invalid name: must match ^[a-z0-9][a-z0-9_.-]{0,63}$');
  }
  return name;
}

function classOfId(id) {
  const m = typeof id === 'string' && JOB_ID.exec(id);
  if (!m) fail('SLUICE_ERR_ARGUMENT', 'invalid job id: expected <class>:<number>');
  return m[1];
}

const badPayload = (why) => fail('SLUICE_ERR_PAYLOAD', `invalid payload: ${why}`);
const isObject = (v) => v !== null && typeof v === 'object' && !Array.isArray(v);
const JSON_STRING = /"[^"\\]*(?:\\.[^"\\]*)*"/g;

// Refuses a decoded payload nested too deep or holding a NUL or a lone
// surrogate in a string, and JSON text whose numbers the C library refuses
// (an integer past 64 bits, a number past a double).
function checkDecoded(value, text) {
  const stack = [[value, 1]];
  while (stack.length) {
    const [v, depth] = stack.pop();
    if (typeof v === 'string') {
      if (v.includes('\0')) badPayload('contains a NUL byte');
      if (LONE_SURROGATE.test(v)) badPayload('not JSON (a lone surrogate escape)');
    } else if (v !== null && typeof v === 'object') {
      if (depth > PAYLOAD_MAX_DEPTH) badPayload(`nested deeper than ${PAYLOAD_MAX_DEPTH}`);
      for (const [k, x] of Object.entries(v)) {
        if (!Array.isArray(v)) stack.push([k, depth + 1]);
        stack.push([x, depth + 1]);
      }
    }
  }
  for (const n of text.replace(JSON_STRING, '""').match(/-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?/g) || []) {
    if (/[.eE]/.test(n)) {
      if (!Number.isFinite(Number(n))) badPayload('not JSON (real number overflow)');
    } else if (BigInt(n) < INT64_MIN || BigInt(n) > INT64_MAX) {
      badPayload('not JSON (too big integer)');
    }
  }
}

// JSON.stringify drops what JSON cannot hold (undefined, functions) and
// writes NaN as null; a payload must never lose a value silently.
function strictValue(key, value) {
  if (typeof value === 'number' && !Number.isFinite(value)) throw new TypeError(`${value} is not JSON`);
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') {
    throw new TypeError(`${typeof value} is not JSON`);
  }
  return value;
}

// The payload as the bytes enqueue sends: a string or a Buffer is JSON
// text, sent as it is; a plain object is encoded. Checked as the C
// library's sluice_payload_check does: a JSON object, at most 256 KiB,
// nested at most 32 deep, valid UTF-8, no NUL, no NaN or Infinity, integers
// within 64 bits. Throws a SluiceError (SLUICE_ERR_PAYLOAD).
function payloadCheck(payload) {
  let text;
  if (payload instanceof Uint8Array) {
    if (payload.length > PAYLOAD_HARD_MAX) badPayload(`${payload.length} bytes is over the ${PAYLOAD_HARD_MAX}-byte cap`);
    try {
      text = new TextDecoder('utf-8', { fatal: true }).decode(payload);
    } catch {
      badPayload('not JSON (not valid UTF-8)');
    }
  } else if (typeof payload === 'string') {
    if (LONE_SURROGATE.test(payload)) badPayload('not valid UTF-8 (a lone surrogate)');
    text = payload;
  } else if (isObject(payload)) {
    try {
      text = JSON.stringify(payload, strictValue);
    } catch (e) {
      badPayload(`cannot be encoded as JSON (${String(e.message).slice(0, 100)})`);
    }
  } else {
    badPayload('not a JSON object');
  }
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length > PAYLOAD_HARD_MAX) badPayload(`${bytes.length} bytes is over the ${PAYLOAD_HARD_MAX}-byte cap`);
  if (text.includes('\0')) badPayload('contains a NUL byte');
  let value;
  try {
    value = JSON.parse(text);
  } catch (e) {
    badPayload(`not JSON (${String(e.message).slice(0, 100)})`);
  }
  if (!isObject(value)) badPayload('not a JSON object');
  checkDecoded(value, text);
  return bytes;
}

// option, protocol name, range, in the C library's order (opts_check); the
// unique key's range is of its length in UTF-8 bytes
const OPTIONS = [
  ['delayMs', 'delay_ms', 0, 3153600000000],
  ['runAtMs', 'run_at_ms', 0, 253402300799000],
  ['priority', 'priority', -1000, 1000],
  ['maxAttempts', 'max_attempts', 0, 1000],
  ['timeoutMs', 'timeout_ms', 0, 604800000],
  ['unique', 'unique', 0, 256],
  ['cost', 'cost', 0, 1000000],
];
// the start_by options, sent after the fairness key, in the same way
const START_OPTIONS = [
  ['startByMs', 'start_by_ms', 0, 253402300799000],
  ['startWithinMs', 'start_within_ms', 0, 253402300799000],
];
// the WAIT after the enqueue, checked with the others, never sent to the Function
const WAIT_OPTIONS = [
  ['replicas', 'replicas', 0, 64],
  ['replicasTimeoutMs', 'replicas_timeout_ms', 0, 60000],
];
const WAIT_TIMEOUT_DEFAULT = 1000; // ms
const OPTION_NAMES = new Set([...OPTIONS, ...START_OPTIONS, ...WAIT_OPTIONS].map((o) => o[0]).concat(['key']));

function outOfRange(what, lo, hi) {
  fail('SLUICE_ERR_ARGUMENT', `invalid option: ${what} must be in ${lo}..${hi}`);
}

// The fairness key argument, checked as the C library checks it: null,
// undefined or '' for none, else 1..128 bytes of UTF-8 text without a
// control byte.
function fairnessKey(v) {
  if (v === null || v === undefined || v === '') return '';
  if (typeof v !== 'string' || LONE_SURROGATE.test(v)) {
    fail('SLUICE_ERR_ARGUMENT', 'invalid option: fairness key: must be UTF-8 text');
  }
  if (Buffer.byteLength(v) > 128) fail('SLUICE_ERR_ARGUMENT', 'invalid option: fairness key: must be 1..128 bytes');
  if (/[\x00-\x1f\x7f]/.test(v)) fail('SLUICE_ERR_ARGUMENT', 'invalid option: fairness key: contains a control byte');
  return v;
}

// The ten Function arguments after the payload, checked as the C library
// checks them: each range in order, then delay_ms against run_at_ms, then
// the fairness key, then start_by_ms against start_within_ms. null or
// undefined is the default.
function optionArgs(opts) {
  if (opts === null || opts === undefined) opts = {};
  if (!isObject(opts)) fail('SLUICE_ERR_ARGUMENT', 'invalid option: options must be an object');
  for (const k of Object.keys(opts)) {
    if (!OPTION_NAMES.has(k)) fail('SLUICE_ERR_ARGUMENT', `invalid option: unknown option '${k}'`);
  }
  const args = [...OPTIONS, ...START_OPTIONS, ...WAIT_OPTIONS].map(([name, protocol, lo, hi]) => {
    let v = opts[name] ?? null;
    if (name === 'unique') {
      if (v === null) v = '';
      if (typeof v !== 'string' || v.includes('\0') || LONE_SURROGATE.test(v)) {
        fail('SLUICE_ERR_ARGUMENT', 'invalid option: the unique key must be UTF-8 text without NUL');
      }
      if (Buffer.byteLength(v) > hi) outOfRange("the unique key's length", lo, hi);
      return v;
    }
    if (v === null) v = 0;
    if (!Number.isSafeInteger(v) || v < lo || v > hi) outOfRange(protocol, lo, hi);
    return String(v);
  });
  args.splice(-WAIT_OPTIONS.length);
  if (args[0] !== '0' && args[1] !== '0') fail('SLUICE_ERR_ARGUMENT', 'invalid option: delay_ms and run_at_ms are exclusive');
  if (args.at(-2) !== '0' && args.at(-1) !== '0') {
    fail('SLUICE_ERR_ARGUMENT', 'invalid option: start_by_ms and start_within_ms are exclusive');
  }
  args.splice(OPTIONS.length, 0, fairnessKey(opts.key ?? null));
  return args;
}

// A payload with options of its own, for enqueueMany.
class Job {
  constructor(payload, options = {}) {
    this.payload = payload;
    this.options = options;
  }
}

// --------------------------------- URLs ----------------------------------

function urlDecode(s, what, size) {
  if (/%(?![0-9A-Fa-f]{2})/.test(s) || s.includes('%00')) fail('SLUICE_ERR_URL', `bad url: malformed ${what}`);
  const bytes = Buffer.from(s.replace(/%([0-9A-Fa-f]{2})/g, (_, h) => String.fromCharCode(parseInt(h, 16))), 'latin1');
  let out;
  try {
    out = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch {
    out = null;
  }
  if (out === null || bytes.length >= size) fail('SLUICE_ERR_URL', `bad url: malformed ${what}`);
  return out;
}

function userinfo(s, u) {
  const head = /^[^/]*/.exec(s)[0];
  const at = head.lastIndexOf('@');
  if (at < 0) return s;
  const info = head.slice(0, at);
  const colon = info.indexOf(':');
  if (colon < 0) { // redis://secret@host: a lone word is the password
    u.password = urlDecode(info, 'user name', 256);
  } else {
    u.user = urlDecode(info.slice(0, colon), 'user name', 256);
    u.password = urlDecode(info.slice(colon + 1), 'password', 512);
  }
  return s.slice(at + 1);
}

function urlNumber(s, max, what) {
  if (!/^[0-9]{1,10}$/.test(s) || Number(s) > max) fail('SLUICE_ERR_URL', `bad url: ${what}`);
  return Number(s);
}

function badQuery(q, allowed) {
  const name = q.slice(1).split(/[=&]/)[0].slice(0, 32);
  fail('SLUICE_ERR_URL', `bad url: unknown query parameter '${name}' (${allowed})`);
}

// host[:port] or [v6]:port as [host, port], checked as the C library's.
function address(hostport, defaultPort) {
  let host;
  let port = null;
  if (hostport.startsWith('[')) {
    const close = hostport.indexOf(']');
    if (close < 0) fail('SLUICE_ERR_URL', 'bad url: unclosed [ in host');
    host = hostport.slice(1, close);
    const rest = hostport.slice(close + 1);
    if (rest.startsWith(':')) port = rest.slice(1);
    else if (rest) fail('SLUICE_ERR_URL', 'bad url: junk after ]');
  } else {
    const colon = hostport.indexOf(':');
    host = colon < 0 ? hostport : hostport.slice(0, colon);
    if (colon >= 0) port = hostport.slice(colon + 1);
  }
  if (!host || host.length >= 256) fail('SLUICE_ERR_URL', 'bad url: missing or overlong host');
  if (!/^[A-Za-z0-9.:_-]+$/.test(host)) fail('SLUICE_ERR_URL', 'bad url: invalid character in host');
  if (port === null) return [host, defaultPort];
  const n = urlNumber(port, 65535, 'port must be 1..65535');
  if (n === 0) fail('SLUICE_ERR_URL', 'bad url: port must be 1..65535');
  return [host, n];
}

// redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N] after the scheme.
function sentinelUrl(str, u) {
  const s = userinfo(str, u);
  const slash = s.indexOf('/');
  const listed = (slash < 0 ? s : s.slice(0, slash)).split(',');
  listed.forEach((a, i) => {
    if (!a) {
      fail('SLUICE_ERR_URL', i > 0 && i === listed.length - 1 ? 'bad url: empty sentinel address after a comma'
        : 'bad url: redis-sentinel:// needs host:port of each sentinel, separated by commas');
    }
    if (u.sentinels.length === SENTINELS_MAX) fail('SLUICE_ERR_URL', `bad url: more than ${SENTINELS_MAX} sentinels`);
    u.sentinels.push(address(a, 26379));
  });
  const rest = slash < 0 ? '' : s.slice(slash + 1);
  const q = rest.indexOf('?');
  const master = q < 0 ? rest : rest.slice(0, q);
  if (master.length < 1 || master.length > 64) {
    fail('SLUICE_ERR_URL', "bad url: redis-sentinel:// needs the master's name after the sentinels: /NAME, " +
      '1..64 characters');
  }
  if (!/^[A-Za-z0-9_.-]+$/.test(master)) fail('SLUICE_ERR_URL', "bad url: the master's name may hold only [A-Za-z0-9_.-]");
  u.master = master;
  if (q >= 0) {
    if (!rest.startsWith('?db=', q)) badQuery(rest.slice(q), 'the only query is ?db=N');
    u.db = urlNumber(rest.slice(q + 4), 100000, '?db= must be a number');
  }
  return u;
}

// A connection URL as an object (unix, host, port, path, user, password,
// db, sentinels, master), parsed as the C library's sluice_url_parse:
// redis://[user:password@]host[:port][/db], unix://[user:password@]/path[?db=N]
// or redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N]
// (sentinels: [host, port] of each, port 26379 by default; host and port
// unset). Empty takes SLUICE_REDIS_URL, else redis://127.0.0.1:6379. Throws
// a SluiceError (SLUICE_ERR_URL), never quoting the password.
function parseUrl(url) {
  if (url === undefined || url === null || url === '') url = process.env.SLUICE_REDIS_URL || DEFAULT_URL;
  const u = { unix: false, host: '', port: 0, path: '', user: '', password: '', db: 0, sentinels: [], master: '' };
  if (typeof url !== 'string') fail('SLUICE_ERR_URL', 'bad url: not a string');
  if (Buffer.byteLength(url) > 2048) fail('SLUICE_ERR_URL', 'bad url: too long');
  if (/[\x00-\x20\x7f]/.test(url)) fail('SLUICE_ERR_URL', 'bad url: contains a space or control character');
  if (url.startsWith('unix://')) {
    const s = userinfo(url.slice(7), u);
    if (!s.startsWith('/')) fail('SLUICE_ERR_URL', 'bad url: unix:// needs an absolute socket path');
    const q = s.indexOf('?');
    const path = q < 0 ? s : s.slice(0, q);
    if (Buffer.byteLength(path) >= 108) fail('SLUICE_ERR_URL', 'bad url: socket path is too long');
    if (q >= 0) {
      if (!s.startsWith('?db=', q)) badQuery(s.slice(q), 'the only query is ?db=N');
      u.db = urlNumber(s.slice(q + 4), 100000, '?db= must be a number');
    }
    return { ...u, unix: true, path };
  }
  if (url.startsWith('redis-sentinel://')) return sentinelUrl(url.slice(17), u);
  if (!url.startsWith('redis://')) fail('SLUICE_ERR_URL', 'bad url: scheme must be redis:// or unix:// (or redis-sentinel://)');
  const s = userinfo(url.slice(8), u);
  if (s.includes('?')) badQuery(s.slice(s.indexOf('?')), 'redis:// takes none: the database goes in the path, redis://host:port/N');
  const slash = s.indexOf('/');
  const db = slash < 0 ? '' : s.slice(slash + 1);
  [u.host, u.port] = address(slash < 0 ? s : s.slice(0, slash), 6379);
  if (db) u.db = urlNumber(db, 100000, 'database must be a number');
  return u;
}

// -------------------------------- client ---------------------------------

function int(v) {
  const n = typeof v === 'number' ? v : Number(v);
  if (!Number.isSafeInteger(n)) fail('SLUICE_ERR_PROTOCOL', 'unexpected reply (version skew?)');
  return n;
}

const text = (v) => (Buffer.isBuffer(v) ? v.toString('utf8') : String(v));

// Closes an ioredis connection unless it has ended (ioredis's disconnect
// of an ended one keeps the process alive for 2 s).
function drop(r) {
  if (r.status !== 'end') r.disconnect();
}

// Settles as `promise` does, or rejects after `ms`. The timer does not keep
// the process alive (ioredis's own timeouts can, after an error reply).
async function within(promise, ms) {
  let timer;
  const late = new Promise((resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`no reply in ${ms} ms`)), ms);
    timer.unref();
  });
  promise.catch(() => {});
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

function skew(version) {
  if (version === null) {
    return 'the sluice Functions are not loaded in this Redis: connect once with the deploy role ' +
      '(e.g. sluicectl status) to load them';
  }
  if (Number.isInteger(version) && version < FUNCTIONS_VERSION) {
    return `this Redis holds the sluice Functions v${version}, this client needs v${FUNCTIONS_VERSION}: ` +
      'upgrade them (connect once with the deploy role, e.g. sluicectl status, of this sluice)';
  }
  return `this Redis holds the sluice Functions v${version}, this client speaks v${FUNCTIONS_VERSION}: ` +
    'upgrade this client';
}

// The server's HELLO 2 fields (mode, role...): every ACL user may ask,
// where INFO may be refused.
async function hello(call) {
  const r = await call('HELLO', '2');
  const out = {};
  for (let i = 0; i + 1 < r.length; i += 2) out[text(r[i])] = r[i + 1];
  return out;
}

// Rejects with SLUICE_ERR_PROTOCOL unless the Redis that call(...args)
// asks holds the Functions this client speaks.
async function checkFunctions(call) {
  let version = null;
  try {
    version = await call('FCALL_RO', 'sluice_version', '0');
  } catch (e) {
    if (!(e instanceof Redis.ReplyError && e.message.startsWith('ERR Function not found'))) throw e;
  }
  if (version !== FUNCTIONS_VERSION) fail('SLUICE_ERR_PROTOCOL', skew(version));
}

// A connection to the Redis that holds sluice's queues; make one with
// connect(), end it with close(). If the link breaks, the call in progress
// fails with SLUICE_ERR_UNREACHABLE (it may or may not have run) and the
// next call connects again.
class Client {
  constructor(url, namespace, timeoutMs) {
    this.url = parseUrl(url);
    const ns = namespace || process.env.SLUICE_NAMESPACE || DEFAULT_NAMESPACE;
    if (typeof ns !== 'string' || !NAMESPACE.test(ns)) {
      fail('SLUICE_ERR_ARGUMENT', 'namespace must be 1..64 of [A-Za-z0-9_.:-]');
    }
    this.namespace = ns;
    this.timeoutMs = timeoutMs;
    this.redis = null;
    this.known = null;
  }

  // Connects: to the server of the URL, authenticated and its database
  // selected here (ioredis goes on after a refused AUTH), its Functions'
  // version checked; if it is a Redis Cluster node (any node: it may be a
  // replica), to the whole cluster; for a redis-sentinel:// URL, to the
  // master the sentinels name.
  async open() {
    const u = this.url;
    if (u.master) {
      this.redis = await this.openSentinel();
      return;
    }
    if (this.known) { // a cluster whose link broke: any node it had
      this.redis = await this.openCluster(this.known);
      return;
    }
    const r = await this.openServer();
    try {
      const call = (...args) => within(r.call(...args), this.timeoutMs);
      if (u.unix || (await hello(call)).mode !== 'cluster') {
        await checkFunctions(call);
        this.redis = r;
        return;
      }
    } catch (e) {
      drop(r);
      throw e instanceof SluiceError ? e : fromRedis(e, 'connect');
    }
    drop(r);
    this.redis = await this.openCluster([{ host: u.host, port: u.port }]);
  }

  async openServer() {
    const u = this.url;
    const where = u.unix ? `unix:${u.path}` : `${u.host}:${u.port}`;
    let cause = 'connection closed';
    const r = new Redis({
      ...(u.unix ? { path: u.path } : { host: u.host, port: u.port }),
      lazyConnect: true, enableReadyCheck: false, enableOfflineQueue: false, maxRetriesPerRequest: 0,
      retryStrategy: () => null, autoResendUnfulfilledCommands: false, connectTimeout: 0,
    });
    r.on('error', (e) => { cause = e.message; });
    try {
      await within(r.connect(), CONNECT_TIMEOUT_MS);
    } catch (e) {
      if (e.message.startsWith('no reply')) cause = 'timed out';
      drop(r);
      fail('SLUICE_ERR_UNREACHABLE', `cannot reach redis at ${where}: ${cause}`);
    }
    try {
      const call = (...args) => within(r.call(...args), this.timeoutMs);
      if (u.password) await (u.user ? call('AUTH', u.user, u.password) : call('AUTH', u.password));
      if (u.db) await call('SELECT', String(u.db));
    } catch (e) {
      drop(r);
      throw fromRedis(e, 'connect');
    }
    return r;
  }

  // ioredis's Cluster, set up as the C library works: each FCALL routed
  // by its first key (numkeys) straight to its slot's master; MOVED and ASK
  // followed, TRYAGAIN and CLUSTERDOWN retried for up to about 0.6 s, and a
  // call sent again only when its reply proves it did not run (never after
  // a broken link: retryDelayOnFailover 0). The Functions are checked on
  // every master.
  async openCluster(startup) {
    const u = this.url;
    let cause = 'connection closed';
    const cluster = new Redis.Cluster(startup, {
      redisOptions: {
        username: u.user || undefined, password: u.password || undefined, connectTimeout: CONNECT_TIMEOUT_MS,
        maxRetriesPerRequest: 0, autoResendUnfulfilledCommands: false, enableReadyCheck: false,
      },
      lazyConnect: true, enableReadyCheck: false, scaleReads: 'master', clusterRetryStrategy: () => null, retryDelayOnFailover: 0,
      maxRedirections: CLUSTER_RETRIES, retryDelayOnTryAgain: CLUSTER_RETRY_MS,
      retryDelayOnClusterDown: CLUSTER_RETRY_MS, slotsRefreshTimeout: this.timeoutMs,
    });
    cluster.on('error', (e) => { cause = e.lastNodeError ? e.lastNodeError.message : e.message; });
    cluster.on('node error', () => {});
    try {
      await within(cluster.connect(), CONNECT_TIMEOUT_MS + this.timeoutMs);
      for (const node of cluster.nodes('master')) { // those that answer: a call to another fails as in C
        await checkFunctions((...args) => within(node.call(...args), this.timeoutMs)).catch((e) => {
          if (e instanceof SluiceError || e instanceof Redis.ReplyError) throw e;
        });
      }
    } catch (e) {
      drop(cluster);
      if (e instanceof SluiceError) throw e;
      if (e instanceof Redis.ReplyError) throw fromRedis(e, 'connect');
      const where = startup.map((a) => `${a.host}:${a.port}`).join(', ');
      fail(AUTH_REFUSALS.some((w) => cause.includes(w)) ? 'SLUICE_ERR_AUTH' : 'SLUICE_ERR_UNREACHABLE',
        `cannot reach the redis cluster at ${where}: ${cause}`);
    }
    return cluster;
  }

  // ioredis's sentinel support: it asks the sentinels (without credentials:
  // the URL's are the data nodes') for the master; its role is checked here
  // with HELLO (ioredis's check needs INFO, which an ACL user may lack).
  // SLUICE_ERR_NOT_FOUND when every sentinel that answers does not know the
  // master's name, _UNREACHABLE when none answers or names a master that
  // answers.
  async openSentinel() {
    const u = this.url;
    let cause = 'connection closed';
    const sentinels = u.sentinels.map(([host, port]) => ({ host, port }));
    const r = new Redis({
      sentinels, name: u.master, role: 'master', username: u.user || undefined, password: u.password || undefined,
      db: u.db, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => null,
      sentinelRetryStrategy: () => null, autoResendUnfulfilledCommands: false, connectTimeout: CONNECT_TIMEOUT_MS,
      enableReadyCheck: false,
    });
    r.on('error', (e) => { cause = e.message; });
    try {
      await within(r.connect(), CONNECT_TIMEOUT_MS + this.timeoutMs);
      const call = (...args) => within(r.call(...args), this.timeoutMs);
      const { role } = await hello(call);
      if (role !== 'master') fail('SLUICE_ERR_UNREACHABLE', `the server the sentinels name as the master is a ${text(role)}`);
      await checkFunctions(call);
      return r;
    } catch (e) {
      drop(r);
      if (e instanceof SluiceError) throw e;
      if (e instanceof Redis.ReplyError || AUTH_REFUSALS.some((w) => cause.includes(w))) {
        throw fromLine(e instanceof Redis.ReplyError ? e.message : cause, 'connect');
      }
    }
    const known = [];
    for (const s of sentinels) {
      const q = new Redis({ ...s, lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0,
        retryStrategy: () => null, connectTimeout: CONNECT_TIMEOUT_MS });
      q.on('error', () => {});
      try {
        await within(q.connect(), CONNECT_TIMEOUT_MS);
        known.push((await within(q.call('SENTINEL', 'GET-MASTER-ADDR-BY-NAME', u.master), this.timeoutMs)) !== null);
      } catch (e) { /* this sentinel does not answer */ }
      drop(q);
    }
    if (known.length && !known.some((k) => k)) fail('SLUICE_ERR_NOT_FOUND', `no sentinel knows a master named '${u.master}'`);
    const where = u.sentinels.map((a) => a.join(':')).join(', ');
    return fail('SLUICE_ERR_UNREACHABLE', `no sentinel at ${where} names a master '${u.master}' that answers: ${cause}`);
  }

  async link() {
    if (!this.redis) await this.open();
    return this.redis;
  }

  // The link broke (or a reply is late): drop it; the next call connects
  // (to a cluster: through any node it had).
  broken() {
    if (this.redis && this.redis.isCluster) {
      this.known = this.redis.nodes().map((n) => ({ host: n.options.host, port: n.options.port }));
    }
    if (this.redis) drop(this.redis);
    this.redis = null;
  }

  async close() {
    this.broken();
  }

  keys(tag, suffixes) {
    return suffixes.map((s) => `${this.namespace}:{${tag}}:${s}`);
  }

  async fcall(fn, tag, suffixes, args, what) {
    const r = await this.link();
    try {
      return await within(r.callBuffer('fcall', fn, String(suffixes.length), ...this.keys(tag, suffixes), ...args),
        this.timeoutMs);
    } catch (e) {
      throw this.error(e, what);
    }
  }

  // The SluiceError for e. A broken link (or a late reply) drops the link,
  // as does a READONLY reply from a master the sentinels named (it was
  // demoted: the call did not run); the next call connects again.
  error(e, what) {
    if (this.url.master && e instanceof Redis.ReplyError && e.message.startsWith('READONLY')) {
      this.broken();
      return new SluiceError('SLUICE_ERR_UNAVAILABLE',
        `${what}: redis is no longer the master (READONLY); the call did not run`);
    }
    if (!(e instanceof Redis.ReplyError)) this.broken();
    return fromRedis(e, what);
  }

  // Enqueues one job; resolves to its id ('<class>:<n>'), or for a unique
  // key a live job holds, that job's id. `options`: delayMs, runAtMs,
  // priority, maxAttempts, timeoutMs, unique, cost, key, startByMs,
  // startWithinMs, replicas, replicasTimeoutMs. Rejects with
  // SLUICE_ERR_NAME, _PAYLOAD, _ARGUMENT, _UNKNOWN_CLASS, _QUEUE_FULL or a
  // connection error; then no job was created. With `replicas` N (0..64),
  // WAIT N follows on the same link for `replicasTimeoutMs` (1..60000,
  // default 1000): fewer replicas confirming it rejects with
  // SLUICE_ERR_NOT_REPLICATED, whose `ids` holds the id of the job, which
  // was created (a failover now may lose it).
  async enqueue(cls, payload, options) {
    return (await this.enqueueMany(cls, [new Job(payload, options)]))[0];
  }

  // Enqueues jobs of one class in one round trip: pipelined calls of up to
  // 1000 jobs, each atomic. An element is a payload (with `options`) or a
  // Job with options of its own. Everything is checked before anything is
  // sent. Resolves to the ids in order. On a failure the error's `ids`
  // holds the ids of the calls before the failing one, which stand. One
  // WAIT follows them all, for the most replicas and the longest timeout any
  // job asks (SLUICE_ERR_NOT_REPLICATED's `ids` then holds every id).
  async enqueueMany(cls, jobs, options) {
    checkName(cls);
    if (!Array.isArray(jobs)) fail('SLUICE_ERR_ARGUMENT', 'enqueue: jobs must be an array');
    let replicas = 0;
    let waitMs = 0;
    const args = jobs.map((job, i) => {
      try {
        const j = job instanceof Job ? job : new Job(job, options);
        const arg = [payloadCheck(j.payload), ...optionArgs(j.options)];
        if (j.options && j.options.replicas) {
          replicas = Math.max(replicas, j.options.replicas);
          waitMs = Math.max(waitMs, j.options.replicasTimeoutMs ?? 0);
        }
        return arg;
      } catch (e) {
        if (jobs.length > 1) e.message = `job ${i}: ${e.message}`;
        e.ids = [];
        throw e;
      }
    });
    if (!args.length) return [];
    const r = await this.link();
    const keys = this.keys(cls, CLASS_KEYS);
    const commands = [];
    for (let b = 0; b < args.length; b += BATCH_MAX) {
      const batch = args.slice(b, b + BATCH_MAX);
      commands.push(['fcall', 'sluice_enqueue', String(keys.length), ...keys, cls, String(batch.length), ...batch.flat()]);
    }
    const pipe = r.pipeline();
    for (const command of commands) pipe.call(...command);
    waitMs = waitMs || WAIT_TIMEOUT_DEFAULT;
    // on the pipeline's link (the class's master): WAIT counts that link's writes
    if (replicas) pipe.call('wait', String(replicas), String(waitMs));
    const ids = [];
    let replies;
    try {
      replies = await within(pipe.exec(), this.timeoutMs + (replicas ? waitMs : 0));
    } catch (e) {
      replies = [[e]];
    }
    const acked = replicas && replies.length > commands.length ? replies.pop() : null;
    for (let i = 0; i < replies.length; i++) {
      let [err, reply] = replies[i];
      if (err instanceof Redis.ReplyError && r.isCluster && DID_NOT_RUN.some((w) => err.message.startsWith(w))) {
        try { // redirected (it did not run): again, alone
          [err, reply] = [null, await within(r.call(...commands[i]), this.timeoutMs)];
        } catch (e) {
          err = e;
        }
      }
      if (err) {
        const e = this.error(err, 'enqueue');
        e.ids = ids;
        throw e;
      }
      ids.push(...reply.map(text));
    }
    if (replicas && (!acked || acked[0] || acked[1] < replicas)) {
      const why = !acked || acked[0] ? `WAIT: ${acked ? fromRedis(acked[0], 'WAIT').message : 'no reply'}`
        : `${acked[1]} acknowledged within ${waitMs} ms`;
      const e = new SluiceError('SLUICE_ERR_NOT_REPLICATED', `enqueue: done, but not confirmed on ${replicas} replicas: ${why}`);
      e.ids = ids;
      throw e;
    }
    return ids;
  }

  // Looks a job up by id: {id, state, attempt, maxAttempts, priority, cost,
  // enqueuedAt, at, now, reclaims, ahead, reason, payload, unique, startBy, key}; state
  // 'unknown' for a job that is gone or never was. Times are Unix ms by the
  // Redis clock; at: due (delayed), lease deadline (leased), ended (dead,
  // done); ahead: ready jobs before it (ready only, else -1); startBy: its
  // deadline for its first start while it waits, else 0; key: its fairness
  // key, '' for none.
  async job(id) {
    const cls = classOfId(id);
    const r = await this.fcall('sluice_job', cls, CLASS_KEYS, [cls, id, '1'], 'job lookup');
    if (r.length === 1) return { id, state: 'unknown', ahead: -1 };
    if (r.length !== 15) fail('SLUICE_ERR_PROTOCOL', 'job lookup: unexpected reply');
    const n = [1, 2, 3, 4, 5, 6, 7, 10, 11, 13].map((i) => int(text(r[i])));
    return { id, state: text(r[0]), attempt: n[0], maxAttempts: n[1], priority: n[2], cost: n[3],
      enqueuedAt: n[4], at: n[5], reclaims: n[6], ahead: n[7], now: n[8], reason: text(r[8]),
      payload: text(r[9]), unique: text(r[12]), startBy: n[9], key: text(r[14]) };
  }

  // Cancels a waiting (ready or delayed) job, audited under `actor`.
  // Rejects with SLUICE_ERR_NOT_FOUND, _BUSY (leased) or _STATE.
  async cancel(id, actor = 'sluice-node') {
    const cls = classOfId(id);
    await this.fcall('sluice_cancel', cls, CLASS_KEYS, [cls, id, actor], 'cancel');
  }

  // A class's depths (ready, delayed, leased, dead) and its counters since
  // it was declared (STAT_FIELDS).
  async stats(cls) {
    checkName(cls);
    const r = await this.fcall('sluice_stats', cls, CLASS_KEYS, [cls], 'stats');
    if (r.length !== 4 + 2 * STAT_FIELDS.length) fail('SLUICE_ERR_PROTOCOL', 'stats: unexpected reply');
    const out = { ready: int(r[0]), delayed: int(r[1]), leased: int(r[2]), dead: int(r[3]) };
    STAT_FIELDS.forEach((f, i) => { out[f] = int(r[5 + 2 * i]); });
    return out;
  }

  // Reports a signal's value, observed `ageMs` ago (0..86400000); resolves
  // to the observation time, Unix ms by the Redis clock. Rejects with
  // SLUICE_ERR_NOT_FOUND for an undefined signal, _ARGUMENT for a value
  // that is not a finite number.
  async reportSignal(name, value, { ageMs = 0 } = {}) {
    checkName(name);
    if (typeof value !== 'number' || !Number.isFinite(value)) {
      fail('SLUICE_ERR_ARGUMENT', 'signal report: value must be a finite number');
    }
    if (!Number.isSafeInteger(ageMs) || ageMs < 0 || ageMs > 86400000) {
      fail('SLUICE_ERR_ARGUMENT', 'signal report: age must be 0..86400000 ms');
    }
    return int(await this.fcall('sluice_signal_report', '_', SIGNAL_KEYS, [name, String(value), String(ageMs)],
      'signal report'));
  }
}

// Resolves to a NEW connected Client: `url` empty takes SLUICE_REDIS_URL,
// else redis://127.0.0.1:6379; `namespace` empty takes SLUICE_NAMESPACE,
// else 'sluice'; `timeoutMs` is per command. Checks the Functions
// library's version: SLUICE_ERR_PROTOCOL when Redis holds none, an older or
// a newer one. Rejects with SLUICE_ERR_URL, _UNREACHABLE, _AUTH, _SERVER.
async function connect({ url, namespace, timeoutMs = 5000 } = {}) {
  const c = new Client(url, namespace, timeoutMs);
  await c.open();
  return c;
}

module.exports = { connect, parseUrl, payloadCheck, Job, SluiceError, ERRORS, FUNCTIONS_VERSION, STAT_FIELDS };
