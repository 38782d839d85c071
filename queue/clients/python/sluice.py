"""sluice producer for Python 3 (Debian's python3-redis).

Enqueues jobs, looks them up, cancels them, reads a class's counters and
reports signal values, through the Redis Functions of sluice (their
contract: queue/lua/*.lua). Checks what it sends exactly as the C library
does, and raises the C library's errors as exceptions: each carries
``code`` (e.g. ``"SLUICE_ERR_QUEUE_FULL"``) and ``word`` (``"queue full"``).

    import sluice
    with sluice.connect() as c:          # SLUICE_REDIS_URL, SLUICE_NAMESPACE
        c.enqueue("certificates", {"user": 42}, unique="cert-42")

A client is one connection (on a Redis Cluster, one per master); it is not
thread-safe (use one per thread). The URL may be of any node of a Redis
Cluster, or redis-sentinel:// (see parse_url).
"""

import json
import math
import os
import re
import time
from dataclasses import dataclass
from urllib.parse import unquote_to_bytes

import redis
import redis.sentinel

FUNCTIONS_VERSION = 10           # the Functions library this client speaks (queue/lua/common.lua)
DEFAULT_URL = "redis://127.0.0.1:6379"
DEFAULT_NAMESPACE = "sluice"
BATCH_MAX = 1000                 # jobs per Function call
PAYLOAD_HARD_MAX = 262144        # bytes
PAYLOAD_MAX_DEPTH = 32
SENTINELS_MAX = 16
CLASS_KEYS = ("class", "gate", "ready", "delayed", "leased", "dead", "jobs", "meta", "unique",
              "stats", "done", "audit", "bucket", "deadlines", "parked")
SIGNAL_KEYS = ("signals", "signal-values", "audit")
STAT_FIELDS = ("enqueued", "claimed", "acked", "failed", "retried", "died", "reclaimed", "released",
               "cancelled", "throttled", "dead_dropped", "purged", "late", "expired")

_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}\Z")
_NAMESPACE = re.compile(r"[A-Za-z0-9_.:-]{1,64}\Z")
_ID = re.compile(r"([a-z0-9][a-z0-9_.-]{0,63}):([0-9]{1,20})\Z")
_INT64 = (-(1 << 63), (1 << 63) - 1)

# --------------------------------- errors ---------------------------------


class SluiceError(Exception):
    """A sluice error: ``code`` and ``word`` as the C library's
    (include/sluice/error.h, sluice_error_name); the message names the problem."""

    code = "SLUICE_ERR_SERVER"
    word = "server error"


def _error(name, code, word):
    return type(name, (SluiceError,), {"code": code, "word": word, "__module__": __name__})


UnreachableError = _error("UnreachableError", "SLUICE_ERR_UNREACHABLE", "unreachable")
AuthError = _error("AuthError", "SLUICE_ERR_AUTH", "authentication failed")
UrlError = _error("UrlError", "SLUICE_ERR_URL", "bad url")
InvalidNameError = _error("InvalidNameError", "SLUICE_ERR_NAME", "invalid name")
InvalidPayloadError = _error("InvalidPayloadError", "SLUICE_ERR_PAYLOAD", "invalid payload")
InvalidArgumentError = _error("InvalidArgumentError", "SLUICE_ERR_ARGUMENT", "invalid argument")
UnknownClassError = _error("UnknownClassError", "SLUICE_ERR_UNKNOWN_CLASS", "unknown class")
QueueFullError = _error("QueueFullError", "SLUICE_ERR_QUEUE_FULL", "queue full")
StaleTokenError = _error("StaleTokenError", "SLUICE_ERR_STALE", "stale token")
NotFoundError = _error("NotFoundError", "SLUICE_ERR_NOT_FOUND", "not found")
BusyError = _error("BusyError", "SLUICE_ERR_BUSY", "busy")
WrongStateError = _error("WrongStateError", "SLUICE_ERR_STATE", "wrong state")
ServerError = _error("ServerError", "SLUICE_ERR_SERVER", "server error")
ProtocolError = _error("ProtocolError", "SLUICE_ERR_PROTOCOL", "protocol error")
OutOfMemoryError = _error("OutOfMemoryError", "SLUICE_ERR_NOMEM", "out of memory")
UnavailableError = _error("UnavailableError", "SLUICE_ERR_UNAVAILABLE", "unavailable")
NotReplicatedError = _error("NotReplicatedError", "SLUICE_ERR_NOT_REPLICATED", "not replicated")

# In the order of the C enum.
ERRORS = (UnreachableError, AuthError, UrlError, InvalidNameError, InvalidPayloadError, InvalidArgumentError,
          UnknownClassError, QueueFullError, StaleTokenError, NotFoundError, BusyError, WrongStateError,
          ServerError, ProtocolError, OutOfMemoryError, UnavailableError, NotReplicatedError)

# The Functions' error words (queue/lua/common.lua).
_DOMAIN = {"NOCLASS": UnknownClassError, "BADNAME": InvalidNameError, "BADARG": InvalidArgumentError,
           "PAYLOAD": InvalidPayloadError, "FULL": QueueFullError, "STALE": StaleTokenError,
           "NOTFOUND": NotFoundError, "BUSY": BusyError, "STATE": WrongStateError}
_AUTH_REFUSALS = ("WRONGPASS", "NOAUTH", "ERR invalid password", "ERR AUTH")
_TRANSIENT = ("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN", "MOVED", "ASK")
_ACL_IN_SCRIPT = "ERR The user executing the script can't"


def _word_at(line, word):
    return line == word or line.startswith(word + " ")


def _from_line(line, what):
    """The error for a Redis error reply ``line``, as the C library maps it."""
    trailer = line.find(" script:")
    body = line[:trailer] if trailer >= 0 else line
    if line.startswith(_AUTH_REFUSALS):
        return AuthError(f"{what}: authentication failed (check the user and password)")
    if trailer < 0:
        for word in _TRANSIENT:
            if _word_at(body, word):
                return UnavailableError(f"{what}: redis cannot serve now (retry later): {body[:160]}")
    for word, cls in _DOMAIN.items():
        if _word_at(body, word):
            return cls(f"{what}: {body[len(word) + 1:] or word}")
    if line.startswith(_ACL_IN_SCRIPT):
        return ServerError(f"{what}: redis: NOPERM (ACL) {body[4:184]}")
    return ServerError(f"{what}: redis: {body[:200]}")


class _Parser(redis.connection.PythonParser):
    """Keeps an error reply whole ("ERR ...", "FULL ..."): redis-py's own
    parser strips some codes, which the mapping above needs."""

    def parse_error(self, response):
        return redis.exceptions.ResponseError(response)


def _from_redis(e, what):
    """The SluiceError for an exception of redis-py."""
    if isinstance(e, redis.exceptions.AuthenticationError):
        return AuthError(f"{what}: authentication failed (check the user and password)")
    if isinstance(e, (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError)):
        return UnreachableError(f"{what}: lost the link to redis: {e}")
    return _from_line(str(e), what)


# --------------------------------- checks ---------------------------------


def _name(name):
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidNameError("invalid name: must match ^[a-z0-9][a-z0-9_.-]{0,63}$")
    return name


def _job_id(job_id):
    m = _ID.match(job_id) if isinstance(job_id, str) else None
    if not m:
        raise InvalidArgumentError("invalid job id: expected <class>:<number>")
    return m.group(1)


def _is_int(v):
    return isinstance(v, int) and not isinstance(v, bool)


def _walk(value):
    """Raises InvalidPayloadError for a decoded payload nested too deep, or
    holding a NUL or a lone surrogate in a string."""
    stack = [(value, 1)]
    while stack:
        v, depth = stack.pop()
        if isinstance(v, (dict, list)):
            if depth > PAYLOAD_MAX_DEPTH:
                raise InvalidPayloadError(f"invalid payload: nested deeper than {PAYLOAD_MAX_DEPTH}")
            items = v.items() if isinstance(v, dict) else enumerate(v)
            for k, x in items:
                if isinstance(k, str):
                    stack.append((k, depth + 1))
                stack.append((x, depth + 1))
        elif isinstance(v, str):
            if "\0" in v:
                raise InvalidPayloadError("invalid payload: contains a NUL byte")
            try:
                v.encode("utf-8")
            except UnicodeEncodeError:
                raise InvalidPayloadError("invalid payload: not JSON (a lone surrogate escape)") from None


def _strict_int(s):
    n = int(s)
    if not _INT64[0] <= n <= _INT64[1]:
        raise ValueError("too big integer")
    return n


def _strict_float(s):
    f = float(s)
    if math.isinf(f):
        raise ValueError("real number overflow")
    return f


def _no_constant(s):
    raise ValueError(f"{s} is not JSON")


def payload_check(payload):
    """The payload as the bytes enqueue sends: ``bytes`` or ``str`` are JSON
    text, sent as they are; anything else is encoded (compact). Checked as
    the C library's sluice_payload_check does: a JSON object, at most 256 KiB,
    nested at most 32 deep, valid UTF-8, no NUL, no NaN or Infinity, integers
    within 64 bits. Raises InvalidPayloadError."""
    if isinstance(payload, (bytes, bytearray, memoryview)):
        raw = bytes(payload)
    elif isinstance(payload, str):
        try:
            raw = payload.encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidPayloadError("invalid payload: not valid UTF-8 (a lone surrogate)") from None
    elif isinstance(payload, dict):
        try:
            raw = json.dumps(payload, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        except (TypeError, ValueError, RecursionError, UnicodeEncodeError) as e:
            raise InvalidPayloadError(f"invalid payload: cannot be encoded as JSON ({str(e)[:100]})") from None
    else:
        raise InvalidPayloadError("invalid payload: not a JSON object")
    if len(raw) > PAYLOAD_HARD_MAX:
        raise InvalidPayloadError(f"invalid payload: {len(raw)} bytes is over the {PAYLOAD_HARD_MAX}-byte cap")
    if b"\0" in raw:
        raise InvalidPayloadError("invalid payload: contains a NUL byte")
    try:
        text = raw.decode("utf-8")
        value = json.loads(text, parse_int=_strict_int, parse_float=_strict_float, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise InvalidPayloadError("invalid payload: not JSON (not valid UTF-8)") from None
    except RecursionError:
        raise InvalidPayloadError(f"invalid payload: nested deeper than {PAYLOAD_MAX_DEPTH}") from None
    except ValueError as e:
        raise InvalidPayloadError(f"invalid payload: not JSON ({str(e)[:100]})") from None
    if not isinstance(value, dict):
        raise InvalidPayloadError("invalid payload: not a JSON object")
    _walk(value)
    return raw


# name, lowest, highest, in the C library's order (opts_check); the unique
# key's range is of its length in UTF-8 bytes
_OPTIONS = (("delay_ms", 0, 3153600000000),
            ("run_at_ms", 0, 253402300799000),
            ("priority", -1000, 1000),
            ("max_attempts", 0, 1000),
            ("timeout_ms", 0, 604800000),
            ("unique", 0, 256),
            ("cost", 0, 1000000))
# the start_by options, sent after the fairness key, in the same way
_START_OPTIONS = (("start_by_ms", 0, 253402300799000),
                  ("start_within_ms", 0, 253402300799000))
# the WAIT after the enqueue, checked with the others, never sent to the Function
_WAIT_OPTIONS = (("replicas", 0, 64),
                 ("replicas_timeout_ms", 0, 60000))
_WAIT_TIMEOUT_DEFAULT = 1000  # ms


def _out_of_range(what, lo, hi):
    return InvalidArgumentError(f"invalid option: {what} must be in {lo}..{hi}")


def _fairness_key(v):
    """The fairness key argument, checked as the C library checks it: None or
    "" for none, else 1..128 bytes of UTF-8 text without a control byte."""
    if v is None or v == "":
        return ""
    try:
        size = len(v.encode("utf-8")) if isinstance(v, str) else None
    except UnicodeEncodeError:
        size = None
    if size is None:
        raise InvalidArgumentError("invalid option: fairness key: must be UTF-8 text")
    if size > 128:
        raise InvalidArgumentError("invalid option: fairness key: must be 1..128 bytes")
    if re.search(r"[\x00-\x1f\x7f]", v):
        raise InvalidArgumentError("invalid option: fairness key: contains a control byte")
    return v


def _options(opts):
    """The ten Function arguments after the payload, checked as the C
    library checks them: each range in order, then delay_ms against
    run_at_ms, then the fairness key, then start_by_ms against
    start_within_ms. None is the default."""
    out = []
    for name, lo, hi in _OPTIONS + _START_OPTIONS + _WAIT_OPTIONS:
        v = opts.get(name)
        if name == "unique":
            if v is None:
                v = ""
            try:
                size = len(v.encode("utf-8")) if isinstance(v, str) and "\0" not in v else None
            except UnicodeEncodeError:
                size = None
            if size is None:
                raise InvalidArgumentError("invalid option: the unique key must be UTF-8 text without NUL")
            if size > hi:
                raise _out_of_range("the unique key's length", lo, hi)
            out.append(v)
            continue
        if v is None:
            v = 0
        if not _is_int(v) or not lo <= v <= hi:
            raise _out_of_range(name, lo, hi)
        out.append(str(v))
    del out[-len(_WAIT_OPTIONS):]
    if out[0] != "0" and out[1] != "0":
        raise InvalidArgumentError("invalid option: delay_ms and run_at_ms are exclusive")
    if out[-2] != "0" and out[-1] != "0":
        raise InvalidArgumentError("invalid option: start_by_ms and start_within_ms are exclusive")
    return out[:len(_OPTIONS)] + [_fairness_key(opts.get("key"))] + out[len(_OPTIONS):]


class Job:
    """A payload with options of its own, for enqueue_many."""

    __slots__ = ("payload", "opts")

    def __init__(self, payload, *, delay_ms=None, run_at_ms=None, priority=None, max_attempts=None,
                 timeout_ms=None, unique=None, cost=None, key=None, start_by_ms=None, start_within_ms=None,
                 replicas=None, replicas_timeout_ms=None):
        self.payload = payload
        self.opts = {"delay_ms": delay_ms, "run_at_ms": run_at_ms, "priority": priority,
                     "max_attempts": max_attempts, "timeout_ms": timeout_ms, "unique": unique, "cost": cost,
                     "key": key, "start_by_ms": start_by_ms, "start_within_ms": start_within_ms,
                     "replicas": replicas, "replicas_timeout_ms": replicas_timeout_ms}


# ---------------------------------- URLs -----------------------------------


def _decode(s, what, size):
    """Percent-decodes a user name or password (at most size - 1 bytes)."""
    if re.search(r"%(?![0-9A-Fa-f]{2})", s) or "%00" in s:
        raise UrlError(f"bad url: malformed {what}")
    raw = unquote_to_bytes(s)
    try:
        if len(raw) >= size:
            raise UnicodeDecodeError("utf-8", raw, 0, 1, "too long")
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise UrlError(f"bad url: malformed {what}") from None


def _userinfo(s, u):
    slash = s.find("/")
    head = s if slash < 0 else s[:slash]
    at = head.rfind("@")
    if at < 0:
        return s
    user, colon, password = head[:at].partition(":")
    u["user"] = _decode(user, "user name", 256)
    if colon:
        u["password"] = _decode(password, "password", 512)
    else:    # redis://secret@host: a lone word is the password
        u["password"], u["user"] = u["user"], ""
    return s[at + 1:]


def _db(s, what):
    if not re.fullmatch(r"[0-9]{1,10}", s) or int(s) > 100000:
        raise UrlError(f"bad url: {what}")
    return int(s)


def _query(q, allowed):
    name = re.split(r"[=&]", q[1:], maxsplit=1)[0][:32]
    raise UrlError(f"bad url: unknown query parameter '{name}' ({allowed})")


def _address(hostport, default_port):
    """host[:port] or [v6]:port as (host, port), checked as the C library's."""
    port = None
    if hostport.startswith("["):
        close = hostport.find("]")
        if close < 0:
            raise UrlError("bad url: unclosed [ in host")
        host, rest = hostport[1:close], hostport[close + 1:]
        if rest.startswith(":"):
            port = rest[1:]
        elif rest:
            raise UrlError("bad url: junk after ]")
    else:
        host, colon, port = hostport.partition(":")
        port = port if colon else None
    if not host or len(host) >= 256:
        raise UrlError("bad url: missing or overlong host")
    if not re.fullmatch(r"[A-Za-z0-9.:_-]+", host):
        raise UrlError("bad url: invalid character in host")
    if port is None:
        return host, default_port
    if not re.fullmatch(r"[0-9]{1,10}", port) or not 1 <= int(port) <= 65535:
        raise UrlError("bad url: port must be 1..65535")
    return host, int(port)


def _sentinel(s, u):
    """redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N] after the scheme."""
    s = _userinfo(s, u)
    addresses, slash, rest = s.partition("/")
    listed = addresses.split(",")
    for i, a in enumerate(listed):
        if not a:
            raise UrlError("bad url: " + ("empty sentinel address after a comma" if 0 < i == len(listed) - 1
                                          else "redis-sentinel:// needs host:port of each sentinel, "
                                               "separated by commas"))
        if len(u["sentinels"]) == SENTINELS_MAX:
            raise UrlError(f"bad url: more than {SENTINELS_MAX} sentinels")
        u["sentinels"].append(list(_address(a, 26379)))
    master, q, query = rest.partition("?")
    if not 1 <= len(master) <= 64:
        raise UrlError("bad url: redis-sentinel:// needs the master's name after the sentinels: /NAME, "
                       "1..64 characters")
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", master):
        raise UrlError("bad url: the master's name may hold only [A-Za-z0-9_.-]")
    u["master"] = master
    if q:
        if not query.startswith("db="):
            _query("?" + query, "the only query is ?db=N")
        u["db"] = _db(query[3:], "?db= must be a number")
    return u


def parse_url(url=None):
    """A connection URL as a dict (unix, host, port, path, user, password,
    db, sentinels, master), parsed as the C library's sluice_url_parse:
    redis://[user:password@]host[:port][/db], unix://[user:password@]/path[?db=N]
    or redis-sentinel://[user:password@]host[:port][,...]/MASTER[?db=N]
    (sentinels: [host, port] of each, port 26379 by default; host and port
    unset). None or "" takes SLUICE_REDIS_URL, else redis://127.0.0.1:6379.
    Raises UrlError (never quoting the password)."""
    url = url or os.environ.get("SLUICE_REDIS_URL") or DEFAULT_URL
    u = {"unix": False, "host": "", "port": 0, "path": "", "user": "", "password": "", "db": 0, "sentinels": [],
         "master": ""}
    if not isinstance(url, str) or len(url) > 2048:
        raise UrlError("bad url: too long" if isinstance(url, str) else "bad url: not a string")
    if re.search(r"[\x00-\x20\x7f]", url):
        raise UrlError("bad url: contains a space or control character")
    if url.startswith("unix://"):
        s = _userinfo(url[7:], u)
        if not s.startswith("/"):
            raise UrlError("bad url: unix:// needs an absolute socket path")
        path, q, query = s.partition("?")
        if len(path.encode("utf-8")) >= 108:
            raise UrlError("bad url: socket path is too long")
        if q:
            if not query.startswith("db="):
                _query("?" + query, "the only query is ?db=N")
            u["db"] = _db(query[3:], "?db= must be a number")
        u["unix"], u["path"] = True, path
        return u
    if url.startswith("redis-sentinel://"):
        return _sentinel(url[17:], u)
    if not url.startswith("redis://"):
        raise UrlError("bad url: scheme must be redis:// or unix:// (or redis-sentinel://)")
    s = _userinfo(url[8:], u)
    if "?" in s:
        _query(s[s.index("?"):], "redis:// takes none: the database goes in the path, redis://host:port/N")
    hostport, slash, db = s.partition("/")
    u["host"], u["port"] = _address(hostport, 6379)
    if db:
        u["db"] = _db(db, "database must be a number")
    return u


# --------------------------------- results ---------------------------------


@dataclass
class JobInfo:
    """What a lookup tells about a job; times are Unix ms by the Redis clock.
    state: unknown (done and gone, or never), delayed, ready, leased, dead or done."""

    id: str
    state: str
    attempt: int = 0
    max_attempts: int = 0
    priority: int = 0
    cost: int = 0
    enqueued_at: int = 0
    at: int = 0          # due (delayed), lease deadline (leased), ended (dead, done)
    now: int = 0
    reclaims: int = 0
    ahead: int = -1      # ready jobs before it (ready only)
    reason: str = ""
    payload: str = ""
    unique: str = ""
    start_by: int = 0    # its deadline for its first start, while it waits; 0: none
    key: str = ""        # its fairness key; "" for none


@dataclass
class ClassStats:
    """A class's depths and its counters since it was declared."""

    ready: int
    delayed: int
    leased: int
    dead: int
    enqueued: int
    claimed: int
    acked: int
    failed: int
    retried: int
    died: int
    reclaimed: int
    released: int
    cancelled: int
    throttled: int
    dead_dropped: int
    purged: int
    late: int            # first starts after their start_by
    expired: int         # jobs dead-lettered past their start_by


def _text(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else str(b)


def _int(v):
    if isinstance(v, bytes):
        v = v.decode("ascii", "replace")
    try:
        return int(v)
    except (TypeError, ValueError):
        raise ProtocolError("unexpected reply (version skew?)") from None


# --------------------------------- client ----------------------------------


def _check_functions(link, where):
    """Raises ProtocolError unless the Redis behind link holds the
    Functions this client speaks (or the error of the link)."""
    try:
        version = link.execute_command("FCALL_RO", "sluice_version", "0")
    except redis.exceptions.ResponseError as e:
        if not str(e).startswith("ERR Function not found"):
            raise _from_redis(e, "checking the sluice Functions") from None
        version = None
    except redis.exceptions.RedisError as e:
        raise _connect_error(e, where) from None
    if version != FUNCTIONS_VERSION:
        raise ProtocolError(_skew(version))


def _connect_error(e, where):
    """The SluiceError for an exception of redis-py on connect to where."""
    err = _from_redis(e, "connect")
    return UnreachableError(f"cannot reach redis at {where}: {e}") if isinstance(err, UnreachableError) else err


def _hello(link):
    """The server's HELLO 2 fields (mode, role...): every ACL user may ask,
    where INFO may be refused."""
    r = link.execute_command("HELLO", "2")
    r = r if isinstance(r, list) else [x for kv in r.items() for x in kv]
    return {_text(r[i]): _text(r[i + 1]) for i in range(0, len(r) - 1, 2) if isinstance(r[i + 1], (bytes, str, int))}


def _link(host, port, common):
    """A NEW link to host:port (it connects on its first command)."""
    return redis.Redis(connection_pool=redis.ConnectionPool(host=host, port=port, socket_connect_timeout=2.0,
                                                            **common))


def _checked_link(host, port, common):
    """A NEW link to host:port, its Functions checked."""
    link = _link(host, port, common)
    try:
        _check_functions(link, f"{host}:{port}")
    except SluiceError:
        link.connection_pool.disconnect()
        raise
    return link


def _sentinel_master(u, timeout, common):
    """A link to the master that the sentinels of u name (redis-py's
    Sentinel: each new connection asks them again), its role checked with
    HELLO. The sentinels are asked without credentials: the URL's are the
    data nodes'. Raises NotFoundError
    when every sentinel that answers does not know the master's name,
    UnreachableError when none answers or names a master that answers."""
    sentinels = redis.sentinel.Sentinel([tuple(a) for a in u["sentinels"]], socket_timeout=timeout,
                                        sentinel_kwargs={"socket_timeout": timeout, "socket_connect_timeout": 2.0})
    link = sentinels.master_for(u["master"], socket_connect_timeout=2.0, **common)
    try:
        link.connection_pool.get_master_address()
    except redis.sentinel.MasterNotFoundError:
        known = []
        for s in sentinels.sentinels:
            try:
                known.append(s.execute_command("SENTINEL", "GET-MASTER-ADDR-BY-NAME", u["master"]) is not None)
            except redis.exceptions.RedisError:
                pass
        if known and not any(known):
            raise NotFoundError(f"no sentinel knows a master named {u['master']!r}") from None
        where = ", ".join(f"{h}:{p}" for h, p in u["sentinels"])
        raise UnreachableError(f"no sentinel at {where} names a master {u['master']!r} that answers") from None
    try:
        role = _hello(link).get("role")
    except redis.exceptions.RedisError as e:
        link.connection_pool.disconnect()
        raise _connect_error(e, f"the master {u['master']!r}") from None
    if role != "master":
        link.connection_pool.disconnect()
        raise UnreachableError(f"the server the sentinels name as the master {u['master']!r} is a {role}")
    return link


class _Cluster:
    """The masters of a Redis Cluster, used as the C library uses them: the
    slot map from CLUSTER SLOTS, one link per master opened on first use
    (by ``open``, which checks its Functions), each call sent straight to
    its slot's master; MOVED and ASK followed, TRYAGAIN and CLUSTERDOWN
    retried for up to about 0.6 s. A call is sent again only when its reply
    proves it did not run. (redis-py's RedisCluster asks the server for
    FCALL's keys on every call and resends a call whose link broke.)"""

    RETRY_S = 0.6
    DID_NOT_RUN = ("MOVED ", "ASK ", "TRYAGAIN", "CLUSTERDOWN")   # error replies that prove it
    REDIRECTS_MAX = 16             # MOVED and ASK in a row

    def __init__(self, seed, addr, open_link, plain_link):
        self._seed = (addr, seed)       # the URL's node (any node: it may be a replica)
        self._open = open_link          # (host, port) -> a NEW redis.Redis, its Functions checked
        self._plain = plain_link        # (host, port) -> a NEW redis.Redis, nothing checked
        self._links = {}                # (host, port) of a master -> its link
        self._nodes = []                # (host, port) of every node of the last map, masters and replicas
        self._slots = None
        self._load()

    def _load(self):
        """Reads the slot map from the first node that answers: a master it
        has a link to, the URL's node, then any other node of the last map
        (through a link of its own, closed after), so that a URL's node or
        a master that died is not needed again."""
        last, tried = None, set()
        for addr, link in [*self._links.items(), self._seed]:
            tried.add(addr)
            try:
                return self._read_map(link, addr[0])
            except redis.exceptions.ConnectionError as e:
                last = e
        for addr in [a for a in self._nodes if a not in tried]:
            link = self._plain(*addr)
            try:
                return self._read_map(link, addr[0])
            except redis.exceptions.ConnectionError as e:
                last = e
            finally:
                link.connection_pool.disconnect()
        raise last

    def _read_map(self, link, host):
        """The slot map and the nodes from CLUSTER SLOTS on link (of a node
        on host, for an entry without a host)."""
        slots, nodes = [None] * 16384, []
        for r in link.execute_command("CLUSTER", "SLOTS"):
            addrs = [(_text(n[0]) or host, int(n[1])) for n in r[2:]]
            slots[int(r[0]):int(r[1]) + 1] = [addrs[0]] * (int(r[1]) - int(r[0]) + 1)
            nodes.extend(a for a in addrs if a not in nodes)
        self._slots, self._nodes = slots, nodes

    def lost(self):
        """A link broke: the next call reads the slot map again."""
        self._slots = None

    def link(self, addr):
        if addr not in self._links:
            self._links[addr] = self._open(*addr)
        return self._links[addr]

    def master(self, tag):
        """The address of the master of the slot of keys tagged {tag}."""
        if self._slots is None:
            self._load()
        return self._slots[redis.crc.key_slot(tag.encode("utf-8"))]

    def call(self, tag, args):
        """The reply of ``args`` from the master of tag's slot."""
        deadline, addr, asking, hops = time.monotonic() + self.RETRY_S, self.master(tag), False, 0
        while True:
            try:
                if not asking:
                    return self.link(addr).execute_command(*args)
                pipe = self.link(addr).pipeline(transaction=False)
                replies = pipe.execute_command("ASKING").execute_command(*args).execute(raise_on_error=False)
                for reply in replies:       # raised as they are (execute's own raise rewords them)
                    if isinstance(reply, Exception):
                        raise reply
                return replies[1]
            except redis.exceptions.ResponseError as e:
                hops = hops + 1 if str(e).startswith(("MOVED ", "ASK ")) else 0
                redo = self.again(tag, str(e), deadline) if hops <= self.REDIRECTS_MAX else None
                if redo is None:
                    raise
                addr, asking = redo
            except redis.exceptions.ConnectionError:
                self.lost()
                raise

    def again(self, tag, line, deadline):
        """Where to send again a call whose error reply ``line`` proves it
        did not run: (address, asking), or None."""
        word, _, rest = line.partition(" ")
        if word in ("MOVED", "ASK"):
            host, _, port = rest.partition(" ")[2].rpartition(":")
            addr = (host or self.master(tag)[0], int(port))
            if word == "MOVED":
                self._slots[redis.crc.key_slot(tag.encode("utf-8"))] = addr
            return addr, word == "ASK"
        if word in ("TRYAGAIN", "CLUSTERDOWN") and time.monotonic() < deadline:
            time.sleep(0.05)
            if word == "CLUSTERDOWN":
                self._load()
            return self.master(tag), False
        return None

    def close(self):
        for link in [self._seed[1], *self._links.values()]:
            link.connection_pool.disconnect()


class Client:
    """A connection to the Redis that holds sluice's queues (a plain server,
    a Redis Cluster of which the URL names any node, or the master that the
    sentinels of a redis-sentinel:// URL name). Make one with connect();
    close it with close() or a with-block."""

    def __init__(self, url=None, namespace=None, timeout=5.0):
        u = parse_url(url)
        ns = namespace or os.environ.get("SLUICE_NAMESPACE") or DEFAULT_NAMESPACE
        if not isinstance(ns, str) or not _NAMESPACE.match(ns):
            raise InvalidArgumentError("namespace must be 1..64 of [A-Za-z0-9_.:-]")
        self.namespace = ns
        self._timeout = timeout
        self._cluster = None
        self._sentinel = u["master"]
        common = {"db": u["db"], "username": u["user"] or None, "password": u["password"] or None,
                  "socket_timeout": timeout, "parser_class": _Parser}
        if u["master"]:
            self._redis = _sentinel_master(u, timeout, common)
            where = f"the master {u['master']!r}"
        elif u["unix"]:
            where = f"unix:{u['path']}"
            self._redis = redis.Redis(connection_pool=redis.ConnectionPool(
                connection_class=redis.UnixDomainSocketConnection, path=u["path"], **common))
        else:
            where = f"{u['host']}:{u['port']}"
            self._redis = _link(u["host"], u["port"], common)
            try:
                if _hello(self._redis).get("mode") == "cluster":
                    self._cluster = _Cluster(self._redis, (u["host"], u["port"]),
                                             lambda h, p: _checked_link(h, p, common),
                                             lambda h, p: _link(h, p, common))
                    return
            except redis.exceptions.RedisError as e:
                self.close()
                raise _connect_error(e, where) from None
        try:
            _check_functions(self._redis, where)
        except SluiceError:
            self.close()
            raise

    def close(self):
        if self._cluster:
            self._cluster.close()
        else:
            self._redis.connection_pool.disconnect()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _keys(self, tag, suffixes):
        return [f"{self.namespace}:{{{tag}}}:{s}" for s in suffixes]

    def _fcall(self, fn, tag, suffixes, args, what):
        command = ("FCALL", fn, len(suffixes), *self._keys(tag, suffixes), *args)
        try:
            return self._cluster.call(tag, command) if self._cluster else self._redis.execute_command(*command)
        except redis.exceptions.RedisError as e:
            raise self._error(e, what) from None

    def _error(self, e, what):
        """The SluiceError for e; a READONLY reply from a master the
        sentinels named (it was demoted: the call did not run) drops the
        link, so the next call asks the sentinels again."""
        if self._sentinel and str(e).startswith("READONLY"):
            self._redis.connection_pool.disconnect()
            return UnavailableError(f"{what}: redis is no longer the master (READONLY); the call did not run")
        if self._cluster and isinstance(e, redis.exceptions.ConnectionError):
            self._cluster.lost()
        return _from_redis(e, what)

    def enqueue(self, cls, payload, *, delay_ms=None, run_at_ms=None, priority=None, max_attempts=None,
                timeout_ms=None, unique=None, cost=None, key=None, start_by_ms=None, start_within_ms=None,
                replicas=None, replicas_timeout_ms=None):
        """Enqueues one job; returns its id ("<class>:<n>"), or for a unique
        key a live job holds, that job's id. Raises InvalidNameError,
        InvalidPayloadError, InvalidArgumentError, UnknownClassError,
        QueueFullError or a connection error; then no job was created.

        With ``replicas`` N (0..64), WAIT N follows on the same connection
        for ``replicas_timeout_ms`` (1..60000, default 1000; below the
        client's timeout): fewer replicas
        confirming it raises NotReplicatedError, whose ``ids`` holds the id
        of the job, which was created (a failover now may lose it)."""
        return self.enqueue_many(cls, [Job(payload, delay_ms=delay_ms, run_at_ms=run_at_ms, priority=priority,
                                           max_attempts=max_attempts, timeout_ms=timeout_ms, unique=unique,
                                           cost=cost, key=key, start_by_ms=start_by_ms,
                                           start_within_ms=start_within_ms, replicas=replicas,
                                           replicas_timeout_ms=replicas_timeout_ms)])[0]

    def enqueue_many(self, cls, jobs, **opts):
        """Enqueues a list of jobs of one class in one round trip: pipelined
        calls of up to 1000 jobs, each atomic. An element is a payload (with
        ``opts``, the keywords of enqueue) or a Job with options of its own.
        Everything is checked before anything is sent. Returns the ids in
        order. On a failure the exception's ``ids`` holds the ids of the
        calls before the failing one, which stand. One WAIT follows all of
        them, for the most replicas and the longest timeout any job asks
        (NotReplicatedError's ``ids`` then holds every id)."""
        _name(cls)
        defaults = Job(None, **opts).opts
        args = []
        replicas, wait_ms = 0, 0
        for i, job in enumerate(jobs):
            try:
                job_opts = job.opts if isinstance(job, Job) else defaults
                args.append([payload_check(job.payload if isinstance(job, Job) else job)] + _options(job_opts))
                if job_opts["replicas"]:
                    replicas = max(replicas, job_opts["replicas"])
                    wait_ms = max(wait_ms, job_opts["replicas_timeout_ms"] or 0)
            except SluiceError as e:
                if len(jobs) > 1:
                    e.args = (f"job {i}: {e.args[0]}",)
                e.ids = []
                raise
        keys = self._keys(cls, CLASS_KEYS)
        commands = [("FCALL", "sluice_enqueue", len(keys), *keys, cls, str(len(args[b:b + BATCH_MAX])),
                     *[a for job in args[b:b + BATCH_MAX] for a in job]) for b in range(0, len(args), BATCH_MAX)]
        wait_ms = wait_ms or _WAIT_TIMEOUT_DEFAULT
        if replicas and self._timeout and wait_ms >= self._timeout * 1000:
            err = InvalidArgumentError(f"invalid option: replicas_timeout_ms must be below the client's "
                                       f"timeout ({self._timeout * 1000:g} ms)")
            err.ids = []
            raise err
        ids = []
        try:
            link = self._cluster.link(self._cluster.master(cls)) if self._cluster else self._redis
            pipe = link.pipeline(transaction=False)
            for command in commands:
                pipe.execute_command(*command)
            if replicas and args:
                # on the pipeline's connection (the class's master): WAIT counts that connection's writes
                pipe.execute_command("WAIT", replicas, wait_ms)
            replies = pipe.execute(raise_on_error=False) if args else []
        except redis.exceptions.RedisError as e:
            err = self._error(e, "enqueue")
            err.ids = []
            raise err from None
        acked = replies.pop() if replicas and args else None
        for command, reply in zip(commands, replies):
            if self._cluster and isinstance(reply, redis.exceptions.ResponseError) and \
                    str(reply).startswith(_Cluster.DID_NOT_RUN):
                try:        # redirected: it did not run; again, alone
                    reply = self._cluster.call(cls, command)
                except redis.exceptions.RedisError as e:
                    reply = e
            if isinstance(reply, Exception):
                err = self._error(reply, "enqueue")
                err.ids = ids
                raise err
            ids.extend(_text(x) for x in reply)
        if acked is not None and (isinstance(acked, Exception) or acked < replicas):
            why = (f"WAIT: {_from_redis(acked, 'WAIT')}" if isinstance(acked, Exception)
                   else f"{acked} acknowledged within {wait_ms} ms")
            err = NotReplicatedError(f"enqueue: done, but not confirmed on {replicas} replicas: {why}")
            err.ids = ids
            raise err
        return ids

    def job(self, job_id):
        """Looks a job up by id: a JobInfo (state "unknown" for a job that is
        gone or never was). Raises InvalidArgumentError for a malformed id."""
        cls = _job_id(job_id)
        r = self._fcall("sluice_job", cls, CLASS_KEYS, [cls, job_id, "1"], "job lookup")
        if len(r) == 1:
            return JobInfo(job_id, "unknown")
        if len(r) != 15:
            raise ProtocolError("job lookup: unexpected reply")
        n = [_int(r[i]) for i in (1, 2, 3, 4, 5, 6, 7, 10, 11, 13)]
        return JobInfo(job_id, _text(r[0]), attempt=n[0], max_attempts=n[1], priority=n[2], cost=n[3],
                       enqueued_at=n[4], at=n[5], reclaims=n[6], ahead=n[7], now=n[8], reason=_text(r[8]),
                       payload=_text(r[9]), unique=_text(r[12]), start_by=n[9],
                       key=_text(r[14]))

    def cancel(self, job_id, actor="sluice-python"):
        """Cancels a waiting (ready or delayed) job, audited under ``actor``.
        Raises NotFoundError, BusyError (leased) or WrongStateError."""
        cls = _job_id(job_id)
        self._fcall("sluice_cancel", cls, CLASS_KEYS, [cls, job_id, actor], "cancel")

    def stats(self, cls):
        """A class's depths and counters (ClassStats)."""
        _name(cls)
        r = self._fcall("sluice_stats", cls, CLASS_KEYS, [cls], "stats")
        if len(r) != 4 + 2 * len(STAT_FIELDS):
            raise ProtocolError("stats: unexpected reply")
        counters = [_int(r[5 + 2 * i]) for i in range(len(STAT_FIELDS))]
        return ClassStats(*[_int(x) for x in r[:4]], *counters)

    def report_signal(self, name, value, age_ms=0):
        """Reports a signal's value, observed ``age_ms`` ago (0..86400000);
        returns the observation time, Unix ms by the Redis clock. Raises
        NotFoundError for an undefined signal, InvalidArgumentError for a
        value that is not a finite number."""
        _name(name)
        if not (_is_int(value) or isinstance(value, float) and math.isfinite(value)):
            raise InvalidArgumentError("signal report: value must be a finite number")
        if not _is_int(age_ms) or not 0 <= age_ms <= 86400000:
            raise InvalidArgumentError("signal report: age must be 0..86400000 ms")
        text = str(value) if _is_int(value) else repr(float(value))
        return _int(self._fcall("sluice_signal_report", "_", SIGNAL_KEYS, [name, text, str(age_ms)],
                                "signal report"))


def _skew(version):
    if version is None:
        return ("the sluice Functions are not loaded in this Redis: connect once with the deploy role "
                "(e.g. sluicectl status) to load them")
    if _is_int(version) and version < FUNCTIONS_VERSION:
        return (f"this Redis holds the sluice Functions v{version}, this client needs v{FUNCTIONS_VERSION}: "
                "upgrade them (connect once with the deploy role, e.g. sluicectl status, of this sluice)")
    return (f"this Redis holds the sluice Functions v{version}, this client speaks v{FUNCTIONS_VERSION}: "
            "upgrade this client")


def connect(url=None, namespace=None, timeout=5.0):
    """A NEW Client: ``url`` None takes SLUICE_REDIS_URL, else
    redis://127.0.0.1:6379; ``namespace`` None takes SLUICE_NAMESPACE, else
    "sluice"; ``timeout`` is per command, in seconds. Checks the Functions
    library's version: ProtocolError when Redis holds none, an older or a
    newer one. Raises UrlError, UnreachableError, AuthError, ServerError."""
    return Client(url, namespace, timeout)
