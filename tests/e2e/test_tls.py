"""End-to-end tests of TLS: STLS on the plain port (RFC 2595), POP3 over
TLS from the first byte (pop3.implicit_ssl), and plaintext_auth = tls-only.
The certificate is the harness's self-signed one, so clients do not verify
it; what is tested is that the daemon speaks TLS and gates logins on it,
that stock clients (openssl s_client, curl) get their mail over it, that
legacy protocol versions are off unless asked for, that sessions resume on
any worker, that a bad certificate stops the start, and that a client that
never finishes its handshake cannot hold a worker."""

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, retr_reference  # noqa: E402

MESSAGE = b"From: a@example.org\nSubject: over tls\n\n.dotted\nbody\n"
ALICE, SECRET = "alice", "secret"
# Slack on top of a configured time-out before an awaited event counts as
# missing: the suites run under sanitizers on two cores.
MARGIN = 10
# The daemon rounds what is left of a deadline down to whole milliseconds
# when it polls, so it may give up that much before the full time-out.
TIMER_SLACK = 0.05
# A network no test client is in, so 127.0.0.1 counts as insecure and
# tls-only applies to it (the address is never contacted).
ELSEWHERE = "192.0.2.0/24"


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the harness's self-signed certificate
    return ctx


def capabilities(client):
    status = client.cmd("CAPA")
    assert status.startswith("+OK"), status
    return [l.split(" ")[0].upper() for l in client.read_multiline().decode().splitlines()]


def upgrade(client):
    """STLS, then the handshake on the same socket; the client's buffer
    must be empty (the server may not have sent anything past +OK)."""
    reply = client.cmd("STLS")
    assert reply.startswith("+OK"), reply
    assert client.buf == b"", "bytes after the STLS reply: %r" % client.buf
    client.sock = client_context().wrap_socket(client.sock, server_hostname="localhost")
    return client


def tls_client(port, ctx=None, session=None, host="127.0.0.1"):
    """A RawClient speaking TLS from the first byte (the implicit port),
    greeting read. `session` resumes an earlier TLS session."""
    client = RawClient.__new__(RawClient)
    raw = socket.create_connection((host, port), timeout=harness.SOCKET_TIMEOUT)
    try:
        client.sock = (ctx or client_context()).wrap_socket(
            raw, server_hostname="localhost", session=session)
    except BaseException:
        raw.close()
        raise
    client.buf = b""
    client.read_greeting()
    return client


def wait_listening(d, port):
    """The implicit-TLS port listens (Daemon.start only waited for the plain
    one)."""
    ok = harness.wait_for(lambda: not harness.port_is_free(port), harness.START_TIMEOUT)
    assert ok, "nothing listens on port %d\n%s" % (port, d.diagnostics())


def wait_log(d, pattern, start=0, timeout=MARGIN):
    """The first match of regex `pattern` in the daemon's log after offset
    `start`, waiting for it to be written; None when it never is."""
    rx = re.compile(pattern, re.M)
    return harness.wait_for(lambda: rx.search(d.log, start), timeout)


def session_pids(log, start=0):
    """Pids of the workers that logged a finished session from 127.0.0.1
    after offset `start` of the log, in order."""
    return [int(m.group(1)) for m in re.finditer(
        r"^.*pop3d\[(\d+)\] worker: \w+: session: client=127\.0\.0\.1 ", log[start:], re.M)]


def s_client(args, stdin, timeout=20):
    """openssl s_client with `args`; returns (exit code, stdout text)."""
    r = subprocess.run(["openssl", "s_client", "-quiet"] + args, input=stdin,
                       capture_output=True, timeout=timeout)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


def tls10_context():
    """A client that offers TLS 1.0 and nothing else, with every cipher."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1
    ctx.set_ciphers("ALL:@SECLEVEL=0")
    return ctx


def local_tls10_problem():
    """None when this machine's Python/OpenSSL can complete a TLS 1.0
    handshake with itself (over a socket pair, no daemon involved);
    otherwise why not, as a skip reason."""
    cert, key = harness.certificate_pair()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            server_ctx.minimum_version = ssl.TLSVersion.TLSv1
            server_ctx.maximum_version = ssl.TLSVersion.TLSv1
        server_ctx.set_ciphers("ALL:@SECLEVEL=0")
        server_ctx.load_cert_chain(cert, key)
        client_ctx = tls10_context()
    except (ssl.SSLError, ValueError) as e:
        return "this Python/OpenSSL cannot be set to TLS 1.0: %s" % e
    a, b = socket.socketpair()
    a.settimeout(5)
    b.settimeout(5)
    outcome = {}

    def serve():
        try:
            with server_ctx.wrap_socket(a, server_side=True) as s:
                outcome["server"] = s.version()
        except (OSError, ssl.SSLError) as e:
            outcome["server_error"] = e

    t = threading.Thread(target=serve)
    t.start()
    try:
        with client_ctx.wrap_socket(b, server_hostname="localhost") as c:
            version = c.version()
    except (OSError, ssl.SSLError) as e:
        return "this Python/OpenSSL cannot speak TLS 1.0 even to itself: %s" % e
    finally:
        t.join(10)
        a.close()
        b.close()
    if version != "TLSv1":
        return "a TLS 1.0-only client negotiated %s with itself" % version
    return None


class StlsTests(unittest.TestCase):
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

    def test_capa_offers_stls_and_no_plaintext_login_before_it(self):
        with self.d.connect() as c:
            caps = capabilities(c)
            self.assertIn("STLS", caps)
            self.assertNotIn("USER", caps, "USER offered without TLS under tls-only")

    def test_plaintext_login_is_refused_before_stls(self):
        with self.d.connect() as c:
            reply = c.login(ALICE, SECRET)
            self.assertTrue(reply.startswith("-ERR"), reply)

    def test_login_and_retr_after_stls(self):
        with self.d.connect() as c:
            upgrade(c)
            caps = capabilities(c)
            self.assertNotIn("STLS", caps, "STLS offered again on TLS")
            self.assertIn("USER", caps)
            reply = c.login(ALICE, SECRET)
            self.assertTrue(reply.startswith("+OK"), reply)
            status, body = c.cmd_multi("RETR 1")
            self.assertTrue(status.startswith("+OK"), status)
            self.assertEqual(body, retr_reference(MESSAGE))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_commands_sent_in_the_clear_after_stls_are_dropped(self):
        # CVE-2011-0411 style: a man in the middle appends a command to the
        # STLS line; it must not run inside the TLS session.
        with self.d.connect() as c:
            c.send_raw(b"STLS\r\nQUIT\r\n")
            reply = c.readline()
            self.assertTrue(reply.startswith("+OK"), reply)
            self.assertEqual(c.buf, b"")
            c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
            # Had the QUIT run, USER would read its reply and PASS the end.
            reply = c.login(ALICE, SECRET)
            self.assertTrue(reply.startswith("+OK"), reply)
            self.assertTrue(c.cmd("STAT").startswith("+OK 1 "), "the injected QUIT ran")
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_poplib_stls(self):
        p = self.d.pop()
        try:
            p.stls(context=client_context())
            p.user(ALICE)
            p.pass_(SECRET)
            self.assertEqual(p.stat()[0], 1)
        finally:
            p.quit()

    def test_capa_after_stls_offers_user_and_sasl_but_not_stls(self):
        with self.d.connect() as c:
            self.assertIn("STLS", capabilities(c))
            upgrade(c)
            c.send("CAPA")
            self.assertTrue(c.readline().startswith("+OK"))
            lines = c.read_multiline().decode().splitlines()
            names = [l.split(" ")[0].upper() for l in lines]
            self.assertNotIn("STLS", names, "STLS offered again on TLS: %r" % lines)
            self.assertIn("USER", names, lines)
            sasl = [l.upper().split()[1:] for l in lines if l.upper().startswith("SASL")]
            self.assertTrue(sasl and "PLAIN" in sasl[0], "no SASL PLAIN after STLS: %r" % lines)

    def test_openssl_s_client_starttls(self):
        code, out, err = s_client(["-connect", "127.0.0.1:%d" % self.d.port,
                                   "-starttls", "pop3"], b"CAPA\r\nQUIT\r\n")
        lines = out.splitlines()
        self.assertTrue(lines and lines[0].startswith("+OK"),
                        "no +OK to CAPA over STLS: %r\nstderr: %s" % (out, err[-2000:]))
        self.assertIn("USER", lines, out)
        self.assertNotIn("STLS", lines, out)
        self.assertIn(".", lines, "CAPA list not terminated: %r" % out)
        self.assertTrue(lines[-1].startswith("+OK"), "no +OK to QUIT: %r" % out)

    def test_curl_with_required_tls(self):
        url = "pop3://alice:secret@127.0.0.1:%d/1" % self.d.port
        r = subprocess.run(["curl", "-s", "-S", "-k", "--ssl-reqd", "--max-time", "10", url],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, retr_reference(MESSAGE))


class ImplicitTlsTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ssl_port = harness.free_port()
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       settings={"pop3.implicit_ssl": True, "pop3.ssl_port": cls.ssl_port})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def tls_client(self):
        client = RawClient.__new__(RawClient)
        raw = socket.create_connection(("127.0.0.1", self.ssl_port),
                                       timeout=harness.SOCKET_TIMEOUT)
        client.sock = client_context().wrap_socket(raw, server_hostname="localhost")
        client.buf = b""
        client.read_greeting()
        return client

    def test_tls_from_the_first_byte(self):
        # The plain port answers as well; wait_ready only saw that one.
        ok = harness.wait_for(lambda: not harness.port_is_free(self.ssl_port),
                              harness.START_TIMEOUT)
        self.assertTrue(ok, "nothing listens on ssl_port\n" + self.d.diagnostics())
        with self.tls_client() as c:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            self.assertNotIn("STLS", capabilities(c))
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertEqual(c.cmd_multi("RETR 1")[1], retr_reference(MESSAGE))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_openssl_s_client_on_the_implicit_port(self):
        wait_listening(self.d, self.ssl_port)
        code, out, err = s_client(["-connect", "127.0.0.1:%d" % self.ssl_port],
                                  b"CAPA\r\nQUIT\r\n")
        lines = out.splitlines()
        self.assertTrue(lines and lines[0].startswith("+OK"),
                        "no greeting over implicit TLS: %r\nstderr: %s" % (out, err[-2000:]))
        self.assertGreaterEqual(sum(1 for l in lines if l.startswith("+OK")), 3,
                                "greeting, CAPA and QUIT should each say +OK: %r" % out)
        self.assertIn("USER", lines, out)
        self.assertNotIn("STLS", lines, out)
        self.assertTrue(lines[-1].startswith("+OK"), "no +OK to QUIT: %r" % out)

    def test_curl_pop3s_retrieves_message_one(self):
        wait_listening(self.d, self.ssl_port)
        url = "pop3s://alice:secret@127.0.0.1:%d/1" % self.ssl_port
        r = subprocess.run(["curl", "-s", "-S", "-k", "--max-time", "10", url],
                           capture_output=True, timeout=20)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, retr_reference(MESSAGE))

    def test_plain_bytes_on_the_tls_port_get_no_pop3(self):
        start = len(self.d.log)
        received = b""
        with socket.create_connection(("127.0.0.1", self.ssl_port),
                                      timeout=harness.SOCKET_TIMEOUT) as s:
            s.sendall(b"CAPA\r\n")
            # The handshake fails on these bytes and the server hangs up:
            # read all it sends until then.
            try:
                while True:
                    chunk = s.recv(512)
                    if not chunk:
                        break
                    received += chunk
            except ConnectionResetError:
                pass
            except socket.timeout:
                self.fail("the server neither answered nor closed in %d s: %r"
                          % (harness.SOCKET_TIMEOUT, received))
        self.assertNotIn(b"+OK", received)
        self.assertNotIn(b"-ERR", received)
        self.assertTrue(wait_log(self.d, r"tls: client=127\.0\.0\.1 handshake failed", start),
                        "the failed handshake is not logged\n" + self.d.log[start:])


class SecureNetworkTests(unittest.TestCase):
    """The other side of tls-only: inside pop3.secure_networks a plain-text
    login is fine, so the refusal in StlsTests is about the network."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       settings={"pop3.explicit_ssl": True,
                                 "pop3.plaintext_auth": "tls-only",
                                 "pop3.secure_networks": "127.0.0.0/8"})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_plaintext_login_inside_secure_networks(self):
        with self.d.connect() as c:
            self.assertIn("USER", capabilities(c))
            reply = c.login(ALICE, SECRET)
            self.assertTrue(reply.startswith("+OK"), reply)
            self.assertTrue(c.cmd("STAT").startswith("+OK 1 "))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))


class LegacySslTests(unittest.TestCase):
    """pop3.legacy_ssl: TLS 1.0 only when asked for."""

    @classmethod
    def setUpClass(cls):
        cls.daemons = {}
        try:
            for legacy in (False, True):
                port = harness.free_port()
                d = Daemon(settings={"pop3.implicit_ssl": True, "pop3.ssl_port": port,
                                     "pop3.legacy_ssl": legacy})
                d.ssl_port = port
                cls.daemons[legacy] = d
                d.start()
                wait_listening(d, port)
        except BaseException:
            cls.tearDownClass()
            raise
        cls.problem = local_tls10_problem()

    @classmethod
    def tearDownClass(cls):
        for d in cls.daemons.values():
            d.cleanup()

    def test_tls10_client_is_refused_without_legacy(self):
        if self.problem:
            self.skipTest(self.problem)
        d = self.daemons[False]
        start = len(d.log)
        raw = socket.create_connection(("127.0.0.1", d.ssl_port), timeout=10)
        try:
            with self.assertRaises((ssl.SSLError, ConnectionError),
                                   msg="a TLS 1.0 client got through with legacy_ssl off"):
                s = tls10_context().wrap_socket(raw, server_hostname="localhost")
                s.recv(100)  # not reached when the handshake is refused
        finally:
            raw.close()
        self.assertTrue(wait_log(d, r"tls: client=127\.0\.0\.1 handshake failed", start),
                        "the refused handshake is not logged\n" + d.log[start:])

    def test_tls10_client_connects_with_legacy(self):
        if self.problem:
            self.skipTest(self.problem)
        d = self.daemons[True]
        with tls_client(d.ssl_port, tls10_context()) as c:
            self.assertEqual(c.sock.version(), "TLSv1")
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_modern_clients_still_get_tls12_or_later_with_legacy(self):
        d = self.daemons[True]
        with tls_client(d.ssl_port) as c:
            self.assertIn(c.sock.version(), ("TLSv1.2", "TLSv1.3"))
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)


class ResumptionTests(unittest.TestCase):
    """A TLS session made with one worker resumes on the others: the ticket
    keys are made before the fork, so every worker can open every ticket."""

    @classmethod
    def setUpClass(cls):
        cls.ssl_port = harness.free_port()
        cls.d = Daemon(settings={"pop3.implicit_ssl": True, "pop3.ssl_port": cls.ssl_port,
                                 "pop3.max_connections": 4})
        cls.d.start()
        wait_listening(cls.d, cls.ssl_port)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def resume_on_other_workers(self, ctx, reconnects=5):
        d = self.d
        start = len(d.log)
        # Two plain sessions and the first TLS one stay open, so every
        # reconnection is served by a worker other than the one that
        # issued the session.
        held = [d.connect(), d.connect()]
        try:
            first = tls_client(self.ssl_port, ctx)
            # TLS 1.3 sends its tickets after the handshake; the greeting
            # has been read, so they have arrived by now.
            session = first.sock.session
            self.assertIsNotNone(session, "no TLS session to resume")
            self.assertFalse(first.sock.session_reused)
            reused = []
            for i in range(reconnects):
                with tls_client(self.ssl_port, ctx, session=session) as c:
                    reused.append(c.sock.session_reused)
                    self.assertTrue(c.cmd("QUIT").startswith("+OK"))
                harness.wait_for(lambda: len(session_pids(d.log, start)) > i, MARGIN)
            self.assertTrue(first.cmd("QUIT").startswith("+OK"))
            first.close()
            pids = harness.wait_for(
                lambda: (lambda p: p if len(p) > reconnects else None)(session_pids(d.log, start)),
                MARGIN)
        finally:
            for c in held:
                c.close()
        self.assertEqual(reused, [True] * reconnects,
                         "resumption on reconnect 1..%d: %r" % (reconnects, reused))
        self.assertTrue(pids, "session lines missing\n" + d.log[start:])
        issuer, resumers = pids[-1], pids[:reconnects]
        self.assertNotIn(issuer, resumers,
                         "a reconnection ran on the issuing worker while it was busy?")
        return issuer, resumers

    def test_tls12_session_resumes_on_other_workers(self):
        ctx = client_context()
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        self.resume_on_other_workers(ctx)

    def test_tls13_session_resumes_on_other_workers(self):
        ctx = client_context()
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        self.resume_on_other_workers(ctx)


def other_key(directory):
    """A fresh P-256 key that belongs to no certificate."""
    path = os.path.join(directory, "other-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "EC", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-out", path],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(path, 0o644)
    return path


class CertificateErrorTests(unittest.TestCase):
    """A certificate the daemon cannot use stops the start, with a reason an
    administrator can act on; pop3d -t says the same."""

    def setUp(self):
        self.keydir = tempfile.mkdtemp(prefix="pop3d-e2e-key-")
        os.chmod(self.keydir, 0o755)
        self.daemons = []

    def tearDown(self):
        for d in self.daemons:
            d.cleanup()
        subprocess.run(["rm", "-rf", self.keydir])

    def failed_start(self, settings):
        d = Daemon(settings=dict({"pop3.explicit_ssl": True}, **settings))
        self.daemons.append(d)
        d.start(wait=False)
        try:
            code = d.proc.wait(harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("pop3d started with a bad certificate\n" + d.diagnostics())
        self.assertNotEqual(code, 0, d.diagnostics())
        check = d.run_tool("-t")
        self.assertNotEqual(check.returncode, 0, "-t passed a bad certificate:\n" + check.stdout)
        return d, d.stderr, check.stderr

    def test_key_of_another_pair_is_refused(self):
        key = other_key(self.keydir)
        d, stderr, check = self.failed_start({"certificates.default.key_file": key})
        for where, text in (("start", stderr), ("-t", check)):
            self.assertIn("does not match", text, "%s stderr: %s" % (where, text))
            self.assertIn(key, text, "%s stderr does not name the key file: %s" % (where, text))
        with self.assertRaises(OSError, msg="something listens after a failed start"):
            socket.create_connection(("127.0.0.1", d.port), timeout=1).close()

    def test_missing_certificate_file_is_named(self):
        missing = os.path.join(self.keydir, "no-such-cert.pem")
        d, stderr, check = self.failed_start({"certificates.default.cert_file": missing})
        for where, text in (("start", stderr), ("-t", check)):
            self.assertIn("certificates.default.cert_file", text, "%s stderr: %s" % (where, text))
            self.assertIn(missing, text, "%s stderr: %s" % (where, text))


def make_pair(directory, name):
    """A self-signed EC pair for CN `name`, readable by the daemon's user."""
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                    "/CN=" + name, "-keyout", key, "-out", cert],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.chmod(cert, 0o644)
    os.chmod(key, 0o644)
    return cert, key


def presented_cn(port, server_name="localhost"):
    """The CN of the certificate the implicit-TLS port presents."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=harness.SOCKET_TIMEOUT)
    with client_context().wrap_socket(raw, server_hostname=server_name) as tls:
        der = tls.getpeercert(binary_form=True)
    text = subprocess.run(["openssl", "x509", "-inform", "DER", "-noout", "-subject"],
                          input=der, capture_output=True, check=True).stdout.decode()
    return text.strip().split("CN", 1)[1].lstrip(" =")


class CertificateReloadTests(unittest.TestCase):
    """SIGHUP re-reads certificates the service user can read; when it
    cannot, the loaded ones stay and the log says a restart is needed. A
    client naming another configured certificate (SNI) gets that one."""

    def setUp(self):
        self.ssl_port = harness.free_port()
        self.d = Daemon(settings={"pop3.implicit_ssl": True, "pop3.ssl_port": self.ssl_port})
        self.cert, self.key = make_pair(self.d.dir, "first.example")
        self.d.set("certificates.default.cert_file", self.cert)
        self.d.set("certificates.default.key_file", self.key)
        mail_cert, mail_key = make_pair(self.d.dir, "mail.example.org")
        self.d.set("certificates.mail.cert_file", mail_cert)
        self.d.set("certificates.mail.key_file", mail_key)
        self.d.start()
        wait_listening(self.d, self.ssl_port)

    def tearDown(self):
        self.d.cleanup()

    def test_sni_names_another_certificate(self):
        self.assertEqual(presented_cn(self.ssl_port), "first.example")
        self.assertEqual(presented_cn(self.ssl_port, "mail.example.org"), "mail.example.org")

    def test_sighup_loads_a_renewed_certificate(self):
        renewed_cert, renewed_key = make_pair(self.d.dir, "renewed.example")
        os.replace(renewed_cert, self.cert)
        os.replace(renewed_key, self.key)
        self.d._hand_over()
        mark = len(self.d.log)
        self.d.signal(signal.SIGHUP)
        self.assertTrue(wait_log(self.d, r"reloaded", mark), self.d.diagnostics())
        self.assertTrue(harness.wait_for(
            lambda: presented_cn(self.ssl_port) == "renewed.example", MARGIN),
            "still presenting %s" % presented_cn(self.ssl_port))

    def test_unreadable_key_keeps_the_loaded_certificate(self):
        os.chmod(self.key, 0)
        if os.geteuid() == 0:
            os.chown(self.key, 0, 0)  # root's alone: the service user cannot read it
        mark = len(self.d.log)
        self.d.signal(signal.SIGHUP)
        self.assertTrue(wait_log(self.d, r"keeping the loaded ones until a restart", mark),
                        self.d.diagnostics())
        self.assertEqual(presented_cn(self.ssl_port), "first.example")


LOGIN_TIMEOUT = 2  # s, for the stalled handshake


class StalledHandshakeTests(unittest.TestCase):
    """A client that opens the implicit-TLS port and says nothing is cut off
    by pop3.login_timeout, and its worker goes back to work."""

    @classmethod
    def setUpClass(cls):
        cls.ssl_port = harness.free_port()
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       settings={"pop3.implicit_ssl": True, "pop3.ssl_port": cls.ssl_port,
                                 "pop3.max_connections": 2},
                       args=["--pop3.login_timeout=%d" % LOGIN_TIMEOUT])
        cls.d.start()
        wait_listening(cls.d, cls.ssl_port)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_silent_client_is_cut_at_login_timeout(self):
        d = self.d
        start = len(d.log)
        # The master accepts (in the kernel) before its pool is forked.
        workers_before = harness.wait_for(lambda: (lambda w: w if len(w) == 3 else None)(
            d.workers()), MARGIN) or d.workers()
        limit = LOGIN_TIMEOUT + MARGIN
        began = time.monotonic()
        with socket.create_connection(("127.0.0.1", self.ssl_port), timeout=limit) as s:
            try:
                data = s.recv(4096)
            except ConnectionResetError:
                data = b""
            except socket.timeout:
                self.fail("the silent client was still connected %d s after connecting "
                          "(login_timeout = %d s)" % (limit, LOGIN_TIMEOUT))
            took = time.monotonic() - began
        self.assertEqual(data, b"", "the server sent something to a client that said nothing")
        # The worker's clock starts at its accept, after `began`.
        self.assertGreaterEqual(took, LOGIN_TIMEOUT - TIMER_SLACK,
                                "cut after %.2f s, before login_timeout (%d s)"
                                % (took, LOGIN_TIMEOUT))
        # "timed out": other tests of this class leave other handshake lines.
        m = wait_log(d, r"^.*pop3d\[(\d+)\] worker: \w+: .*client=127\.0\.0\.1 .*handshake"
                        r".*timed out.*$", start)
        self.assertTrue(m, "the cut handshake is not logged\n" + d.log[start:])
        worker = int(m.group(1))
        # The worker lives on, back in its accept loop, and the pool is the
        # one it was: nothing died or was replaced.
        self.assertIn(worker, d.workers(), "the worker that timed out is gone")
        self.assertEqual(d.workers(), workers_before)
        with tls_client(self.ssl_port) as c:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertEqual(c.cmd_multi("RETR 1")[1], retr_reference(MESSAGE))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        # Every worker, the one that timed out included, answers: two TLS
        # sessions held at once take two workers, and the third connection
        # (past max_connections = 2) must be refused by the last one, the
        # pool being max_connections + 1 workers.
        self.assertEqual(len(workers_before), 3, "pool of max_connections + 1 expected")
        # The worker logs its summary after the QUIT reply: wait for it, so
        # that it is not counted among the answers below.
        self.assertTrue(harness.wait_for(lambda: "end=quit" in d.log[start:], MARGIN),
                        "the RETR session's summary is not logged\n" + d.log[start:])
        start = len(d.log)
        held = []
        try:
            held = [tls_client(self.ssl_port), tls_client(self.ssl_port)]
            # Logged in: a session that has not would give its slot to the
            # newcomer (eviction, test_slow_crowd.py).
            for c, (user, secret) in zip(held, ((ALICE, SECRET), ("bob", "hunter2"))):
                self.assertTrue(c.login(user, secret).startswith("+OK"))
            with RawClient("127.0.0.1", d.port, timeout=5) as extra:
                refusal = extra.readline()
        finally:
            for c in held:
                c.close()
        self.assertTrue(refusal.startswith("-ERR [SYS/TEMP]"), refusal)
        pids = harness.wait_for(lambda: (lambda p: p if len(p) == 3 else None)(
            [int(x) for x in re.findall(
                r"^.*pop3d\[(\d+)\] worker: \w+: (?:session|refused): client=127\.0\.0\.1 ",
                d.log[start:], re.M)]), MARGIN)
        self.assertTrue(pids, "three answers should be logged\n" + d.log[start:])
        self.assertEqual(sorted(pids), sorted(workers_before))
        self.assertIn(worker, pids)


if __name__ == "__main__":
    sys.exit(harness.main())
