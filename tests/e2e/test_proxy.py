#!/usr/bin/env python3
"""pop3d behind a load balancer: the PROXY protocol (pop3.proxy_protocol).

The headers are written here byte by byte from HAProxy's proxy-protocol.txt
(the CRC32C below is a bitwise one of our own, not pop3d's table), sent over
real sockets to the real daemon; then the real HAProxy sits in front and
sends its own (send-proxy, send-proxy-v2 with crc32c, and send-proxy-v2-ssl
from a frontend that ends the client's TLS).

Checked, as an administrator would see it: the client address in the log
lines, anti-hammering, blocked IPs and the per-address limit going by the
header's address, plaintext_auth honouring TLS that ended at the proxy, and
anyone else (an untrusted peer, a malformed or late header) closed with one
log line and no greeting.
"""

import os
import shutil
import signal
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import Daemon, RawClient

ALICE, SECRET = "alice", "secret"
MESSAGE = b"Subject: through the proxy\r\n\r\nhello\r\n"
# Loopback addresses of the test's own: the proxy's (trusted) and others.
PROXY_ADDR = "127.0.0.3"
OTHER_ADDR = "127.0.0.4"
CLIENT_ADDR = "127.0.0.5"
# Documentation networks: clients only a header can name.
CLIENT_V4 = "192.0.2.10"
CLIENT_V6 = "2001:db8::5"

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_TYPE_CRC32C = 0x03
PP2_TYPE_SSL = 0x20
PP2_SUBTYPE_SSL_VERSION = 0x21
PP2_TYPE_NOOP = 0x04
PP2_CLIENT_SSL = 0x01


def crc32c(data):
    """CRC-32C (Castagnoli), reflected polynomial 0x82F63B78, bit by bit."""
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def tlv(kind, value):
    return struct.pack("!BH", kind, len(value)) + value


def v1(src, dst="127.0.0.1", sport=40000, dport=110):
    family = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (family, src, dst, sport, dport)).encode()


def v2(src=None, dst=None, sport=40000, dport=110, tlvs=b"", local=False, crc=False):
    """A v2 header; src None with local=True gives LOCAL/UNSPEC."""
    if src is None:
        fam, addresses = 0x00, b""
    elif ":" in src:
        fam = 0x21
        addresses = (socket.inet_pton(socket.AF_INET6, src) +
                     socket.inet_pton(socket.AF_INET6, dst or "::1") +
                     struct.pack("!HH", sport, dport))
    else:
        fam = 0x11
        addresses = (socket.inet_pton(socket.AF_INET, src) +
                     socket.inet_pton(socket.AF_INET, dst or "127.0.0.1") +
                     struct.pack("!HH", sport, dport))
    body = addresses + tlvs
    if crc:
        body += tlv(PP2_TYPE_CRC32C, b"\0\0\0\0")
    header = (V2_SIGNATURE + bytes([0x20 if local else 0x21, fam]) +
              struct.pack("!H", len(body)) + body)
    if crc:
        header = header[:-4] + struct.pack("!I", crc32c(header))
    return header


def ssl_tlv(client_tls=True, version=b"TLSv1.3"):
    return tlv(PP2_TYPE_SSL, bytes([PP2_CLIENT_SSL if client_tls else 0]) + b"\0\0\0\0" +
               tlv(PP2_SUBTYPE_SSL_VERSION, version))


def capabilities(client):
    status = client.cmd("CAPA")
    assert status.startswith("+OK"), status
    return [l.split(" ")[0].upper() for l in client.read_multiline().decode().splitlines()]


def tls_client(port, source=CLIENT_ADDR, before_handshake=b""):
    """A RawClient over TLS from the first byte to 127.0.0.1:`port` (from
    `source`), after `before_handshake` in plain text (a PROXY header);
    nothing read yet. The harness's certificate is self-signed."""
    raw = socket.create_connection(("127.0.0.1", port), timeout=harness.SOCKET_TIMEOUT,
                                   source_address=(source, 0))
    if before_handshake:
        raw.sendall(before_handshake)
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    c = RawClient.__new__(RawClient)
    try:
        c.sock = ctx.wrap_socket(raw, server_hostname="localhost")
    except BaseException:
        raw.close()
        raise
    c.buf = b""
    return c


def proxied(d, header, source=PROXY_ADDR, port=None):
    """A RawClient that sent `header` from `source`; nothing read yet."""
    c = RawClient(d.host, port or d.port, source=source)
    c.send_raw(header)
    return c


def greeted(d, header, **kw):
    c = proxied(d, header, **kw)
    c.read_greeting()
    return c


def closed_unanswered(test, c):
    """The daemon closes `c` and sends it nothing at all."""
    c.sock.settimeout(harness.SOCKET_TIMEOUT)
    got = b""
    try:
        while True:
            chunk = c.sock.recv(4096)
            if not chunk:
                break
            got += chunk
    except ConnectionResetError:
        pass
    c.close()
    test.assertEqual(got, b"", "a closed peer was sent bytes")


def expect_log(test, d, pattern, start, count=1):
    """The matching log lines after `start`; fails the test when fewer
    than `count` come within the socket time-out."""
    lines = d.wait_log(pattern, start, count)
    test.assertGreaterEqual(len(lines), count, "no %d log line(s) %r\n%s"
                            % (count, pattern, d.log[start:][-3000:]))
    return lines


def base_settings(**extra):
    s = {"pop3.proxy_protocol": True,
         "pop3.proxy_trusted_networks": "127.0.0.1;" + PROXY_ADDR,
         "pop3.max_connections": 6}
    s.update(extra)
    return s


class HeaderTests(unittest.TestCase):
    """Headers written by hand, from a trusted peer and from others."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}},
                       settings=base_settings(**{"pop3.proxy_timeout": "1s"}))
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_v1_address_is_the_sessions_in_every_log_line(self):
        d = self.d
        start = len(d.log)
        with greeted(d, v1(CLIENT_V4)) as c:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            self.assertTrue(c.login(ALICE, "wrong").startswith("-ERR"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, d, r"login failed: .*rip=192\.0\.2\.10,", start)
        expect_log(self, d, r"session: client=192\.0\.2\.10 user=- .*end=quit", start)

    def test_v1_tcp6(self):
        d = self.d
        start = len(d.log)
        with greeted(d, v1(CLIENT_V6, dst="::1")) as c:
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, d, r"session: client=2001:db8::5 user=alice ", start)

    def test_v2_tcp4_with_crc_unknown_tlvs_and_data_behind_it(self):
        d = self.d
        start = len(d.log)
        # The client's first command travels in the header's segment: the
        # daemon must not swallow it with the header.
        c = proxied(d, v2(CLIENT_V4, tlvs=tlv(PP2_TYPE_NOOP, b"xyz") + tlv(0xE0, b"private"),
                          crc=True) + b"CAPA\r\n")
        with c:
            self.assertTrue(c.read_greeting().startswith("+OK"), c.greeting)
            self.assertTrue(c.readline().startswith("+OK"))
            c.read_multiline()
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, d, r"session: client=192\.0\.2\.10 user=- .*end=quit", start)

    def test_v2_local_keeps_the_real_address(self):
        d = self.d
        start = len(d.log)
        with greeted(d, v2(local=True), source=PROXY_ADDR) as c:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, d, r"session: client=127\.0\.0\.3 user=- .*end=quit", start)

    def test_v1_unknown_keeps_the_real_address(self):
        d = self.d
        start = len(d.log)
        with greeted(d, b"PROXY UNKNOWN ff::1 ff::2 1 2\r\n", source=PROXY_ADDR) as c:
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, d, r"session: client=127\.0\.0\.3 user=- .*end=quit", start)

    def refused(self, header, why, source=PROXY_ADDR):
        d = self.d
        start = len(d.log)
        closed_unanswered(self, proxied(d, header, source=source))
        pattern = r"proxy: client=%s closed unanswered: .*%s" % (source.replace(".", r"\."), why)
        line = expect_log(self, d, pattern, start)
        self.assertEqual(len(line), 1, line)
        return line[0]

    def test_a_peer_not_trusted_is_closed_unanswered(self):
        self.refused(v1(CLIENT_V4), "not in pop3.proxy_trusted_networks", source=OTHER_ADDR)

    def test_bad_crc_is_closed_unanswered(self):
        good = v2(CLIENT_V4, crc=True)
        bad = good[:-1] + bytes([good[-1] ^ 1])
        self.refused(bad, "PROXY v2: .*(CRC|crc)")

    def test_malformed_headers_are_closed_unanswered(self):
        for header in (b"PROXY TCP4 192.0.2.1 127.0.0.1 110\r\n",   # too few fields
                       b"PROXY TCP4 2001:db8::1 127.0.0.1 1 110\r\n",  # family mismatch
                       b"PROXY TCP4 192.0.2.1 127.0.0.1 99999 110\r\n",  # port range
                       b"USER alice\r\n",  # a client that speaks no PROXY
                       b"PROXY TCP4 " + b"1" * 120 + b"\r\n",  # over 107 octets
                       V2_SIGNATURE + b"\x31\x11\x00\x0c" + b"\0" * 12,  # version 3
                       V2_SIGNATURE + b"\x21\x12\x00\x0c" + b"\0" * 12,  # UDP
                       v2(CLIENT_V4, tlvs=b"\x20\x00\x09\x01"),  # a truncated TLV
                       ):
            with self.subTest(header=header[:40]):
                self.refused(header, "PROXY (header|v1|v2): ")

    def test_a_late_header_is_closed_unanswered(self):
        d = self.d
        start = len(d.log)
        c = proxied(d, b"PROXY TCP4 192.0.2")  # and then nothing
        closed_unanswered(self, c)
        expect_log(self, d, r"proxy: client=127\.0\.0\.3 closed unanswered: PROXY header: timed out",
                   start)


class AddressPolicyTests(unittest.TestCase):
    """Blocks, lists and limits go by the header's address."""

    def test_anti_hammering_blocks_the_guesser_not_the_proxy(self):
        with Daemon(mail={ALICE: {"m": MESSAGE}}, settings=base_settings(**{
                "pop3.anti_hammering": True,
                "general.anti_hammering.max_failures": 2,
                "general.anti_hammering.block_time": "60s"})) as d:
            start = len(d.log)
            for _ in range(2):
                with greeted(d, v1("192.0.2.20")) as c:
                    self.assertTrue(c.login(ALICE, "guess").startswith("-ERR"))
            expect_log(self, d, r"login failed: .*rip=192\.0\.2\.20,", start, 2)
            with greeted(d, v1("192.0.2.20")) as c:
                self.assertTrue(c.greeting.startswith("-ERR"), c.greeting)
            expect_log(self, d, r"refused: client=192\.0\.2\.20 reason=anti-hammering", start)
            # Everyone else behind the same proxy is still served.
            with greeted(d, v1("192.0.2.21")) as c:
                self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
                self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            out = d.run_tool("--show-blocked")
            self.assertEqual(out.returncode, 0, out.stderr)
            self.assertIn("192.0.2.20", out.stdout)
            self.assertNotIn("127.0.0.3", out.stdout)

    def test_blocked_ips_and_the_per_address_limit(self):
        with Daemon(mail={ALICE: {"m": MESSAGE}}, settings=base_settings(**{
                "pop3.blocked_ips.enabled": True,
                "pop3.blocked_ips.list": "192.0.2.66",
                "general.max_connections_per_ip": 1})) as d:
            start = len(d.log)
            with greeted(d, v1("192.0.2.66")) as c:
                self.assertTrue(c.greeting.startswith("-ERR"), c.greeting)
            expect_log(self, d, r"refused: client=192\.0\.2\.66 reason=blocked-address", start)
            with greeted(d, v1("192.0.2.30")) as first:
                self.assertTrue(first.greeting.startswith("+OK"), first.greeting)
                with greeted(d, v1("192.0.2.30")) as second:
                    self.assertTrue(second.greeting.startswith("-ERR"), second.greeting)
                expect_log(self, d, r"refused: client=192\.0\.2\.30 reason=too-many-from-address",
                           start)
                with greeted(d, v1("192.0.2.31")) as other:
                    self.assertTrue(other.greeting.startswith("+OK"), other.greeting)

    def test_tls_ended_at_the_proxy_counts_as_secure(self):
        with Daemon(mail={ALICE: {"m": MESSAGE}}, settings=base_settings(**{
                "pop3.plaintext_auth": "tls-only",
                "pop3.explicit_ssl": True,
                "pop3.secure_networks": "192.0.2.250"})) as d:
            with greeted(d, v2(CLIENT_V6, tlvs=ssl_tlv(), crc=True)) as c:
                self.assertNotIn("STLS", capabilities(c))
                self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            # The same TLV without the client's TLS flag, or none at all:
            # a plaintext client, refused as any other.
            for tlvs in (ssl_tlv(client_tls=False), b""):
                with greeted(d, v2(CLIENT_V6, tlvs=tlvs)) as c:
                    self.assertIn("STLS", capabilities(c))
                    reply = c.login(ALICE, SECRET)
                    self.assertTrue(reply.startswith("-ERR [AUTH]"), reply)

    def test_implicit_tls_port_reads_the_header_before_the_handshake(self):
        ssl_port = harness.free_port()
        with Daemon(mail={ALICE: {"m": MESSAGE}}, settings=base_settings(**{
                "pop3.implicit_ssl": True, "pop3.ssl_port": ssl_port})) as d:
            start = len(d.log)
            c = tls_client(ssl_port, PROXY_ADDR, v2("192.0.2.40", dport=995))
            with c:
                self.assertTrue(c.read_greeting().startswith("+OK"), c.greeting)
                self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            expect_log(self, d, r"session: client=192\.0\.2\.40 user=alice ", start)

    def test_on_without_a_trusted_proxy_does_not_start(self):
        d = Daemon(settings={"pop3.proxy_protocol": True})
        try:
            r = d.run_tool("-t")
            self.assertNotEqual(r.returncode, 0)
            self.assertIn("pop3.proxy_trusted_networks", r.stdout + r.stderr)
        finally:
            d.cleanup()


def haproxy_bin():
    return shutil.which("haproxy") or ("/usr/sbin/haproxy" if os.path.exists("/usr/sbin/haproxy")
                                       else None)


def start_haproxy(cls, config):
    """Starts HAProxy on `config` for a test class (cls.dir, cls.ports) and
    waits until it listens on every port of cls.ports."""
    cfg = os.path.join(cls.dir, "haproxy.cfg")
    with open(cfg, "w") as f:
        f.write(config)
    cls.haproxy_log = open(os.path.join(cls.dir, "haproxy.out"), "wb")
    cls.haproxy = subprocess.Popen([haproxy_bin(), "-db", "-f", cfg], stdin=subprocess.DEVNULL,
                                   stdout=cls.haproxy_log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
    for port in cls.ports.values():
        if not harness.wait_for(lambda: not harness.port_is_free(port), timeout=10):
            stop_haproxy(cls, keep_output=True)
            raise AssertionError("haproxy did not listen on %d:\n%s" % (port, cls.haproxy_output))


def stop_haproxy(cls, keep_output=False):
    """Stops a test class's HAProxy by PID, then its pop3d; with
    keep_output, what HAProxy printed is kept in cls.haproxy_output."""
    if getattr(cls, "haproxy", None) is not None:
        cls.haproxy.send_signal(signal.SIGTERM)
        try:
            cls.haproxy.wait(10)
        except subprocess.TimeoutExpired:
            cls.haproxy.kill()
            cls.haproxy.wait()
        cls.haproxy_log.close()
        cls.haproxy = None
        if keep_output:
            with open(cls.haproxy_log.name, errors="replace") as f:
                cls.haproxy_output = f.read()[-3000:]
    if getattr(cls, "dir", None):
        shutil.rmtree(cls.dir, ignore_errors=True)
    cls.d.cleanup()


class HaproxyTests(unittest.TestCase):
    """The real HAProxy in front: the client connects from CLIENT_ADDR to
    HAProxy, HAProxy from PROXY_ADDR to pop3d, which trusts only it."""

    @classmethod
    def setUpClass(cls):
        if haproxy_bin() is None:
            raise unittest.SkipTest("haproxy is not installed (Debian package haproxy)")
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}}, settings={
            "pop3.proxy_protocol": True,
            "pop3.proxy_trusted_networks": PROXY_ADDR + ";127.0.0.1",
            "pop3.max_connections": 6,
            "pop3.plaintext_auth": "tls-only",
            "pop3.explicit_ssl": True,
            "pop3.secure_networks": "192.0.2.250"})
        cls.d.start()
        cls.dir = tempfile.mkdtemp(prefix="pop3d-haproxy-")
        cert, key = harness.certificate_pair()
        pem = os.path.join(cls.dir, "server.pem")
        with open(pem, "wb") as out:
            for part in (cert, key):
                with open(part, "rb") as f:
                    out.write(f.read())
        cls.ports = {name: harness.free_port() for name in ("v1", "v2", "tls")}
        server = "server pop3d %s:%d source %s" % (cls.d.host, cls.d.port, PROXY_ADDR)
        config = """global
    maxconn 64
defaults
    mode tcp
    timeout connect 5s
    timeout client 30s
    timeout server 30s
frontend v1
    bind 127.0.0.1:{v1}
    default_backend v1
backend v1
    {server} send-proxy
frontend v2
    bind 127.0.0.1:{v2}
    default_backend v2
backend v2
    {server} send-proxy-v2 proxy-v2-options crc32c
frontend tls
    bind 127.0.0.1:{tls} ssl crt {pem}
    default_backend tls
backend tls
    {server} send-proxy-v2-ssl
""".format(server=server, pem=pem, **cls.ports)
        start_haproxy(cls, config)

    @classmethod
    def tearDownClass(cls):
        stop_haproxy(cls)

    def plain_client(self, name):
        c = RawClient("127.0.0.1", self.ports[name], source=CLIENT_ADDR)
        c.read_greeting()
        return c

    def test_send_proxy_and_send_proxy_v2_give_the_clients_address(self):
        for name in ("v1", "v2"):
            with self.subTest(proxy=name):
                start = len(self.d.log)
                with self.plain_client(name) as c:
                    self.assertTrue(c.greeting.startswith("+OK"), c.greeting)
                    self.assertIn("STLS", capabilities(c))
                    # Plain text from outside the secure networks: refused,
                    # as it would be without the proxy.
                    reply = c.login(ALICE, SECRET)
                    self.assertTrue(reply.startswith("-ERR [AUTH]"), reply)
                    self.assertTrue(c.cmd("QUIT").startswith("+OK"))
                expect_log(self, self.d, r"session: client=127\.0\.0\.5 user=- .*end=quit",
                           start)

    def test_tls_ended_at_haproxy_is_secure(self):
        start = len(self.d.log)
        c = tls_client(self.ports["tls"])
        with c:
            self.assertTrue(c.read_greeting().startswith("+OK"), c.greeting)
            self.assertNotIn("STLS", capabilities(c))
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            status, body = c.cmd_multi("RETR 1")
            self.assertTrue(status.startswith("+OK"), status)
            self.assertEqual(body, MESSAGE)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, self.d, r"session: client=127\.0\.0\.5 user=alice retrieved=1/", start)

    def test_direct_clients_are_closed_unanswered(self):
        start = len(self.d.log)
        closed_unanswered(self, RawClient(self.d.host, self.d.port, source=CLIENT_ADDR))
        expect_log(self, self.d, r"proxy: client=127\.0\.0\.5 closed unanswered: not in "
                        r"pop3\.proxy_trusted_networks", start)


SAMPLE = os.path.join(harness.SRCDIR, "etc", "haproxy", "pop3d.cfg")


class SampleConfigTests(unittest.TestCase):
    """etc/haproxy/pop3d.cfg as shipped, with only its addresses changed to
    the test's: its health checks (a PROXY v2 LOCAL header, the greeting,
    QUIT) and both frontends, the TLS one passing TLS through to pop3d."""

    @classmethod
    def setUpClass(cls):
        if haproxy_bin() is None:
            raise unittest.SkipTest("haproxy is not installed (Debian package haproxy)")
        cls.ssl_port = harness.free_port()
        cls.d = Daemon(mail={ALICE: {"m": MESSAGE}}, settings={
            "pop3.proxy_protocol": True,
            "pop3.proxy_trusted_networks": PROXY_ADDR + ";127.0.0.1",
            "pop3.max_connections": 6,
            "pop3.implicit_ssl": True,
            "pop3.ssl_port": cls.ssl_port})
        cls.d.start()
        cls.dir = tempfile.mkdtemp(prefix="pop3d-haproxy-")
        cls.ports = {"pop3": harness.free_port(), "pop3s": harness.free_port()}
        with open(SAMPLE) as f:
            text = f.read()
        text = text.replace("    log /dev/log local0\n", "")
        text = text.replace("bind :110", "bind 127.0.0.1:%d" % cls.ports["pop3"])
        text = text.replace("bind :995", "bind 127.0.0.1:%d" % cls.ports["pop3s"])
        text = text.replace("tcp-check connect default port 110",
                            "tcp-check connect default port %d" % cls.d.port)
        lines = []
        for line in text.splitlines():
            if line.strip().startswith("server node1 "):
                port = cls.d.port if line.endswith(":110") else cls.ssl_port
                line = "    server node1 %s:%d source %s" % (cls.d.host, port, PROXY_ADDR)
            elif line.strip().startswith("server node"):
                continue
            lines.append(line)
        text = "\n".join(lines) + "\n"
        # Checks every 2 s as shipped would make the test wait; the rest
        # of the line stays as shipped.
        text = text.replace("inter 2s fall 3 rise 2", "inter 200ms fall 3 rise 1")
        start_haproxy(cls, text)

    @classmethod
    def tearDownClass(cls):
        stop_haproxy(cls)

    def test_the_health_check_is_a_local_header_and_a_greeting(self):
        # The checks of both backends ask the plain port: sessions of the
        # proxy's own address, ended by QUIT.
        expect_log(self, self.d, r"session: client=127\.0\.0\.3 user=- .*end=quit", 0, 2)

    def test_both_frontends_give_the_clients_address(self):
        start = len(self.d.log)
        with RawClient("127.0.0.1", self.ports["pop3"], source=CLIENT_ADDR) as c:
            self.assertTrue(c.read_greeting().startswith("+OK"), c.greeting)
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, self.d, r"session: client=127\.0\.0\.5 user=alice ", start)
        start = len(self.d.log)
        c = tls_client(self.ports["pop3s"])
        with c:
            self.assertTrue(c.read_greeting().startswith("+OK"), c.greeting)
            self.assertTrue(c.login(ALICE, SECRET).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        expect_log(self, self.d, r"session: client=127\.0\.0\.5 user=alice ", start)


if __name__ == "__main__":
    sys.exit(harness.main())
