#!/usr/bin/env python3
"""Maildrop leases across a cluster: two pop3d nodes over one Maildir tree
share one real redis-server (general.shared_state.backend = "redis", the
same key_prefix), with a short general.shared_state.lease.

Checked as a client and an administrator see it: while alice is in
TRANSACTION on node a, node b answers `-ERR [IN-USE]` and logs that the
lease is held, naming node a's session; alice's QUIT on a lets her in on
b at once. A `kill -9` of node a's master and workers with her session
open frees her maildrop within one lease, with nothing removed. A session
whose lease went to another (its node was cut off for longer than a lease)
removes nothing at QUIT. With Redis gone, the file lock alone keeps a
second session out, and a session begun then takes its lease once Redis
is back."""

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, wait_for  # noqa: E402
from test_cluster import RECONNECT_PAUSE, RedisServer, redis_server_binary  # noqa: E402

ALICE, SECRET = "alice", "secret"
LEASE = 2.0  # seconds; renewed every third of it
MAIL = {"1.M1P1.node": b"Subject: one\r\n\r\nfirst\r\n",
        "2.M2P1.node": b"Subject: two\r\n\r\nsecond\r\n"}
IN_USE = "-ERR [IN-USE]"


def node(redis, prefix, mail_location=None, mail=None):
    settings = {
        "general.shared_state.backend": "redis",
        "general.shared_state.redis": "127.0.0.1:%d" % redis.port,
        "general.shared_state.key_prefix": prefix,
        "general.shared_state.timeout": "200ms",
        "general.shared_state.lease": "%dms" % int(LEASE * 1000),
    }
    if mail_location:
        settings["auth.mail_location"] = mail_location
    return Daemon(settings=settings, users={ALICE: SECRET}, mail=mail)


class TwoNodesOneMaildir(unittest.TestCase):

    def setUp(self):
        if redis_server_binary() is None or shutil.which("redis-cli") is None:
            raise unittest.SkipTest("redis-server or redis-cli is not installed "
                                    "(apt-get install redis-server)")
        self.redis = RedisServer()
        self.redis.start()
        self.addCleanup(self.redis.stop)
        self.prefix = "pop3d-e2e-%s:" % uuid.uuid4().hex[:8]
        self.a = node(self.redis, self.prefix, mail={ALICE: MAIL}).start()
        self.addCleanup(self.a.cleanup)
        # Node b serves node a's Maildirs, as every node of a cluster
        # serves the one shared tree.
        location = os.path.join(self.a.dir, "mail", "%u", "Maildir")
        self.b = node(self.redis, self.prefix, mail_location=location).start()
        self.addCleanup(self.b.cleanup)
        self.clients = []
        self.addCleanup(self.close_clients)

    def close_clients(self):
        for c in self.clients:
            c.close()

    def redis_cli(self, *args):
        out = subprocess.run(["redis-cli", "-p", str(self.redis.port)] + list(args),
                             capture_output=True, text=True, timeout=10)
        self.assertEqual(out.returncode, 0, out.stderr)
        return out.stdout.strip()

    def lease_in_redis(self):
        """True once Redis holds alice's lease (False while it does not
        answer yet: a redis-server just started may bind before it listens)."""
        out = subprocess.run(["redis-cli", "-p", str(self.redis.port), "EXISTS", self.lease_key()],
                             capture_output=True, text=True, timeout=10)
        return out.returncode == 0 and out.stdout.strip() == "1"

    def lease_key(self):
        return self.prefix + "maildrop:" + ALICE

    def logged_in(self, d):
        c = d.connect()
        self.clients.append(c)
        reply = c.login(ALICE, SECRET)
        self.assertTrue(reply.startswith("+OK"),
                        "node %d: %r\n%s" % (d.port, reply, d.diagnostics()))
        return c

    def login_reply(self, d):
        """The reply to a login, after which a session that got in QUITs
        (freeing the maildrop before its +OK)."""
        c = d.connect()
        try:
            reply = c.login(ALICE, SECRET)
            if reply.startswith("+OK"):
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            return reply
        finally:
            c.close()

    def messages_on_disk(self):
        md = self.a.maildir(ALICE)
        return sorted(os.listdir(os.path.join(md, "new")) + os.listdir(os.path.join(md, "cur")))

    def test_one_session_across_nodes_and_quit_frees_at_once(self):
        on_a = self.logged_in(self.a)
        holder = self.redis_cli("GET", self.lease_key())
        self.assertRegex(holder, r"^[^:]+:\d+:[0-9a-f]{16}$", "no lease in Redis")
        start = len(self.b.log)
        self.assertTrue(self.login_reply(self.b).startswith(IN_USE))
        pattern = r"^.*maildrop in use: .*reason=maildrop lease held by %s$" % re.escape(holder)
        self.assertTrue(self.b.wait_log(pattern, start),
                        "node b does not say who holds the maildrop:\n%s" % self.b.log[-2000:])
        # A second session on a itself is refused too.
        self.assertTrue(self.login_reply(self.a).startswith(IN_USE))
        self.assertTrue(on_a.cmd("QUIT").startswith("+OK"))
        # Released before the +OK: no retrying here.
        self.assertEqual(self.redis_cli("EXISTS", self.lease_key()), "0")
        on_b = self.logged_in(self.b)
        self.assertTrue(on_b.cmd("STAT").startswith("+OK 2 "))
        self.assertTrue(on_b.cmd("QUIT").startswith("+OK"))

    def test_a_killed_node_frees_the_maildrop_within_the_lease(self):
        on_a = self.logged_in(self.a)
        self.assertTrue(on_a.cmd("DELE 1").startswith("+OK"))
        # Master and workers at once, as a power cut would: nobody ends
        # the session, its lease runs out.
        os.killpg(self.a.proc.pid, signal.SIGKILL)
        killed = time.monotonic()
        self.a.proc.wait(10)
        # Not at once: the maildrop is freed by the lease, not by the kill.
        self.assertTrue(self.login_reply(self.b).startswith(IN_USE))
        self.assertLess(time.monotonic() - killed, LEASE / 2,
                        "the check right after the kill came too late to mean anything")
        self.assertTrue(wait_for(lambda: self.login_reply(self.b).startswith("+OK"),
                                 LEASE * 3, interval=0.1),
                        "node b never let alice in after node a died:\n%s" % self.b.log[-3000:])
        took = time.monotonic() - killed
        self.assertLess(took, LEASE + 1.0, "freed after %.2f s" % took)
        # The DELE without a QUIT removed nothing.
        self.assertEqual(len(self.messages_on_disk()), 2)
        on_b = self.logged_in(self.b)
        self.assertTrue(on_b.cmd("STAT").startswith("+OK 2 "))
        self.assertTrue(on_b.cmd("QUIT").startswith("+OK"))

    def test_a_session_that_lost_its_lease_removes_nothing(self):
        on_a = self.logged_in(self.a)
        self.assertTrue(on_a.cmd("DELE 1").startswith("+OK"))
        # What Redis holds after node a was cut off for longer than a
        # lease and another session took the maildrop.
        self.redis_cli("SET", self.lease_key(), "node-c:1:00000000000000aa", "PX", "60000")
        start = len(self.a.log)
        reply = on_a.cmd("QUIT")
        self.assertTrue(reply.startswith("-ERR"), reply)
        self.assertTrue(self.a.wait_log(r"^.*commit failed: .*lease went to another session", start),
                        self.a.log[-2000:])
        self.assertEqual(len(self.messages_on_disk()), 2)
        # And the other session's lease is left to it.
        self.assertEqual(self.redis_cli("GET", self.lease_key()), "node-c:1:00000000000000aa")

    def test_without_redis_the_file_lock_holds_and_the_lease_follows(self):
        self.redis.stop()
        on_a = self.logged_in(self.a)
        self.assertTrue(self.login_reply(self.b).startswith(IN_USE))
        self.redis.start()
        # The renewal takes the lease once Redis answers (every third of
        # a lease, after the link's reconnect pause).
        self.assertTrue(wait_for(self.lease_in_redis, LEASE * 3, interval=0.1),
                        "the session begun without Redis never took its lease:\n%s"
                        % self.a.log[-2000:])
        self.assertTrue(on_a.cmd("DELE 2").startswith("+OK"))
        # The session's own connection tries Redis again only a second
        # after its failed attempt at login (the keeper has its own).
        time.sleep(RECONNECT_PAUSE + 0.1)
        self.assertTrue(on_a.cmd("QUIT").startswith("+OK"))
        self.assertEqual(len(self.messages_on_disk()), 1)
        self.assertEqual(self.redis_cli("EXISTS", self.lease_key()), "0")


if __name__ == "__main__":
    sys.exit(harness.main())
