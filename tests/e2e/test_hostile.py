"""End-to-end tests of hostile clients: a slowloris flood cannot keep a
legitimate client out beyond pop3.login_timeout and the overflow is answered
at once; 50 MB without a newline costs bounded memory and gets -ERR; a TLS
handshake of garbage costs one log line and the worker serves the next
client; the STARTTLS injection cases of "NO STARTTLS" (Poddebniak et al.,
USENIX Security 2021) for POP3 servers are refused. Also the secrets a
worker holds: workers are not dumpable (no core dumps, no ptrace or
/proc/PID/mem by the service user), and passwords never reach the log.

Everything is bounded: the flood is the issue's 2,000 connections
(POP3D_SLOWLORIS to change it), fewer only when this process may not open
that many descriptors."""

import base64
import os
import re
import resource
import socket
import ssl
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient  # noqa: E402

ALICE, SECRET = "alice", "secret"
MESSAGE = b"From: a@example.org\nSubject: hostile\n\nbody\n"
ELSEWHERE = "192.0.2.0/24"  # no test client is in it: 127.0.0.1 is insecure


def flood_size(wanted):
    """`wanted`, or as many connections as RLIMIT_NOFILE allows (keeping 64
    descriptors for the test itself), after raising the soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    need = wanted + 64
    if soft != resource.RLIM_INFINITY and soft < need:
        new_soft = need if hard == resource.RLIM_INFINITY else min(need, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new_soft, hard))
        soft = new_soft
    return wanted if soft == resource.RLIM_INFINITY else min(wanted, soft - 64)


SLOWLORIS_CONNECTIONS = flood_size(int(os.environ.get("POP3D_SLOWLORIS", "2000")))
# Long enough that opening the whole flood and refusing its overflow, even
# under ASan on two busy cores, is done before the flood's first sessions
# are cut: the overflow client must be refused while the pool is full.
LOGIN_TIMEOUT = 10
POOL = 20


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the harness's self-signed certificate
    return ctx


def start_tls(test, c):
    """The client side of STLS after its +OK has been read: nothing more
    may have come in the clear, then the handshake. Clear text the server
    sends after its +OK, however late, comes before its ServerHello on the
    stream, and the handshake fails on it (a POP3 line is no TLS record)."""
    test.assertEqual(c.buf, b"", "bytes after +OK before the handshake")
    try:
        c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
    except ssl.SSLError as e:
        test.fail("TLS handshake failed, clear text before it? %s" % e)


def vm_rss_kb(pid):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


class SlowlorisTests(unittest.TestCase):
    """A flood of connections that each trickle one byte a second fills
    the pool; it is cut at the login time-out (a total, not an idle time),
    and meanwhile a legitimate client is refused at once, then served.
    "At once" and "then" are checked by order, not by the clock: the
    refusal comes before any flood session has ended, the service after
    one has ended by time-out."""

    def setUp(self):
        self.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                        settings={"pop3.max_connections": POOL,
                                  "pop3.login_timeout": LOGIN_TIMEOUT,
                                  "log.level": "info"})
        self.d.start()
        self.flood = []
        self.stop_flood = threading.Event()

    def tearDown(self):
        self.stop_flood.set()
        for s in self.flood:
            s.close()
        self.d.cleanup()

    def trickle(self):
        """Sends one byte a second on every flood connection still open."""
        while not self.stop_flood.wait(1.0):
            for s in self.flood:
                try:
                    s.send(b"U")
                except OSError:
                    pass

    def test_flood_cannot_keep_a_legitimate_client_out(self):
        started = time.monotonic()
        for _ in range(SLOWLORIS_CONNECTIONS):
            s = socket.create_connection((self.d.host, self.d.port), timeout=harness.SOCKET_TIMEOUT)
            s.setblocking(False)
            self.flood.append(s)
        threading.Thread(target=self.trickle, daemon=True).start()
        flooded_in = time.monotonic() - started
        # The pool is full once the daemon refuses for want of a slot.
        self.assertTrue(self.d.wait_log(r"refused: client=\S+ reason=too-many-connections$"),
                        "the flood never filled the pool\n" + self.d.diagnostics())

        # The overflow is answered while the flood holds the pool, not
        # queued until its sessions are cut.
        t0 = time.monotonic()
        with RawClient(self.d.host, self.d.port) as c:
            try:
                first = c.readline()
            except socket.timeout:
                self.fail("the overflow client got no answer in %.0f s" % harness.SOCKET_TIMEOUT)
        refused_in = time.monotonic() - t0
        cut_before_refusal = self.d.log.count("end=timeout")
        self.assertTrue(first.startswith("-ERR [SYS/TEMP]"), first)
        self.assertEqual(cut_before_refusal, 0,
                         "the refusal came only after the flood was cut (the flood took "
                         "%.1f s to open: raise LOGIN_TIMEOUT?)" % flooded_in)

        # Then it gets in once the flood is cut at the login time-out. The
        # deadline only stops a daemon that never cuts the trickling flood
        # (an idle time-out would not) from hanging the suite.
        deadline = started + 2 * LOGIN_TIMEOUT + harness.SOCKET_TIMEOUT
        served_at = None
        attempts = 0
        while served_at is None and time.monotonic() < deadline:
            attempts += 1
            try:
                with RawClient(self.d.host, self.d.port) as c:
                    if c.read_greeting().startswith("+OK"):
                        cut_before_service = self.d.log.count("end=timeout")
                        reply = c.login(ALICE, SECRET)
                        self.assertTrue(reply.startswith("+OK"), reply)
                        self.assertTrue(c.cmd("STAT").startswith("+OK 1 "))
                        self.assertTrue(c.cmd("QUIT").startswith("+OK"))
                        served_at = time.monotonic() - started
            except (OSError, harness.ConnectionClosed):
                pass
            if served_at is None:
                time.sleep(0.2)
        self.assertIsNotNone(served_at, "never served within %.0f s of a %d s login time-out "
                             "(%d attempts)\n%s" % (deadline - started, LOGIN_TIMEOUT, attempts,
                                                    self.d.diagnostics()))
        # Greeted while a timed-out flood session had freed its slot.
        self.assertGreater(cut_before_service, 0, "served before any flood session was cut")
        # The flood's sessions ended as time-outs, however many bytes they sent.
        timeouts = self.d.wait_log(r"session: client=\S+ user=- .* end=timeout$", 0, POOL)
        self.assertGreaterEqual(len(timeouts), POOL, self.d.diagnostics())
        self.assertIsNone(self.d.proc.poll(), "the daemon died")
        # The figures for the record (issue 9 asks for them at 2,000).
        sys.stderr.write("\n  slowloris: %d connections opened in %.1f s (%d refused at once); "
                         "overflow client refused in %.3f s; served %.1f s after the flood "
                         "began\n" % (SLOWLORIS_CONNECTIONS, flooded_in,
                                       self.d.log.count("refused:"), refused_in, served_at))


class LongLineTests(unittest.TestCase):
    """50 MB without a newline: the reader keeps nothing of an over-long
    line, so the worker's memory does not grow, and the client gets -ERR
    once the line ends."""

    STREAM_BYTES = 50 * 1024 * 1024
    MAX_GROWTH_KB = 20 * 1024

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def stream_without_newline(self, client):
        workers = harness.wait_for(self.d.workers, harness.SOCKET_TIMEOUT)
        before = {pid: vm_rss_kb(pid) for pid in workers}
        peak = dict(before)
        done = threading.Event()

        def sample():
            while not done.wait(0.05):
                for pid in workers:
                    peak[pid] = max(peak[pid], vm_rss_kb(pid))

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        chunk = b"A" * (1024 * 1024)
        try:
            for _ in range(self.STREAM_BYTES // len(chunk)):
                client.send_raw(chunk)
            client.send_raw(b"\r\n")
            reply = client.readline()
        finally:
            done.set()
            sampler.join()
        for pid in workers:
            if before[pid]:
                self.assertLess(peak[pid] - before[pid], self.MAX_GROWTH_KB,
                                "worker %d grew from %d kB to %d kB"
                                % (pid, before[pid], peak[pid]))
        return reply

    def test_before_login(self):
        with self.d.connect() as c:
            reply = self.stream_without_newline(c)
            self.assertTrue(reply.startswith("-ERR"), reply)
            # The session goes on: the next line is a command again.
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_after_login(self):
        c = self.d.login(ALICE)
        with c:
            reply = self.stream_without_newline(c)
            self.assertTrue(reply.startswith("-ERR"), reply)
            self.assertTrue(c.cmd("STAT").startswith("+OK 1 "))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        self.assertEqual(len(harness.maildir_files(self.d.maildir(ALICE))), 1)


class TlsGarbageTests(unittest.TestCase):
    """Garbage where a ClientHello belongs, on the implicit-TLS port."""

    @classmethod
    def setUpClass(cls):
        cls.ssl_port = harness.free_port()
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       settings={"pop3.implicit_ssl": True, "pop3.ssl_port": cls.ssl_port,
                                 "pop3.max_connections": 2, "log.level": "info"})
        cls.d.start()
        harness.wait_for(lambda: not harness.port_is_free(cls.ssl_port), harness.SOCKET_TIMEOUT)
        # wait_ready's probe of the plain port ends as a session line (as a
        # disconnect, or a read error when its close came as a reset).
        cls.d.wait_log(r"session: client=")

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def tls_login(self):
        raw = socket.create_connection(("127.0.0.1", self.ssl_port), timeout=harness.SOCKET_TIMEOUT)
        c = RawClient.__new__(RawClient)
        c.sock = client_context().wrap_socket(raw, server_hostname="localhost")
        c.buf = b""
        c.read_greeting()
        return c

    def test_garbage_handshake_costs_one_line_and_the_worker_serves_on(self):
        garbage = [
            os.urandom(4096),
            b"\x16\x03\x01\xff\xff" + os.urandom(200),  # a record header claiming 64 KiB
            b"\x16\x03\x03\x00\x05\x01\x00\x00\x01\x00",  # a truncated ClientHello
            b"GET / HTTP/1.0\r\n\r\n",
        ]
        for i, junk in enumerate(garbage):
            with self.subTest(case=i):
                before = self.d.log.splitlines()
                alice_sessions = self.d.log.count("user=alice ")
                with socket.create_connection(("127.0.0.1", self.ssl_port), timeout=10) as s:
                    got = b""
                    try:
                        s.sendall(junk)
                        s.shutdown(socket.SHUT_WR)
                        while True:
                            chunk = s.recv(65536)
                            if not chunk:
                                break
                            got += chunk
                    except (ConnectionResetError, BrokenPipeError, OSError):
                        pass  # the server may close before reading it all
                self.assertNotIn(b"+OK", got, "POP3 spoken without TLS")
                # The next client on the same small pool is served over TLS.
                with self.tls_login() as c:
                    self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
                    self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
                    self.assertTrue(c.cmd("QUIT").startswith("+OK"))
                # The served session's summary is its worker's last line; the
                # garbage was handled before it was let in (pool of 2 or not,
                # its "handshake failed" is waited for too).
                harness.wait_for(lambda: self.d.log.count("user=alice ") > alice_sessions,
                                 harness.SOCKET_TIMEOUT)
                harness.wait_for(lambda: "handshake failed" in "\n".join(
                    self.d.log.splitlines()[len(before):]), harness.SOCKET_TIMEOUT)
                new = [l for l in self.d.log.splitlines()[len(before):]
                       if "user=alice" not in l and "user=<alice>" not in l]
                self.assertEqual(len(new), 1, "log lines for one garbage handshake: %r" % new)
                self.assertIn("handshake failed", new[0])
                self.assertLess(len(new[0]), 400, new[0])
        self.assertIsNone(self.d.proc.poll(), "the daemon died")


class StartTlsInjectionTests(unittest.TestCase):
    """The POP3 server cases of "NO STARTTLS": nothing sent in the clear
    with or before STLS may act inside the TLS session, and the server sends
    nothing between its +OK and the handshake."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       settings={"pop3.explicit_ssl": True,
                                 "pop3.plaintext_auth": "tls-only",
                                 "pop3.secure_networks": ELSEWHERE})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def stls_in_one_write(self, c, data):
        """Sends `data` (STLS plus injected lines) in one write; checks the
        clear-text answer is exactly one +OK line (anything more would be an
        injected response); does the handshake."""
        c.send_raw(data)
        reply = c.readline()
        self.assertTrue(reply.startswith("+OK"), reply)
        start_tls(self, c)

    def test_command_injected_after_stls_is_not_answered(self):
        with self.d.connect() as c:
            self.stls_in_one_write(c, b"STLS\r\nCAPA\r\n")
            # Had CAPA run (in the clear or after the handshake), its
            # "+OK" would come before the answer to this unknown command.
            reply = c.cmd("XYZZY")
            self.assertTrue(reply.startswith("-ERR"), "an injected command ran: " + reply)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_login_injected_after_stls_does_not_log_in(self):
        with self.d.connect() as c:
            self.stls_in_one_write(c, b"STLS\r\nUSER alice\r\nPASS secret\r\n")
            reply = c.cmd("STAT")
            self.assertTrue(reply.startswith("-ERR"), "logged in by injected commands: " + reply)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_user_before_stls_is_forgotten(self):
        with self.d.connect() as c:
            # Under tls-only USER is refused in the clear anyway; send it so
            # a server that remembered it would take PASS alone.
            c.cmd("USER alice")
            reply = c.cmd("STLS")
            self.assertTrue(reply.startswith("+OK"), reply)
            start_tls(self, c)
            reply = c.cmd("PASS secret")
            self.assertTrue(reply.startswith("-ERR"), "PASS used a USER from before TLS: " + reply)
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_auth_started_before_stls_does_not_carry_over(self):
        with self.d.connect() as c:
            plain = base64.b64encode(b"\0alice\0secret").decode()
            self.stls_in_one_write(c, ("STLS\r\nAUTH PLAIN " + plain + "\r\n").encode())
            self.assertTrue(c.cmd("STAT").startswith("-ERR"))

    def test_nothing_follows_the_stls_reply_in_the_clear(self):
        # Response injection the other way: the server's own answer must
        # be one line, then silence until the client's ClientHello.
        with self.d.connect() as c:
            c.send(b"CAPA")
            status = c.readline()
            self.assertTrue(status.startswith("+OK"), status)
            c.read_multiline()
            self.stls_in_one_write(c, b"STLS\r\n")
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertEqual(c.cmd("NOOP"), "+OK")

    def test_stls_on_tls_is_refused(self):
        with self.d.connect() as c:
            self.stls_in_one_write(c, b"STLS\r\n")
            self.assertTrue(c.cmd("STLS").startswith("-ERR"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))


class SecretsTests(unittest.TestCase):
    """Workers are not dumpable and passwords never reach the log."""

    PASSWORD = "Zq7-very-distinct-passw0rd"
    # This test's sessions alone come from here, so their summaries count.
    SOURCE = "127.0.0.51"

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       users={ALICE: cls.PASSWORD},
                       settings={"log.level": "debug"})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_workers_are_not_dumpable(self):
        # A process that is not dumpable has its /proc/PID files owned by
        # root, whatever its uid: that is how the kernel shows the flag.
        c = self.d.login(ALICE)  # a worker that has held a password
        with c:
            workers = harness.wait_for(self.d.workers, harness.SOCKET_TIMEOUT)
            self.assertTrue(workers)
            for pid in workers:
                uid = harness.proc_uids(pid)[1]
                st = os.stat("/proc/%d/environ" % pid)
                if uid == 0:
                    continue  # a root helper; the ownership test says nothing
                self.assertEqual(st.st_uid, 0,
                                 "worker %d (uid %d) is dumpable" % (pid, uid))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_workers_cannot_start_programs_or_gain_privileges(self):
        # What subverts a worker must not fork a program of its own, nor
        # escalate through a set-uid one; an administrator checks this in
        # /proc/PID/status and /proc/PID/limits.
        c = self.d.login(ALICE)
        with c:
            workers = harness.wait_for(self.d.workers, harness.SOCKET_TIMEOUT)
            self.assertTrue(workers)
            for pid in workers:
                self.assertEqual([], harness.confinement_problems(pid),
                                 "worker %d" % pid)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_no_password_in_the_log_whatever_the_login_path(self):
        pw = self.PASSWORD
        wrong = "Wr0ng-" + pw[::-1]
        plain = base64.b64encode(("\0alice\0" + pw).encode()).decode()
        plain_wrong = base64.b64encode(("\0alice\0" + wrong).encode()).decode()
        login_pw = base64.b64encode(pw.encode()).decode()
        start, sessions = len(self.d.log), 0
        for lines in (["USER alice", "PASS " + pw],
                      ["USER alice", "PASS " + wrong],
                      ["USER nobody-here", "PASS " + wrong],
                      ["AUTH PLAIN " + plain],
                      ["AUTH PLAIN " + plain_wrong],
                      ["AUTH LOGIN", base64.b64encode(b"alice").decode(), login_pw],
                      ["PASS " + pw],  # PASS without USER
                      ["AUTH PLAIN", plain + "x"],  # malformed base64
                      ["APOP alice " + pw]):  # a password where a digest belongs
            with self.d.connect(source=self.SOURCE) as c:
                for line in lines:
                    c.send(line)
                c.send("QUIT")
                self.assertTrue(c.is_closed(), "open after QUIT: %r" % lines)
            sessions += 1
        # A session's summary is the last line its worker writes for it.
        summaries = self.d.wait_log(r"session: client=%s .*end=quit$" % re.escape(self.SOURCE),
                                    start, sessions)
        self.assertEqual(len(summaries), sessions, self.d.diagnostics())
        log = self.d.log
        for secret in (pw, wrong, plain, plain_wrong, login_pw, pw[::-1]):
            self.assertNotIn(secret, log, "a password reached the log")


if __name__ == "__main__":
    sys.exit(harness.main())
