"""End-to-end tests of systemd readiness (issue 17), with the protocol
sd_notify(3) documents: the test plays the service manager, binds the
datagram socket it names in $NOTIFY_SOCKET, and reads what pop3d says.

READY=1 must come only once the port accepts; RELOADING=1 and READY=1 must
frame a SIGHUP; STOPPING=1 comes with SIGTERM; STATUS= says how many
sessions are in progress; no child process of the daemon keeps NOTIFY_SOCKET; and without the
variable the daemon starts as it always did."""

import os
import signal
import socket
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402

WAIT = 20.0


class Manager:
    """The service manager's end: a bound AF_UNIX datagram socket."""

    def __init__(self, abstract=False):
        self.dir = tempfile.mkdtemp(prefix="pop3d-notify-")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = "pop3d-test-notify-%d-%d" % (os.getpid(), time.monotonic_ns())
            self.sock.bind("\0" + name)
            self.path = "@" + name
        else:
            self.path = os.path.join(self.dir, "notify")
            self.sock.bind(self.path)
            os.chmod(self.dir, 0o755)
            os.chmod(self.path, 0o777)
        self.messages = []

    def close(self):
        self.sock.close()
        if not self.path.startswith("@"):
            os.unlink(self.path)
        os.rmdir(self.dir)

    def wait_for(self, key, timeout=WAIT, start=0):
        """The first message from index `start` on holding the line `key`,
        as (index, {field: value}); fails after `timeout`."""
        deadline = time.monotonic() + timeout
        i = start
        while True:
            while i < len(self.messages):
                fields = dict(l.split("=", 1) for l in self.messages[i].splitlines() if "=" in l)
                if key in self.messages[i].splitlines():
                    return i, fields
                i += 1
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r within %.0f s; got %r" % (key, timeout, self.messages))
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(4096)
            except socket.timeout:
                continue
            self.messages.append(data.decode("utf-8", "replace"))


def environ_of(pid):
    with open("/proc/%d/environ" % pid, "rb") as f:
        return f.read().split(b"\0")


class NotifyTests(unittest.TestCase):
    def start(self, manager, **kwargs):
        d = Daemon(**kwargs)
        d.env = dict(os.environ, NOTIFY_SOCKET=manager.path)
        self.addCleanup(d.cleanup)
        d.start(wait=False)
        return d

    def test_ready_reload_stop(self):
        m = Manager()
        self.addCleanup(m.close)
        d = self.start(m)
        i, ready = m.wait_for("READY=1")
        # READY=1 means "serving": the port accepts at once.
        with socket.create_connection((d.host, d.port), timeout=5) as c:
            self.assertTrue(c.recv(512).startswith(b"+OK"))
        self.assertEqual(str(d.pid), ready.get("MAINPID"), ready)
        # pop3.max_connections is 4 in the tests, plus one spare worker.
        self.assertEqual("0 of 4 sessions, 5 workers", ready.get("STATUS"), ready)
        # The status line follows the sessions (refreshed within 5 s).
        client = d.login("alice")
        i, _ = m.wait_for("STATUS=1 of 4 sessions, 5 workers", start=i + 1)
        client.cmd("QUIT")
        client.close()
        i, _ = m.wait_for("STATUS=0 of 4 sessions, 5 workers", start=i + 1)

        d.signal(signal.SIGHUP)
        j, reloading = m.wait_for("RELOADING=1", start=i + 1)
        self.assertIn("MONOTONIC_USEC", reloading)
        k, _ = m.wait_for("READY=1", start=j + 1)
        self.assertTrue(d.wait_log(r"reloaded: ", timeout=WAIT), d.diagnostics())
        d.login("alice").close()

        # Only the master speaks for the daemon: no child has the variable.
        kids = d.workers()
        self.assertTrue(kids)
        for pid in kids + [d.pid]:
            try:
                env = environ_of(pid)
            except (FileNotFoundError, ProcessLookupError):
                continue  # an old worker that finished since the reload
            except PermissionError:
                if os.geteuid() == 0:
                    raise
                continue  # a non-dumpable worker of another user
            self.assertFalse([e for e in env if e.startswith(b"NOTIFY_SOCKET=")],
                             "pid %d keeps NOTIFY_SOCKET" % pid)

        d.signal(signal.SIGTERM)
        m.wait_for("STOPPING=1", start=k + 1)
        self.assertEqual(0, d.proc.wait(WAIT))

    def test_abstract_socket(self):
        m = Manager(abstract=True)
        self.addCleanup(m.close)
        d = self.start(m)
        m.wait_for("READY=1")
        d.wait_ready()

    def test_unreachable_socket_is_said_once_and_changes_nothing(self):
        m = Manager()
        path = m.path
        m.close()  # nobody listens there any more
        d = Daemon()
        d.env = dict(os.environ, NOTIFY_SOCKET=path)
        self.addCleanup(d.cleanup)
        d.start()
        d.login("alice").close()
        d.signal(signal.SIGHUP)
        self.assertTrue(d.wait_log(r"reloaded: ", timeout=WAIT), d.diagnostics())
        self.assertEqual(1, d.log.count("cannot notify the service manager"), d.log)

    def test_without_systemd_nothing_changes(self):
        env = dict(os.environ)
        env.pop("NOTIFY_SOCKET", None)
        d = Daemon()
        d.env = env
        self.addCleanup(d.cleanup)
        d.start()
        d.login("alice").close()
        self.assertNotIn("systemd", d.log)


if __name__ == "__main__":
    sys.exit(harness.main())
