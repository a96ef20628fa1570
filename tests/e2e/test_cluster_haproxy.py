#!/usr/bin/env python3
"""The whole cluster of doc/CLUSTER.md in one test (issue 16): HAProxy in
front (the shipped etc/haproxy/pop3d.cfg, only its addresses, ports and
check intervals changed), three pop3d nodes behind it with the PROXY
protocol and implicit TLS, one redis-server for their shared anti-hammering,
and one GlusterFS volume with a FUSE mount per node for the Maildirs.

Everything is on loopback: HAProxy listens on 127.0.0.1 and speaks to the
nodes from 127.0.0.3 (the only proxy address the nodes trust, with
127.0.0.1 for the harness's probe and for the test's own hand-written
headers, which pick one node); the nodes listen on 127.0.0.21-23 on the
same two ports, as the sample's 10.0.0.21-23 do, so the sample's check of
"port 110" for the TLS backend stays one line. GlusterFS is on 127.0.0.2
(gluster_peer). Every process is started and stopped by its pid.

Shown, as a client and an administrator see it: logins through both
frontends with the client's own address in the node's log; failures spread
by HAProxy over the nodes block the address on every node and nobody else;
a maildrop open through one node is [IN-USE] through another; mail
delivered through one node's mount is served through another; and kill -9
of a node's master while sessions are open on it: the clients reconnect
through HAProxy, are served by the other nodes within a bound that follows
from the health-check settings (the figure is printed), and no message is
lost or served twice (deletions only where a QUIT answered +OK).

The tests are numbered because the last one kills a node for good."""

import os
import re
import shutil
import signal
import sys
import tempfile
import time
import unittest
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gluster_peer  # noqa: E402
import harness  # noqa: E402
from harness import Daemon, RawClient, wait_for  # noqa: E402
from test_cluster import RedisServer, redis_server_binary  # noqa: E402
from test_proxy import SAMPLE, haproxy_bin, start_haproxy, tls_client, v2  # noqa: E402

# HAProxy's source address towards the nodes, the one proxy they trust.
PROXY_ADDR = "127.0.0.3"
# Where the harness's start-up probe and the test's own headers come from.
PROBE_ADDR = "127.0.0.1"
NODE_HOSTS = ("127.0.0.21", "127.0.0.22", "127.0.0.23")
# Health checks as shipped run every 2 s; the test's run every 200 ms, and
# the rest of the line stays as shipped (fall 3).
CHECK_INTER = 0.2
CHECK_FALL = 3
MAX_FAILURES = 3

USERS = {"alice": "secret", "ina": "inuse", "dee": "deliver",
         "u1": "one", "u2": "two", "u3": "three"}
HELD_USERS = ("u1", "u2", "u3")


def message(user, i):
    return ("Subject: %s %d\r\n\r\nbody %d of %s\r\n" % (user, i, i, user)).encode()


def why_not():
    """What this machine lacks for the cluster, or None."""
    if haproxy_bin() is None:
        return "haproxy is not installed (Debian package haproxy)"
    if redis_server_binary() is None:
        return "redis-server is not installed (Debian package redis-server)"
    return gluster_peer.missing()


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid)


def common_free_port(hosts):
    """A port free on every one of `hosts` a moment ago."""
    for _ in range(50):
        port = harness.free_port(hosts[0])
        if all(harness.port_is_free(port, h) for h in hosts[1:]):
            return port
    raise AssertionError("no port free on all of %s" % (hosts,))


def haproxy_config(sample_text, listen, node_hosts, plain_port, ssl_port,
                   inter="200ms", rise=1):
    """The shipped sample with only addresses, ports and intervals changed:
    frontends on `listen` {"pop3": port, "pop3s": port} of 127.0.0.1, one
    server line per node in both backends, from PROXY_ADDR. Each change is
    checked to have happened, so a changed sample fails here, loudly."""
    def replace(text, old, new):
        assert old in text, "the sample no longer has %r" % old
        return text.replace(old, new)

    text = replace(sample_text, "    log /dev/log local0\n", "")
    text = replace(text, "bind :110", "bind 127.0.0.1:%d" % listen["pop3"])
    text = replace(text, "bind :995", "bind 127.0.0.1:%d" % listen["pop3s"])
    text = replace(text, "tcp-check connect default port 110",
                   "tcp-check connect default port %d" % plain_port)
    text = replace(text, "inter 2s fall 3 rise 2", "inter %s fall 3 rise %d" % (inter, rise))
    lines = []
    for line in text.splitlines():
        m = re.match(r"^\s+server node(\d) \S+:(110|995)$", line)
        if m:
            i = int(m.group(1)) - 1
            if i >= len(node_hosts):
                continue
            port = plain_port if m.group(2) == "110" else ssl_port
            line = "    server node%d %s:%d source %s" % (i + 1, node_hosts[i], port, PROXY_ADDR)
        lines.append(line)
    text = "\n".join(lines) + "\n"
    assert text.count(" source %s" % PROXY_ADDR) == 2 * len(node_hosts), text
    return text


class Cluster:
    """HAProxy, redis-server, a GlusterFS volume and three pop3d nodes.
    Also used by scripts/cluster-demo. close() stops everything by pid."""

    def __init__(self, users, mail, settings=None, haproxy_ports=None):
        self.users, self.mail = users, mail
        self.extra_settings = dict(settings or {})
        self.haproxy_ports = haproxy_ports
        self.redis = None
        self.volume = None
        self.nodes = []
        self.haproxy = None
        self.dir = None

    # -- start

    def start(self):
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def _start(self):
        self.redis = RedisServer()
        self.redis.start()
        self.volume = gluster_peer.GlusterVolume(mounts=len(NODE_HOSTS))
        self.volume.start()
        self.plain_port = common_free_port(NODE_HOSTS)
        self.ssl_port = common_free_port(NODE_HOSTS)
        prefix = "pop3d-cluster-%s:" % uuid.uuid4().hex[:8]
        for host, mount in zip(NODE_HOSTS, self.volume.mounts):
            settings = {
                "auth.mail_location": os.path.join(mount, "mail", "%u", "Maildir"),
                "mailstore.shared_storage": "auto",
                "pop3.proxy_protocol": True,
                "pop3.proxy_trusted_networks": "%s;%s" % (PROXY_ADDR, PROBE_ADDR),
                "pop3.max_connections": 10,
                "pop3.implicit_ssl": True,
                "pop3.ssl_port": self.ssl_port,
                "pop3.anti_hammering": True,
                "general.anti_hammering.max_failures": MAX_FAILURES,
                "general.anti_hammering.failure_timeout": "60s",
                "general.anti_hammering.block_time": "60s",
                "general.shared_state.backend": "redis",
                "general.shared_state.redis": "127.0.0.1:%d" % self.redis.port,
                "general.shared_state.key_prefix": prefix,
                "general.shared_state.timeout": "200ms",
            }
            settings.update(self.extra_settings)
            self.nodes.append(Daemon(users=self.users, host=host, port=self.plain_port,
                                     settings=settings))
        first = self.nodes[0]
        for user in self.users:
            harness.make_maildir(self.maildir(0, user), self.mail.get(user, {}))
        chown_tree(os.path.join(self.volume.mounts[0], "mail"), first.uid, first.gid)
        for d in self.nodes:
            d.start()
        self.dir = tempfile.mkdtemp(prefix="pop3d-cluster-haproxy-")
        self.ports = self.haproxy_ports or {"pop3": harness.free_port(),
                                            "pop3s": harness.free_port()}
        with open(SAMPLE) as f:
            text = haproxy_config(f.read(), self.ports, NODE_HOSTS, self.plain_port,
                                  self.ssl_port)
        # test_proxy's start_haproxy wants a class-like holder with .dir and
        # .ports; on failure it stops HAProxy and cleans up .d.
        self.d = self.nodes[0]
        start_haproxy(self, text)
        self.haproxy_out = self.haproxy_log.name

    def maildir(self, node, user):
        return os.path.join(self.volume.mounts[node], "mail", user, "Maildir")

    def wait_all_up(self, timeout=10):
        """True once HAProxy has seen every node pass its checks: each node
        has logged sessions of the proxy's own address (both backends)."""
        pattern = r"session: client=%s user=- .*end=quit" % re.escape(PROXY_ADDR)
        return all(len(d.wait_log(pattern, 0, 2, timeout)) >= 2 for d in self.nodes)

    # -- stop

    def close(self):
        if self.haproxy is not None:
            self.haproxy.send_signal(signal.SIGTERM)
            try:
                self.haproxy.wait(10)
            except Exception:
                self.haproxy.kill()
                self.haproxy.wait()
            self.haproxy_log.close()
            self.haproxy = None
        for d in self.nodes:
            d.cleanup()
        self.nodes = []
        if self.volume is not None:
            self.volume.close()
            self.volume = None
        if self.redis is not None:
            self.redis.stop()
            self.redis = None
        if self.dir:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None


# ---------------------------------------------------------------- clients


def direct(node, client_addr, port=None):
    """A RawClient to one node (not through HAProxy), from the trusted
    PROBE_ADDR with a PROXY v2 header naming `client_addr`; greeting read."""
    c = RawClient(node.host, port or node.port, source=PROBE_ADDR)
    c.send_raw(v2(src=client_addr, dst=node.host, dport=port or node.port))
    c.read_greeting()
    return c


def through(cluster, source, timeout=harness.SOCKET_TIMEOUT):
    """A RawClient to HAProxy's plain frontend from `source`; greeting read."""
    c = RawClient("127.0.0.1", cluster.ports["pop3"], source=source, timeout=timeout)
    c.read_greeting()
    return c


def login_through(cluster, source, user, retry=3.0):
    """A RawClient logged in as `user` through HAProxy from `source`. For
    `retry` seconds it tries again, as a mail client would, when a previous
    session's lock outlives its QUIT by a moment ([IN-USE]) or when HAProxy
    closes the connection ungreeted (it sent it to a node that had just
    died, before its checks took the node out)."""
    deadline = time.monotonic() + retry
    while True:
        try:
            c = through(cluster, source)
        except (OSError, harness.ConnectionClosed) as e:
            reply, c = "no greeting: %r" % e, None
        else:
            reply = c.login(user, USERS[user])
            if reply.startswith("+OK"):
                return c
            c.close()
        retriable = c is None or "[IN-USE]" in reply
        if not retriable or time.monotonic() >= deadline:
            raise AssertionError("login as %s through HAProxy failed: %r" % (user, reply))
        time.sleep(0.1)


def read_all(test, c):
    """{uidl: body} of the maildrop of a logged-in client, checking that no
    uidl comes twice; also the uidls in order."""
    status, body = c.cmd_multi("UIDL")
    test.assertTrue(status.startswith("+OK"), status)
    pairs = [line.split() for line in body.decode().splitlines()]
    uidls = [p[1] for p in pairs]
    test.assertEqual(len(uidls), len(set(uidls)), "a uidl twice: %r" % uidls)
    out = {}
    for number, uidl in pairs:
        status, data = c.cmd_multi("RETR " + number)
        test.assertTrue(status.startswith("+OK"), status)
        out[uidl] = data
    return uidls, out


def node_of(test, cluster, source, start, timeout=harness.SOCKET_TIMEOUT):
    """The index of the node that logged a login from `source` after the
    log offsets `start` (one per node)."""
    pattern = r"login: .*rip=%s\b" % re.escape(source)
    found = {}

    def look():
        for i, d in enumerate(cluster.nodes):
            if d.proc is not None and re.search(pattern, d.log[start[i]:]):
                found[i] = True
        return found

    wait_for(look, timeout)
    test.assertEqual(len(found), 1, "logins from %s on nodes %r" % (source, sorted(found)))
    return next(iter(found))


def offsets(cluster):
    return [len(d.log) for d in cluster.nodes]


def alive(pid):
    """True while `pid` runs (a zombie has stopped running)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"


def proc_state(pid):
    """State, parent and pending/blocked signals of `pid` from /proc, for
    failure messages."""
    try:
        with open("/proc/%d/status" % pid) as f:
            fields = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
    except OSError:
        return "%d gone" % pid
    return "%d %s" % (pid, " ".join("%s=%s" % (k, fields[k].strip()) for k in
                                    ("State", "PPid", "SigPnd", "ShdPnd", "SigBlk")))


WHY_NOT = why_not()


class HaproxyCluster(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        if WHY_NOT is not None:
            # One skip for the whole suite, with the reason, not one a test.
            raise unittest.SkipTest(WHY_NOT)
        mail = {u: {"%s-%d" % (u, i): message(u, i) for i in range(1, 5)} for u in USERS}
        cls.cluster = Cluster(USERS, mail)
        cls.addClassCleanup(cls.cluster.close)
        cls.cluster.start()
        assert cls.cluster.wait_all_up(), "HAProxy's checks did not reach every node"
        # A check passes rise (1) times before the node takes clients.
        time.sleep(CHECK_INTER * 3)

    def haproxy_output(self):
        with open(self.cluster.haproxy_out, errors="replace") as f:
            return f.read()[-3000:]

    def login_direct(self, node, user, source, retry_in_use=3.0):
        """Logged in as `user` on one node; the previous session's lock may
        outlive its QUIT by a moment, so [IN-USE] is retried briefly."""
        deadline = time.monotonic() + retry_in_use
        while True:
            c = direct(self.cluster.nodes[node], source)
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            reply = c.login(user, USERS[user])
            if reply.startswith("+OK"):
                return c
            c.close()
            if "[IN-USE]" not in reply or time.monotonic() >= deadline:
                self.fail("login as %s on node %d: %r" % (user, node + 1, reply))
            time.sleep(0.1)

    # ------------------------------------------------------------ tests

    def test_1_logins_through_both_frontends_carry_the_clients_address(self):
        source = "127.0.0.5"
        for name, connect in (("pop3", lambda: through(self.cluster, source)),
                              ("pop3s", lambda: tls_client(self.cluster.ports["pop3s"],
                                                           source=source))):
            start = offsets(self.cluster)
            c = connect()
            with c:
                if getattr(c, "greeting", None) is None:
                    c.read_greeting()
                self.assertTrue(c.greeting.startswith("+OK"), (name, c.greeting))
                self.assertTrue(c.login("alice", USERS["alice"]).startswith("+OK"), name)
                self.assertTrue(c.cmd("QUIT").startswith("+OK"), name)
            i = node_of(self, self.cluster, source, start)
            line = self.cluster.nodes[i].wait_session_end(source, start[i], "alice")
            self.assertIsNotNone(line, "%s: no summary for %s on node %d" % (name, source, i))

    def test_2_failures_through_haproxy_block_on_every_node_and_nobody_else(self):
        bad, good = "127.0.0.8", "127.0.0.9"
        start = offsets(self.cluster)
        # Opened together, so leastconn spreads them over the nodes: no node
        # sees MAX_FAILURES alone, only the shared count reaches the block.
        clients = [through(self.cluster, bad) for _ in range(MAX_FAILURES)]
        for c in clients:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
        for c in clients:
            self.assertTrue(c.login("alice", "wrong").startswith("-ERR"))
            try:
                c.cmd("QUIT")
            except Exception:
                pass
            c.close()
        failed_on = [i for i, d in enumerate(self.cluster.nodes)
                     if d.wait_log(r"login failed: .*rip=%s\b" % re.escape(bad), start[i], 1, 2)]
        self.assertGreater(len(failed_on), 1, "HAProxy sent every failure to one node")
        for i, d in enumerate(self.cluster.nodes):
            with direct(d, bad) as c:
                self.assertIn("Too many failed logins", c.greeting, "node %d" % i)
            self.assertTrue(d.wait_log(r"^.*refused: client=%s reason=anti-hammering$"
                                       % re.escape(bad), start[i]), "node %d" % i)
        with through(self.cluster, bad) as c:
            self.assertIn("Too many failed logins", c.greeting)
        # Anybody else is served, by every node and through HAProxy.
        for i in range(len(self.cluster.nodes)):
            c = self.login_direct(i, "alice", good)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            c.close()
        with login_through(self.cluster, good, "alice") as c:
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_3_a_maildrop_open_through_one_node_is_in_use_through_another(self):
        holder = self.login_direct(0, "ina", "127.0.0.10")
        try:
            for i in (1, 2):
                with direct(self.cluster.nodes[i], "127.0.0.11") as c:
                    reply = c.login("ina", USERS["ina"])
                    self.assertTrue(reply.startswith("-ERR [IN-USE]"), "node %d: %r" % (i, reply))
        finally:
            self.assertTrue(holder.cmd("QUIT").startswith("+OK"))
            holder.close()
        # Free again once the holder has quit (the lock may outlive the
        # QUIT by a moment).
        def served():
            with direct(self.cluster.nodes[1], "127.0.0.11") as c:
                ok = c.login("ina", USERS["ina"]).startswith("+OK")
                if ok:
                    c.cmd("QUIT")
                return ok
        self.assertTrue(wait_for(served, 3, 0.1), "ina stayed in use after the QUIT")

    def test_4_mail_delivered_through_one_mount_is_served_through_another(self):
        # Node 1 lists folders that had settled, and its index records their
        # times (on a local disk the next login would trust them and list
        # nothing). The first login may move new/ mail to cur/, which makes
        # both fresh: settle, and list once more (as test_shared_storage).
        maildir = self.cluster.maildir(0, "dee")
        for _ in range(2):
            past = time.time() - 60
            for folder in ("cur", "new"):
                os.utime(os.path.join(maildir, folder), (past, past))
            time.sleep(2)  # longer than GlusterFS's 1 s attribute cache
            c = self.login_direct(0, "dee", "127.0.0.12")
            before, _ = read_all(self, c)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            c.close()
        # An MTA on node 2's host: tmp/, then a rename into new/.
        body = b"Subject: fresh\r\n\r\ndelivered through node 3's mount\r\n"
        path = harness.make_maildir(self.cluster.maildir(2, "dee"), {"fresh": body})["fresh"]
        d = self.cluster.nodes[2]
        os.chown(path, d.uid, d.gid)
        c = self.login_direct(0, "dee", "127.0.0.12")
        after, bodies = read_all(self, c)
        self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        c.close()
        new = [u for u in after if u not in before]
        self.assertEqual(len(new), 1, (before, after))
        self.assertTrue(os.path.basename(path).startswith(new[0]), (path, new))
        self.assertEqual(bodies[new[0]], harness.retr_reference(body))

    def test_5_a_node_killed_with_sessions_open_loses_nothing(self):
        cl = self.cluster
        # A finished session through HAProxy: its deletion stands.
        with login_through(cl, "127.0.0.40", "u1") as c:
            quit_deleted = read_all(self, c)[0][3]
            self.assertTrue(c.cmd("DELE 4").startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        # What every maildrop holds now, read through HAProxy.
        originals = {}
        for user in HELD_USERS:
            with login_through(cl, "127.0.0.40", user) as c:
                originals[user] = read_all(self, c)
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        self.assertNotIn(quit_deleted, originals["u1"][0])
        self.assertEqual(len(originals["u1"][0]), 3)

        # Held sessions, one per user, all open at once: leastconn spreads
        # them. Each reads and deletes its first message, and does not QUIT.
        held = {}
        start = offsets(cl)
        for n, user in enumerate(HELD_USERS):
            source = "127.0.0.%d" % (41 + n)
            c = login_through(cl, source, user)
            held[user] = (c, source, node_of(self, cl, source, start))
        for user, (c, _, _) in held.items():
            status, _ = c.cmd_multi("RETR 1")
            self.assertTrue(status.startswith("+OK"), status)
            self.assertTrue(c.cmd("DELE 1").startswith("+OK"))
        victim_user = HELD_USERS[0]
        victim = held[victim_user][2]
        survivors = [i for i in range(len(cl.nodes)) if i != victim]
        node = cl.nodes[victim]
        pids = [node.pid] + node.workers()
        print("\n  held sessions on nodes %s; killing node %d (master %d, workers %s)"
              % ({u: h[2] + 1 for u, h in held.items()}, victim + 1, node.pid, pids[1:]))

        start = offsets(cl)
        t0 = time.monotonic()
        node.proc.kill()
        node.proc.wait(harness.STOP_TIMEOUT)
        # The victim's client sees its session go (the worker may finish it
        # first: SIGTERM from PR_SET_PDEATHSIG is seen between sessions) and
        # reconnects through HAProxy as any client would, with short
        # time-outs (a connection HAProxy still sends to the dead node's
        # queue is never greeted).
        c, source, _ = held[victim_user]
        c.settimeout(0.5)
        try:
            noop = c.cmd("NOOP")
        except (OSError, harness.ConnectionClosed) as e:
            noop = "closed (%s)" % type(e).__name__
        print("  NOOP on the killed node's session: %s" % noop)
        c.close()
        attempts, last = 0, None
        client = None
        while time.monotonic() - t0 < 20:
            attempts += 1
            try:
                client = through(cl, source, timeout=0.5)
                client.settimeout(harness.SOCKET_TIMEOUT)
                reply = client.login(victim_user, USERS[victim_user])
                if reply.startswith("+OK"):
                    break
                last = reply
            except (OSError, harness.ConnectionClosed) as e:
                last = repr(e)
            if client is not None:
                client.close()
                client = None
            time.sleep(0.05)
        failover = time.monotonic() - t0
        self.assertIsNotNone(client, "no login through HAProxy after the kill: %s" % last)
        # The dead node is out after at most `fall` failed checks, each at
        # most one interval apart and one interval long; the bound is
        # generous on top (a loaded machine), never a tight clock.
        bound = 2 * (CHECK_FALL + 1) * CHECK_INTER + 3.0
        print("  served again after %.2f s (%d attempts; bound %.1f s; last refusal %r)"
              % (failover, attempts, bound, last))
        self.assertLess(failover, bound)
        with client:
            served_by = node_of(self, cl, source, start)
            # Served by another node, not by what is left of the killed one.
            self.assertIn(served_by, survivors, "served by the killed node's leftovers:\n%s\n%s"
                          % ("\n".join(proc_state(p) for p in pids),
                             node.log[start[victim]:][-3000:]))
            uidls, bodies = read_all(self, client)
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))
        # The cut session's DELE never reached a QUIT: everything is there.
        self.assertEqual((uidls, bodies), originals[victim_user])

        # The sessions on the other nodes go on and QUIT: their DELEs stand.
        for user in HELD_USERS[1:]:
            c = held[user][0]
            self.assertTrue(c.cmd("QUIT").startswith("+OK"), user)
            c.close()
        for user in HELD_USERS[1:]:
            try:
                c = login_through(cl, "127.0.0.45", user)
            except AssertionError as e:
                raise AssertionError("%s\nHAProxy said:\n%s" % (e, self.haproxy_output()))
            with c:
                uidls, bodies = read_all(self, c)
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            want = originals[user][0][1:]
            self.assertEqual(uidls, want, user)
            self.assertEqual(bodies, {u: originals[user][1][u] for u in want}, user)

        # The killed node's processes are really gone.
        gone = wait_for(lambda: not any(alive(p) for p in pids), 15)
        self.assertTrue(gone, "still running: %s" % [proc_state(p) for p in pids if alive(p)])
        print("  the killed node's processes are gone %.2f s after the kill"
              % (time.monotonic() - t0))


if __name__ == "__main__":
    sys.exit(harness.main())
