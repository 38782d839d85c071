"""Tests of the Python producer against a real redis-server: every case of
../conformance.json, then what the cases cannot say (versions, connection
errors, Python's own types). tests/test_clients.c starts the server, declares
the conformance setup in SLUICE_NAMESPACE and runs this file with
SLUICE_REDIS_URL pointing at it."""

import json
import math
import os
import re
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import sluice  # noqa: E402

CONFORMANCE = os.path.join(HERE, "..", "conformance.json")
COMMON_LUA = os.path.join(HERE, "..", "..", "lua", "common.lua")
SPECIAL = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


def native(v):
    """A conformance value as Python's: {"$special": "nan"} is float("nan")."""
    if isinstance(v, dict):
        if list(v) == ["$special"]:
            return SPECIAL[v["$special"]]
        return {k: native(x) for k, x in v.items()}
    if isinstance(v, list):
        return [native(x) for x in v]
    return v


def payload(spec):
    if "payload" in spec:
        return native(spec["payload"])
    if "payload_json" in spec:
        return spec["payload_json"]
    if "payload_hex" in spec:
        return bytes.fromhex(spec["payload_hex"])
    gen = spec["payload_gen"]
    if "size" in gen:
        return '{"p":"' + "x" * (gen["size"] - 8) + '"}'
    return '{"a":' * (gen["nest"] - 1) + "{}" + "}" * (gen["nest"] - 1)


def jobs(specs):
    out = []
    for spec in specs:
        for one in [spec["job"]] * spec["repeat"] if "repeat" in spec else [spec]:
            out.append(sluice.Job(payload(one), **native(one.get("opts", {}))))
    return out


def keyspace(r):
    """Every key of the database with its value (DUMP): what a call wrote."""
    return {k: r.dump(k) for k in r.scan_iter(count=1000)}


def run(c, case):
    """The outcome of one case: a dict of what it returned."""
    op = case["op"]
    if op == "enqueue":
        job = case["job"]
        return {"id": c.enqueue(case["class"], payload(job), **native(job.get("opts", {})))}
    if op == "enqueue_many":
        try:
            ids = c.enqueue_many(case["class"], jobs(case["jobs"]))
        except sluice.SluiceError as e:
            e.done = len(e.ids)
            raise
        return {"ids": ids, "count": len(ids), "first": ids[0] if ids else None, "last": ids[-1] if ids else None}
    if op == "job":
        return vars(c.job(case["id"]))
    if op == "cancel":
        c.cancel(case["id"])
        return {"ok": True}
    if op == "stats":
        return vars(c.stats(case["class"]))
    if op == "signal_report":
        c.report_signal(case["signal"], native(case["value"]), case.get("age_ms", 0))
        return {"ok": True}
    if op == "url":
        return {"url": sluice.parse_url(case["url"])}
    raise AssertionError(f"unknown op {op}")


def mismatch(case, got, error):
    """Why the outcome differs from the case's expectation, or None."""
    want = case["expect"]
    if "error" in want:
        if error is None:
            return f"expected {want['error']}, got {got}"
        if error.word != want["error"] or want.get("message", "") not in str(error):
            return f"expected {want['error']} ({want.get('message', '')}), got {error.word}: {error}"
        if "done" in want and getattr(error, "done", None) != want["done"]:
            return f"expected {want['done']} done, got {getattr(error, 'done', None)}"
        return None
    if error is not None:
        return f"expected {want}, got {error.word}: {error}"
    for k, v in want.items():
        if k == "url":
            bad = {f: (x, got["url"][f]) for f, x in v.items() if got["url"][f] != x}
            if bad:
                return f"url fields (want, got): {bad}"
        elif got.get(k) != v:
            return f"{k}: expected {v!r}, got {got.get(k)!r}"
    return None


class Conformance(unittest.TestCase):
    def test_every_conformance_case_gives_its_answer(self):
        with open(CONFORMANCE, encoding="utf-8") as f:
            cases = json.load(f)["cases"]
        failures = []
        with sluice.connect() as c:
            for case in cases:
                got, error = None, None
                try:
                    got = run(c, case)
                except sluice.SluiceError as e:
                    error = e
                why = mismatch(case, got, error)
                if why:
                    failures.append(f"{case['name']}: {why}")
        print(f"\npython: {len(cases)} conformance cases, {len(cases) - len(failures)} passed, "
              f"{len(failures)} failed", file=sys.stderr)
        self.assertEqual(failures, [])

    def test_the_errors_are_the_c_librarys_codes_and_words(self):
        with open(CONFORMANCE, encoding="utf-8") as f:
            table = json.load(f)["errors"][1:]
        self.assertEqual([[e.code, e.word] for e in sluice.ERRORS], table)
        for e in sluice.ERRORS:
            self.assertTrue(issubclass(e, sluice.SluiceError))

    def test_the_client_speaks_the_version_in_queue_lua_common_lua(self):
        with open(COMMON_LUA, encoding="utf-8") as f:
            version = int(re.search(r"^local VERSION = (\d+)", f.read(), re.M).group(1))
        self.assertEqual(sluice.FUNCTIONS_VERSION, version)


class Versions(unittest.TestCase):
    """Redis holding no, an older or a newer Functions library: a clear
    ProtocolError on connect. The real library is restored after each."""

    def setUp(self):
        self.admin = sluice.connect()._redis
        self.saved = self.admin.execute_command("FUNCTION", "DUMP")

    def tearDown(self):
        self.admin.execute_command("FUNCTION", "RESTORE", self.saved, "REPLACE")
        self.admin.connection_pool.disconnect()

    def load_version(self, v):
        self.admin.execute_command("FUNCTION", "LOAD", "REPLACE",
                                   "#!lua name=sluice\nredis.register_function{function_name='sluice_version', "
                                   f"callback=function() return {v} end, flags={{'no-writes'}}}}")

    def test_an_older_library_is_refused_with_what_to_do(self):
        self.load_version(sluice.FUNCTIONS_VERSION - 1)
        with self.assertRaises(sluice.ProtocolError) as cm:
            sluice.connect()
        self.assertIn(f"holds the sluice Functions v{sluice.FUNCTIONS_VERSION - 1}", str(cm.exception))
        self.assertIn("upgrade them", str(cm.exception))
        self.assertEqual(cm.exception.word, "protocol error")

    def test_a_newer_library_is_refused(self):
        self.load_version(sluice.FUNCTIONS_VERSION + 1)
        with self.assertRaisesRegex(sluice.ProtocolError, "upgrade this client"):
            sluice.connect()

    def test_a_missing_library_is_refused(self):
        self.admin.execute_command("FUNCTION", "DELETE", "sluice")
        with self.assertRaisesRegex(sluice.ProtocolError, "not loaded"):
            sluice.connect()


class Connection(unittest.TestCase):
    def test_an_unreachable_redis_is_named_without_the_password(self):
        with self.assertRaises(sluice.UnreachableError) as cm:
            sluice.connect("unix://u:hunter2@/nonexistent/redis.sock")
        self.assertIn("cannot reach redis at unix:/nonexistent/redis.sock", str(cm.exception))
        self.assertNotIn("hunter2", str(cm.exception))

    def test_a_refused_password_is_an_auth_error_without_the_password(self):
        url = os.environ["SLUICE_REDIS_URL"].replace("unix://", "unix://:hunter2@", 1)
        with self.assertRaises(sluice.AuthError) as cm:
            sluice.connect(url)
        self.assertIn("authentication failed (check the user and password)", str(cm.exception))
        self.assertNotIn("hunter2", str(cm.exception))

    def test_a_bad_url_is_refused_before_connecting(self):
        with self.assertRaisesRegex(sluice.UrlError, "scheme"):
            sluice.connect("rediss://h")

    def test_the_namespace_comes_from_the_environment_and_is_checked(self):
        with sluice.connect() as c:
            self.assertEqual(c.namespace, os.environ["SLUICE_NAMESPACE"])
        with self.assertRaises(sluice.InvalidArgumentError):
            sluice.connect(namespace="a b")


class Idioms(unittest.TestCase):
    def test_an_unknown_option_is_a_type_error(self):
        with sluice.connect() as c, self.assertRaises(TypeError):
            c.enqueue("conf-free", {}, delay=5)

    def test_bad_input_writes_nothing(self):
        with sluice.connect() as c:
            before = keyspace(c._redis)
            bad = [({"x": math.nan}, {}), ({"x": "y" * 300000}, {}), ({}, {"priority": "high"}),
                   ({}, {"cost": 1e300}), ([{}], {}), ({"x": {1, 2}}, {}), ("{\"a\":1", {})]
            for p, opts in bad:
                with self.assertRaises(sluice.SluiceError):
                    c.enqueue("conf-free", p, **opts)
            with self.assertRaises(sluice.InvalidPayloadError):
                c.enqueue_many("conf-free", [{}] * 5 + [{"x": math.inf}])
            self.assertEqual(keyspace(c._redis), before)

    def test_a_wait_longer_than_the_client_waits_is_refused_before_sending(self):
        with sluice.connect(timeout=1.0) as c:
            before = keyspace(c._redis)
            with self.assertRaisesRegex(sluice.InvalidArgumentError, "below the client's timeout"):
                c.enqueue("conf-free", {}, replicas=1, replicas_timeout_ms=1000)
            self.assertEqual(keyspace(c._redis), before)

    def test_enqueue_many_options_apply_to_every_bare_payload(self):
        with sluice.connect() as c:
            ids = c.enqueue_many("conf-free", [{"a": 1}, sluice.Job({"b": 2}, priority=3)], priority=-2)
            self.assertEqual([c.job(i).priority for i in ids], [-2, 3])
            for i in ids:
                c.cancel(i)


if __name__ == "__main__":
    unittest.main(verbosity=2)
