#!/usr/bin/env python3
"""Anti-hammering across a cluster: two pop3d daemons ("nodes") share their
failures and blocks through one real redis-server
(general.shared_state.backend = "redis", the same key_prefix).

Checked as an administrator sees it: failures spread over both nodes reach
the block and both refuse the address (`refused: client=... reason=
anti-hammering`); `pop3d --show-blocked` through either lists it and
`--unblock` through one lifts it on both. Then Redis is killed: both nodes
keep serving, each says once that Redis is unreachable and goes on
blocking with its own table; Redis comes back and each says once that it
is back. Counts of log lines are taken only after a later line (a
session's summary), so "only once" is not "not yet"."""

import os
import re
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, wait_for  # noqa: E402

ALICE, SECRET = "alice", "secret"
MAX_FAILURES = 3
UNREACHABLE = r"^.*shared state: redis at 127\.0\.0\.1:\d+ unreachable \(.*\); " \
              r"anti-hammering and per-address limits continue with this node's tables$"
BACK = r"^.*shared state: redis at 127\.0\.0\.1:\d+ is back$"
# After a failed attempt a worker waits this long before it tries Redis again.
RECONNECT_PAUSE = 1.0


def redis_server_binary():
    for path in ("/usr/bin/redis-server", "/usr/local/bin/redis-server"):
        if os.access(path, os.X_OK):
            return path
    return None


class RedisServer:
    """A redis-server of the test's own on a free loopback port, no
    persistence; stop() kills it (by its pid), start() brings it back on
    the same port."""

    def __init__(self):
        self.port = harness.free_port()
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(
            [redis_server_binary(), "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        assert wait_for(lambda: not harness.port_is_free(self.port), 10), \
            "redis-server did not listen on port %d" % self.port

    def stop(self):
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


def node(redis, prefix):
    return Daemon(settings={
        "pop3.anti_hammering": True,
        "general.anti_hammering.max_failures": MAX_FAILURES,
        "general.anti_hammering.failure_timeout": "60s",
        "general.anti_hammering.block_time": "60s",
        "general.shared_state.backend": "redis",
        "general.shared_state.redis": "127.0.0.1:%d" % redis.port,
        "general.shared_state.key_prefix": prefix,
        "general.shared_state.timeout": "200ms",
    })


def fail_login(d, source):
    """One failed login from `source` (a loopback address), then QUIT."""
    c = d.connect(source=source)
    assert c.greeting.startswith("+OK"), "%s refused %s early: %r" % (d.port, source, c.greeting)
    reply = c.login(ALICE, "wrong")
    assert reply.startswith("-ERR"), "a wrong password was taken: %r" % reply
    try:
        c.cmd("QUIT")
    except Exception:  # a block may end the session first
        pass
    c.close()
    assert d.wait_session_end(source), "no session summary for %s" % source


def good_login(d, source):
    """A right password from `source` is taken (the harness retries the
    moment a previous session's lock outlives its QUIT), then QUIT."""
    c = d.login(ALICE, SECRET, source=source)
    assert c.cmd("QUIT").startswith("+OK")
    c.close()


def refused(d, source, start):
    """True when a connection from `source` gets the anti-hammering line
    and the node logs the refusal (after log offset `start`)."""
    c = harness.RawClient(d.host, d.port, source=source)
    line = c.readline()
    c.close()
    if "Too many failed logins" not in line:
        return False
    pattern = r"^.*refused: client=%s reason=anti-hammering$" % re.escape(source)
    return bool(d.wait_log(pattern, start))


def show_blocked(d):
    r = d.run_tool("--show-blocked")
    assert r.returncode == 0, "--show-blocked failed: %s %s" % (r.stdout, r.stderr)
    return r.stdout


class TwoNodes(unittest.TestCase):
    """One redis-server and two pop3d nodes sharing it (cls.a, cls.b)."""

    @classmethod
    def setUpClass(cls):
        if redis_server_binary() is None:
            raise unittest.SkipTest("redis-server is not installed (apt-get install redis-server)")
        cls.redis = RedisServer()
        cls.redis.start()
        prefix = "pop3d-e2e-%s:" % uuid.uuid4().hex[:8]
        try:
            cls.a = node(cls.redis, prefix).start()
            cls.b = node(cls.redis, prefix).start()
        except Exception:
            cls.redis.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        for d in (getattr(cls, "a", None), getattr(cls, "b", None)):
            if d is not None:
                d.cleanup()
        cls.redis.stop()


class SharedBlocks(TwoNodes):

    def block_across_nodes(self, source):
        """Two failures on a, one on b: neither node saw enough alone."""
        fail_login(self.a, source)
        fail_login(self.b, source)
        fail_login(self.a, source)

    def test_failures_on_both_nodes_block_on_both(self):
        source = "127.0.0.21"
        start_a, start_b = len(self.a.log), len(self.b.log)
        self.block_across_nodes(source)
        self.assertTrue(refused(self.a, source, start_a), "node a does not refuse " + source)
        self.assertTrue(refused(self.b, source, start_b), "node b does not refuse " + source)
        # Another address is not caught by it.
        good_login(self.b, "127.0.0.29")

    def test_show_blocked_through_either_and_unblock_through_one(self):
        source = "127.0.0.22"
        self.block_across_nodes(source)
        for d in (self.a, self.b):
            out = show_blocked(d)
            self.assertRegex(out, r"(?m)^127\.0\.0\.22 blocked for \d+ s more \(3 failed logins\)$",
                             "node %d does not list it:\n%s" % (d.port, out))
        r = self.b.run_tool("--unblock", source)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("unblocked " + source, r.stdout)
        for d in (self.a, self.b):
            self.assertNotIn(source + " ", show_blocked(d))
            good_login(d, source)
        r = self.a.run_tool("--unblock", source)
        self.assertNotEqual(r.returncode, 0, "unblocking an unblocked address said OK")


class RedisOutage(TwoNodes):

    def count_after_summary(self, d, pattern, source):
        """Lines matching `pattern`, counted once a later session from
        `source` has logged its summary."""
        good_login(d, source)
        self.assertTrue(d.wait_session_end(source, user=ALICE), "no summary for " + source)
        return len(re.findall(pattern, d.log, re.M))

    def test_nodes_keep_serving_and_protecting_without_redis(self):
        # Both nodes use Redis first, so each has something to lose.
        for d in (self.a, self.b):
            good_login(d, "127.0.0.30")
        self.redis.stop()
        # Sessions across more than one reconnect pause: every worker tries
        # again, and still each node says it once.
        deadline = time.monotonic() + RECONNECT_PAUSE * 1.5
        while time.monotonic() < deadline:
            for d in (self.a, self.b):
                t0 = time.monotonic()
                good_login(d, "127.0.0.31")
                # Generous: a login waits at most one 200 ms time-out per
                # call for Redis; this only catches waiting without bound.
                self.assertLess(time.monotonic() - t0, 5.0)
            time.sleep(0.2)
        for d in (self.a, self.b):
            self.assertEqual(self.count_after_summary(d, UNREACHABLE, "127.0.0.31"), 1,
                             "node %d:\n%s" % (d.port, d.log[-3000:]))
        # Anti-hammering goes on, per node: a's own table blocks, b never
        # heard of these failures.
        source = "127.0.0.32"
        start_a = len(self.a.log)
        for _ in range(MAX_FAILURES):
            fail_login(self.a, source)
        self.assertTrue(refused(self.a, source, start_a), "node a stopped protecting itself")
        good_login(self.b, source)

        # Back: used again, and each node says so once.
        self.redis.start()
        time.sleep(RECONNECT_PAUSE * 1.2)
        for d in (self.a, self.b):
            good_login(d, "127.0.0.33")
            good_login(d, "127.0.0.33")
        for d in (self.a, self.b):
            self.assertEqual(self.count_after_summary(d, BACK, "127.0.0.34"), 1,
                             "node %d:\n%s" % (d.port, d.log[-3000:]))
            self.assertEqual(len(re.findall(UNREACHABLE, d.log, re.M)), 1, d.log[-3000:])
        # And shared again: failures on both nodes block on both.
        source = "127.0.0.35"
        start_b = len(self.b.log)
        fail_login(self.a, source)
        fail_login(self.b, source)
        fail_login(self.a, source)
        self.assertTrue(refused(self.b, source, start_b), "node b does not refuse after the return")


if __name__ == "__main__":
    sys.exit(harness.main())
