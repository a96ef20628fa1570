"""End-to-end tests of smaller hardening points (issue 14): legacy TLS never
offers anonymous or null ciphers and picks by the server's order; a log
file that is a symbolic link is refused at start; relative paths (-c, an
@include, auth.passwd_file, the pid file) keep working in a daemon that has
gone to "/", through a passwd-file edit and a SIGHUP."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import unittest
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402

# Slack on top of a configured time-out: the suites run under sanitizers on
# two cores.
MARGIN = 10


def wait_listening(d, port):
    ok = harness.wait_for(lambda: not harness.port_is_free(port), harness.START_TIMEOUT)
    assert ok, "nothing listens on port %d\n%s" % (port, d.diagnostics())


def local_ciphers(spec):
    """The TLS 1.2 suites this machine's openssl can offer for `spec`."""
    r = subprocess.run(["openssl", "ciphers", "-s", "-tls1_2", spec],
                       capture_output=True, text=True)
    return [c for c in r.stdout.strip().split(":") if c] if r.returncode == 0 else []


def s_client(port, cipher):
    """openssl s_client over TLS 1.2 offering only `cipher`; sends QUIT.
    Returns (exit code, stdout, stderr)."""
    r = subprocess.run(
        ["openssl", "s_client", "-quiet", "-tls1_2", "-cipher", cipher,
         "-connect", "127.0.0.1:%d" % port],
        input=b"QUIT\r\n", capture_output=True, timeout=harness.SOCKET_TIMEOUT + MARGIN)
    return r.returncode, r.stdout.decode("latin-1"), r.stderr.decode("latin-1")


class LegacyCipherTests(unittest.TestCase):
    """pop3.legacy_ssl widens versions and ciphers, but not to suites that
    authenticate nobody or encrypt nothing, and the server's order wins."""

    @classmethod
    def setUpClass(cls):
        cls.ssl_port = harness.free_port()
        cls.d = Daemon(settings={"pop3.implicit_ssl": True, "pop3.ssl_port": cls.ssl_port,
                                 "pop3.legacy_ssl": True})
        cls.d.start()
        try:
            wait_listening(cls.d, cls.ssl_port)
        except BaseException:
            cls.d.cleanup()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def refused(self, spec):
        if not local_ciphers(spec):
            self.skipTest("this machine's openssl cannot offer %r over TLS 1.2" % spec)
        start = len(self.d.log)
        code, out, err = s_client(self.ssl_port, spec)
        self.assertNotIn("+OK", out, "a client offering only %r got a session" % spec)
        self.assertNotEqual(code, 0, err)
        self.assertTrue(
            harness.wait_for(lambda: re.search(r"tls: client=127\.0\.0\.1 handshake failed",
                                               self.d.log[start:]), MARGIN),
            "the refused handshake is not logged\n" + self.d.log[start:])

    def test_anonymous_ciphers_are_refused(self):
        self.refused("aNULL:@SECLEVEL=0")

    def test_null_encryption_ciphers_are_refused(self):
        self.refused("eNULL:@SECLEVEL=0")

    def test_an_authenticated_tls12_cipher_still_connects(self):
        # The control for the two above: the same client, a proper suite.
        code, out, err = s_client(self.ssl_port, "ECDHE:@SECLEVEL=0")
        self.assertIn("+OK", out, "stdout: %r\nstderr: %s\n%s" % (out, err, self.d.diagnostics()))

    def test_the_server_order_wins_over_the_client_order(self):
        # The client lists a TLS 1.0-era CBC suite first, then AES-GCM; the
        # server's order has AES-GCM first. One of each pair fits whatever
        # key type the harness's certificate has.
        client_order = ["ECDHE-ECDSA-AES128-SHA", "ECDHE-RSA-AES128-SHA",
                        "ECDHE-ECDSA-AES256-GCM-SHA384", "ECDHE-RSA-AES256-GCM-SHA384"]
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        try:
            ctx.set_ciphers(":".join(client_order) + ":@SECLEVEL=0")
        except ssl.SSLError as e:
            self.skipTest("this Python/OpenSSL cannot offer these suites: %s" % e)
        raw = socket.create_connection(("127.0.0.1", self.ssl_port),
                                       timeout=harness.SOCKET_TIMEOUT)
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            name = s.cipher()[0]
            greeting = s.recv(200)
        self.assertTrue(greeting.startswith(b"+OK"), greeting)
        self.assertTrue(name.endswith("AES256-GCM-SHA384"),
                        "the client's first choice %s won over the server's order" % name)


class LogSymlinkTests(unittest.TestCase):
    """log.target naming a symbolic link: pop3d (root, before its privilege
    drop) must not append to, or create, whatever the link points at."""

    def start_with_log_link(self, make_victim):
        d = Daemon()
        self.addCleanup(d.cleanup)
        # Outside the daemon's state dir, which the harness chowns by
        # following links (and a dangling one would stop it).
        elsewhere = tempfile.mkdtemp(prefix="pop3d-e2e-loglink-")
        self.addCleanup(shutil.rmtree, elsewhere, True)
        os.chmod(elsewhere, 0o755)
        victim = os.path.join(elsewhere, "victim")
        if make_victim:
            with open(victim, "w") as f:
                f.write("precious\n")
        link = os.path.join(elsewhere, "link.log")
        os.symlink(victim, link)
        d.set("log.target", link)
        d.start(wait=False)
        try:
            code = d.proc.wait(harness.START_TIMEOUT + MARGIN)
        except subprocess.TimeoutExpired:
            self.fail("pop3d started with a symbolic link as its log file\n" + d.diagnostics())
        return d, victim, link, code

    def check_refusal(self, d, link, code):
        self.assertNotEqual(code, 0, d.diagnostics())
        err = d.stderr
        self.assertIn("log.target", err)
        self.assertIn(link, err)
        self.assertIn("symbolic link", err)

    def test_link_to_an_existing_file_is_refused_and_the_file_untouched(self):
        d, victim, link, code = self.start_with_log_link(make_victim=True)
        self.check_refusal(d, link, code)
        with open(victim) as f:
            self.assertEqual(f.read(), "precious\n")

    def test_dangling_link_is_refused_and_nothing_created(self):
        d, victim, link, code = self.start_with_log_link(make_victim=False)
        self.check_refusal(d, link, code)
        self.assertFalse(os.path.exists(victim), "the link's target was created")


def daemon_pids(master):
    """`master` and every process below it (workers, helpers)."""
    pids, todo = [], [master]
    while todo:
        pid = todo.pop()
        pids.append(pid)
        todo.extend(harness.children_of(pid))
    return pids


def live_pop3d(pids):
    """Those of `pids` that are still a running pop3d (not a zombie, and not
    a process that took the number over since)."""
    alive = []
    for pid in pids:
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        comm = stat[stat.find(b"(") + 1:stat.rfind(b")")]
        state = stat[stat.rfind(b")") + 2:].split()[0]
        if comm.startswith(b"pop3d") and state != b"Z":
            alive.append(pid)
    return alive


class RelativePathTests(unittest.TestCase):
    """pop3d started from a directory with relative names everywhere, then
    daemonized (so it stands in "/"), then reloaded."""

    def setUp(self):
        self.d = Daemon()
        d = self.d
        # The daemonized processes, as far as they were seen (their
        # command lines and environment hold process titles, so the pid
        # file and the process tree are what finds them).
        self.seen = set()
        self.addCleanup(self.cleanup)
        # The auth group, with a relative passwd-file, comes from a relative
        # @include; the pid file and the log are relative too.
        auth = d.tree.pop("auth")
        auth["passwd_file"] = "passwd"
        with open(os.path.join(d.dir, "auth.conf"), "w") as f:
            f.write(harness.render_config({"auth": auth}) + "\n")
        d.tree["general"]["pid_file"] = "pop3d.pid"
        d.tree["log"]["target"] = "pop3d.log"
        d.write_config(d.config_text() + '@include "auth.conf"\n')

    def cleanup(self):
        for pid in live_pop3d(self.seen):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.d.cleanup()

    def login(self, user, password, timeout=MARGIN):
        """The first reply to PASS, retried while a reload replaces workers."""
        deadline = time.monotonic() + timeout
        while True:
            with self.d.connect() as c:
                reply = c.login(user, password)
                if reply.startswith("+OK"):
                    self.assertTrue(c.cmd("STAT").startswith("+OK"))
                    c.cmd("QUIT")
                    return reply
            if time.monotonic() >= deadline:
                return reply
            time.sleep(0.2)

    def test_reload_and_passwd_edit_work_after_chdir(self):
        d = self.d
        d._hand_over()
        started = subprocess.run([harness.pop3d_bin(), "-c", "pop3d.conf"], cwd=d.dir,
                                 capture_output=True, text=True, timeout=MARGIN)
        self.assertEqual(started.returncode, 0, started.stderr)
        self.assertTrue(harness.wait_for(lambda: os.path.exists(d.pid_file), MARGIN),
                        "no pid file at %s (a relative name taken from \"/\"?)\n%s"
                        % (d.pid_file, d.diagnostics()))
        self.assertTrue(harness.wait_for(lambda: not harness.port_is_free(d.port), MARGIN),
                        d.diagnostics())
        self.assertTrue(self.login("alice", "secret").startswith("+OK"), d.diagnostics())
        pid = int(open(d.pid_file).read())
        self.seen.update(daemon_pids(pid))

        # A new user, in the relative passwd-file, then a reload that reads
        # the relative config and its relative @include again.
        d.users["carol"] = "c4r0l-pw"
        d.write_passwd()
        harness.make_maildir(d.maildir("carol"))
        d._hand_over()
        start = len(d.log)
        os.kill(pid, signal.SIGHUP)
        self.assertTrue(d.wait_log(r"^.*reloaded: .*$", start, timeout=MARGIN),
                        "no reload logged\n" + d.log[start:])
        self.assertNotIn("reload failed", d.log[start:])
        reply = self.login("carol", "c4r0l-pw")
        self.assertTrue(reply.startswith("+OK"),
                        "the new user cannot log in: %r\n%s" % (reply, d.log[start:]))

        self.seen.update(daemon_pids(pid))
        self.assertIn(pid, live_pop3d(self.seen))
        os.kill(pid, signal.SIGTERM)
        self.assertTrue(harness.wait_for(lambda: not live_pop3d(self.seen), MARGIN),
                        "the daemon did not stop: %r still run" % live_pop3d(self.seen))
        self.assertFalse(os.path.exists(d.pid_file))


if __name__ == "__main__":
    sys.exit(harness.main())
