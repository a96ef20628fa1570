"""End-to-end tests of eviction (issue 14, "a slow crowd must not lock
anyone out"): when every pop3.max_connections slot is taken and some
sessions have not logged in, a newcomer takes the slot of one of them,
which gets "-ERR [SYS/TEMP]" and is closed; only when every slot holds a
logged-in session is the newcomer refused, and a logged-in session is
never cut.

The crowd comes from many loopback addresses (127.0.0.x, bound before
connect), reads its greeting, sends half a line and nothing more, as a
slow-crowd attack does. No check depends on how fast the machine is: the
daemon's pop3.login_timeout is far longer than any wait here, so a crowd
connection that is closed was evicted, and every wait is bounded by the
harness's generous socket time-out."""

import os
import re
import select
import socket
import ssl
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, wait_for  # noqa: E402
from test_crowd import backlog_to  # noqa: E402

# Long enough that no crowd connection times out during a test: a closed
# one was evicted.
LOGIN_TIMEOUT = 30
SLOTS = 20
# Twice the slots: the crowd fills them and then evicts its own oldest.
CROWD = 2 * SLOTS
CROWD_ADDRESSES = 8  # 127.0.0.100 ... 127.0.0.107
ROUNDS = 10
MESSAGE = b"Subject: probe\r\n\r\nThe legitimate client's mail.\r\n"
EVICTED_REPLY = b"-ERR [SYS/TEMP]"


def crowd_source(i):
    return "127.0.0.%d" % (100 + i % CROWD_ADDRESSES)


class CrowdMember:
    """A connection that read its greeting and sent half a line."""

    def __init__(self, host, port, source, tls_context=None):
        raw = socket.create_connection((host, port), timeout=harness.SOCKET_TIMEOUT,
                                       source_address=(source, 0))
        self.sock = raw
        try:
            if tls_context is not None:
                self.sock = tls_context.wrap_socket(raw, server_hostname="localhost")
            self.greeting = self._line()
            if self.greeting.startswith(b"+OK"):
                self.sock.sendall(b"USER crow")  # no CRLF, ever
        except BaseException:
            self.sock.close()
            raise
        self.source = source

    def _line(self):
        data = b""
        while not data.endswith(b"\r\n"):
            chunk = self.sock.recv(1)
            if not chunk:
                break
            data += chunk
        return data

    def ended(self):
        """(what the server sent, closed?) without waiting: for a session
        whose summary line has been logged, the bytes and the FIN are
        already here."""
        data = b""
        closed = False
        self.sock.setblocking(False)
        try:
            while True:
                if isinstance(self.sock, ssl.SSLSocket) and self.sock.pending():
                    pass
                elif not select.select([self.sock], [], [], 0)[0]:
                    break
                try:
                    chunk = self.sock.recv(4096)
                except (ssl.SSLWantReadError, BlockingIOError):
                    break
                if not chunk:
                    closed = True
                    break
                data += chunk
        except (ConnectionResetError, BrokenPipeError, ssl.SSLEOFError):
            closed = True
        finally:
            self.sock.setblocking(True)
            self.sock.settimeout(harness.SOCKET_TIMEOUT)
        return data, closed

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class EvictionCase(unittest.TestCase):
    def start(self, **settings):
        base = {"pop3.max_connections": SLOTS,
                "pop3.login_timeout": LOGIN_TIMEOUT,
                "general.max_connections_per_ip": 0}
        base.update(settings)
        self.d = Daemon(settings=base,
                        users={"alice": "secret", "bob": "hunter2", "carol": "pw3"},
                        mail={"alice": {"m1": MESSAGE}})
        self.d.start()
        self.crowd = []
        # Daemon.start's probe holds a slot until its session ends; from
        # its summary line on, the slot is free (the worker frees it first).
        self.assertTrue(self.d.wait_session_end("127.0.0.1"), self.d.diagnostics())

    def tearDown(self):
        for member in getattr(self, "crowd", []):
            member.close()
        if hasattr(self, "d"):
            self.d.cleanup()

    def join_crowd(self, i, port=None, tls_context=None):
        member = CrowdMember(self.d.host, port or self.d.port, crowd_source(i), tls_context)
        self.assertTrue(member.greeting.startswith(b"+OK"),
                        "crowd connection %d refused: %r\n%s"
                        % (i, member.greeting, self.d.diagnostics()))
        self.crowd.append(member)
        return member

    def evicted_lines(self, start=0):
        return re.findall(r"^.*session: client=\S+ user=- .*end=evicted$",
                          self.d.log[start:], re.M)

    def wait_evicted(self, count, start=0):
        lines = self.d.wait_log(r"^.*session: .*end=evicted$", start, count)
        self.assertEqual(count, len(lines),
                         "expected %d evicted sessions\n%s" % (count, self.d.diagnostics()))

    def check_crowd(self, evicted):
        """Exactly `evicted` crowd connections got the [SYS/TEMP] line and
        were closed; the others still wait, told nothing."""
        got = 0
        for member in self.crowd:
            data, closed = member.ended()
            if closed:
                self.assertTrue(data.startswith(EVICTED_REPLY) and data.endswith(b"\r\n"),
                                "an evicted connection (%s) got %r" % (member.source, data))
                got += 1
            else:
                self.assertEqual(b"", data, "a waiting crowd connection got %r" % data)
        self.assertEqual(evicted, got, self.d.diagnostics())


class SlowCrowdTests(EvictionCase):
    """pop3.max_connections 20 and a crowd of 40 half-lines from 8
    addresses: a legitimate client is served, every time."""

    def test_legitimate_client_served_every_time_during_a_slow_crowd(self):
        self.start()
        d = self.d
        for i in range(CROWD):
            self.join_crowd(i)
        # Every slot is the crowd's; each connection past SLOTS took one.
        self.wait_evicted(CROWD - SLOTS)
        evictions = CROWD - SLOTS
        for round_ in range(ROUNDS):
            start = len(d.log)
            c = RawClient(d.host, d.port)
            try:
                greeting = c.read_greeting()
                self.assertTrue(greeting.startswith("+OK"),
                                "round %d: greeting %r\n%s" % (round_, greeting, d.diagnostics()))
                self.assertTrue(c.login("alice", "secret").startswith("+OK"), d.diagnostics())
                status, body = c.cmd_multi("RETR 1")
                self.assertTrue(status.startswith("+OK"), status)
                self.assertEqual(harness.retr_reference(MESSAGE), body)
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            finally:
                c.close()
            self.assertTrue(d.wait_session_end("127.0.0.1", start, user="alice"),
                            d.diagnostics())
            # It got in by taking a crowd connection's slot.
            evictions += 1
            self.assertEqual(1, len(re.findall(r"evicting: client=127\.0\.0\.1 ",
                                               d.log[start:])), d.log[start:])
            self.wait_evicted(evictions)
            # A new crowd connection takes the slot the client left, so
            # that the next round finds the table full of the crowd again.
            self.join_crowd(CROWD + round_)
        # The crowd is still held: exactly the evicted ones were told and
        # closed, SLOTS of them still wait.
        self.check_crowd(evictions)
        self.assertEqual(SLOTS, len(self.crowd) - evictions)
        self.assertEqual(evictions, len(self.evicted_lines()))

    def test_victim_is_from_the_address_with_most_connections(self):
        self.start(**{"pop3.max_connections": 4})
        d = self.d
        # Oldest first: one from .100, then three from .101.
        self.join_crowd(0)
        for _ in range(3):
            self.join_crowd(1)
        start = len(d.log)
        newcomer = d.connect(source="127.0.0.60")
        self.addCleanup(newcomer.close)
        self.assertTrue(newcomer.greeting.startswith("+OK"), d.diagnostics())
        self.wait_evicted(1, start)
        # Not .100's older session: the oldest of .101, which holds three.
        self.assertEqual(["127.0.0.101"], re.findall(
            r"session: client=(\S+) user=- .*end=evicted", d.log[start:]))
        data, closed = self.crowd[1].ended()
        self.assertTrue(closed and data.startswith(EVICTED_REPLY), (data, closed))
        for member in (self.crowd[0], self.crowd[2], self.crowd[3]):
            self.assertEqual((b"", False), member.ended())


class LoggedInTests(EvictionCase):
    """Logged-in sessions keep their slots."""

    def logged_in(self, user, password, source):
        c = self.d.login(user, password, source=source)
        self.addCleanup(c.close)
        return c

    def test_full_of_logged_in_sessions_refuses_the_newcomer(self):
        self.start(**{"pop3.max_connections": 3})
        d = self.d
        sessions = [self.logged_in("alice", "secret", "127.0.0.31"),
                    self.logged_in("bob", "hunter2", "127.0.0.32"),
                    self.logged_in("carol", "pw3", "127.0.0.33")]
        start = len(d.log)
        with RawClient(d.host, d.port, source="127.0.0.60") as newcomer:
            line = newcomer.readline()
            self.assertTrue(line.startswith("-ERR [SYS/TEMP]"), line)
            self.assertTrue(newcomer.is_closed(), "the refused newcomer was not closed")
        self.assertTrue(d.wait_log(r"refused: client=127\.0\.0\.60 ", start), d.diagnostics())
        # Nobody was cut: every session still answers.
        for c in sessions:
            self.assertTrue(c.cmd("STAT").startswith("+OK"), d.diagnostics())
        self.assertEqual([], self.evicted_lines())
        for c in sessions:
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_newcomer_takes_the_slot_that_has_not_logged_in(self):
        self.start(**{"pop3.max_connections": 3})
        d = self.d
        # The crowd member is the newest and from the quietest address; it
        # yields all the same, as the only one not logged in.
        sessions = [self.logged_in("alice", "secret", "127.0.0.31"),
                    self.logged_in("bob", "hunter2", "127.0.0.31")]
        slow = self.join_crowd(5)
        start = len(d.log)
        newcomer = d.connect(source="127.0.0.60")
        self.addCleanup(newcomer.close)
        self.assertTrue(newcomer.greeting.startswith("+OK"), d.diagnostics())
        self.wait_evicted(1, start)
        data, closed = slow.ended()
        self.assertTrue(closed and data.startswith(EVICTED_REPLY), (data, closed))
        for c in sessions:
            self.assertTrue(c.cmd("STAT").startswith("+OK"), d.diagnostics())
        self.assertTrue(newcomer.login("carol", "pw3").startswith("+OK"), d.diagnostics())


class BlockedVictimTests(EvictionCase):
    """A victim blocked in a write, or in a TLS handshake or read, wakes
    and yields."""

    def test_victim_blocked_in_a_write_yields(self):
        self.start(**{"pop3.max_connections": 1})
        d = self.d
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.addCleanup(s.close)
        # A small window and a large send buffer: the answers to a
        # megabyte of CAPA back up at once, and the worker blocks writing.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 1 << 20)
        s.bind(("127.0.0.70", 0))
        s.settimeout(harness.SOCKET_TIMEOUT)
        s.connect((d.host, d.port))
        self.assertTrue(s.recv(1) == b"+", d.diagnostics())
        s.setblocking(False)
        batch = b"CAPA\r\n" * 10000
        sent = 0
        while sent < (1 << 20):
            try:
                sent += s.send(batch)
            except BlockingIOError:
                break
        self.assertGreater(sent, 0)
        # The premise: the daemon's answers pile up towards this client,
        # so its worker waits in a write.
        peer = s.getsockname()
        self.assertTrue(wait_for(lambda: (backlog_to(d.port, peer) or 0) > 0,
                                 harness.SOCKET_TIMEOUT, 0.02),
                        "the daemon never blocked writing to the flooder\n" + d.diagnostics())
        start = len(d.log)
        newcomer = d.connect(source="127.0.0.60")
        self.addCleanup(newcomer.close)
        self.assertTrue(newcomer.greeting.startswith("+OK"), d.diagnostics())
        self.wait_evicted(1, start)
        self.assertTrue(re.search(r"session: client=127\.0\.0\.70 .*end=evicted", d.log[start:]))

    def tls_start(self):
        self.ssl_port = harness.free_port()
        self.start(**{"pop3.max_connections": 1, "pop3.implicit_ssl": True,
                      "pop3.ssl_port": self.ssl_port})
        ok = wait_for(lambda: not harness.port_is_free(self.ssl_port), harness.START_TIMEOUT)
        self.assertTrue(ok, "nothing listens on ssl_port\n" + self.d.diagnostics())

    def test_victim_in_a_tls_handshake_yields(self):
        self.tls_start()
        d = self.d
        # The TCP connection is made, the handshake never starts.
        stalled = socket.create_connection(("127.0.0.1", self.ssl_port),
                                           timeout=harness.SOCKET_TIMEOUT,
                                           source_address=("127.0.0.71", 0))
        self.addCleanup(stalled.close)
        # Nothing tells when a worker has taken it: a newcomer that came
        # first is itself evicted by it (the newest of one slot), and the
        # next newcomer tries again.
        for _ in range(3):
            start = len(d.log)
            newcomer = d.connect(source="127.0.0.60")
            self.addCleanup(newcomer.close)
            self.assertTrue(newcomer.greeting.startswith("+OK"), d.diagnostics())
            self.wait_evicted(1, start)
            if re.search(r"session: client=127\.0\.0\.71 .*end=evicted", d.log[start:]):
                break
        else:
            self.fail("the stalled handshake was never evicted\n" + d.diagnostics())
        stalled.settimeout(harness.SOCKET_TIMEOUT)
        self.assertEqual(b"", stalled.recv(100))  # closed, no TLS to say why in

    def test_victim_in_a_tls_read_gets_its_line_inside_tls(self):
        self.tls_start()
        d = self.d
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE  # the harness's self-signed certificate
        member = self.join_crowd(3, port=self.ssl_port, tls_context=ctx)
        start = len(d.log)
        newcomer = d.connect(source="127.0.0.60")
        self.addCleanup(newcomer.close)
        self.assertTrue(newcomer.greeting.startswith("+OK"), d.diagnostics())
        self.wait_evicted(1, start)
        data, closed = member.ended()
        self.assertTrue(data.startswith(EVICTED_REPLY), (data, closed))

    def test_victim_in_an_stls_handshake_yields(self):
        self.start(**{"pop3.max_connections": 1, "pop3.explicit_ssl": True})
        d = self.d
        victim = d.connect(source="127.0.0.72")
        self.addCleanup(victim.close)
        self.assertTrue(victim.cmd("STLS").startswith("+OK"), d.diagnostics())
        # No ClientHello follows: the worker waits in the handshake.
        start = len(d.log)
        newcomer = d.connect(source="127.0.0.60")
        self.addCleanup(newcomer.close)
        self.assertTrue(newcomer.greeting.startswith("+OK"), d.diagnostics())
        self.wait_evicted(1, start)
        self.assertTrue(re.search(r"session: client=127\.0\.0\.72 .*end=evicted", d.log[start:]))
        self.assertTrue(victim.is_closed(), "the evicted STLS client was not closed")


if __name__ == "__main__":
    sys.exit(harness.main())
