"""End-to-end tests of TLS: STLS on the plain port (RFC 2595), POP3 over
TLS from the first byte (pop3.implicit_ssl), and plaintext_auth = tls-only.
The certificate is the harness's self-signed one, so clients do not verify
it; what is tested is that the daemon speaks TLS and gates logins on it."""

import os
import socket
import ssl
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, retr_reference  # noqa: E402

MESSAGE = b"From: a@example.org\nSubject: over tls\n\n.dotted\nbody\n"
ALICE, SECRET = "alice", "secret"
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
        ok = harness.wait_for(lambda: not harness.port_is_free(self.ssl_port), 5)
        self.assertTrue(ok, "nothing listens on ssl_port\n" + self.d.diagnostics())
        with self.tls_client() as c:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            self.assertNotIn("STLS", capabilities(c))
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertEqual(c.cmd_multi("RETR 1")[1], retr_reference(MESSAGE))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_plain_bytes_on_the_tls_port_get_no_pop3(self):
        with socket.create_connection(("127.0.0.1", self.ssl_port), timeout=5) as s:
            s.sendall(b"CAPA\r\n")
            try:
                data = s.recv(512)
            except (ConnectionResetError, socket.timeout):
                data = b""
            self.assertFalse(data.startswith(b"+OK"), data)


if __name__ == "__main__":
    sys.exit(harness.main())
