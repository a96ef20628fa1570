"""End-to-end: pop3d --who [--json] and pop3d --kick USER, run the way an
administrator runs them next to the running daemon (as root, and as the
service user).

--who must list every session with its user, client address, state, start
time, octets sent and worker pid, in text and as JSON that a JSON parser
reads. --kick must end the user's sessions the way a dropped connection
ends them: the connection closes with nothing more sent, nothing marked
with DELE is deleted, the log says who did it, other users' sessions go on,
and the count printed (and the exit status) says what happened."""

import datetime
import json
import os
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402

# The second client's own loopback address, so that the two sessions can
# be told apart by address as well as by state.
OTHER_CLIENT = "127.0.0.23"


def message(n):
    return ("Subject: message %d\r\n\r\n%s\r\n" % (n, "body line\r\n" * 50 * n)).encode()


def drained_until_closed(client, timeout=5.0):
    """What the server still sent before it closed the connection, or None
    when it did not close within `timeout`."""
    client.sock.settimeout(timeout)
    got = client.buf
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            chunk = client.sock.recv(65536)
            if not chunk:
                return got
            got += chunk
    except (ConnectionResetError, BrokenPipeError):
        return got
    except socket.timeout:
        return None
    return None


class WhoTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(mail={"alice": {"m1": message(1), "m2": message(2)}})
        self.addCleanup(self.d.cleanup)
        self.d.start()

    def tool(self, *args, as_service_user=False):
        kwargs = {}
        if as_service_user:
            kwargs = {"user": self.d.uid, "group": self.d.gid, "extra_groups": []}
        cmd = [harness.pop3d_bin(), "-c", self.d.config_path] + list(args)
        done = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              errors="replace", timeout=20, **kwargs)
        self.assertNotIn("Sanitizer", done.stderr)
        self.assertNotIn("runtime error", done.stderr)
        return done

    def who_json(self, **kwargs):
        done = self.tool("--who", "--json", **kwargs)
        self.assertEqual(0, done.returncode, done.stderr)
        rows = json.loads(done.stdout)
        self.assertIsInstance(rows, list)
        return rows

    def test_no_sessions(self):
        done = self.tool("--who")
        self.assertEqual(0, done.returncode, done.stderr)
        self.assertEqual("no session is in progress\n", done.stdout)
        self.assertEqual([], self.who_json())

    def test_who_lists_both_sessions_in_text_and_json(self):
        before = time.time()
        alice = self.d.login("alice")
        status, body = alice.cmd_multi("RETR 1")
        self.assertTrue(status.startswith("+OK"), status)
        waiting = self.d.connect(source=OTHER_CLIENT)
        self.assertTrue(waiting.greeting.startswith("+OK"))
        workers = self.d.workers()

        done = self.tool("--who")
        self.assertEqual(0, done.returncode, done.stderr)
        lines = done.stdout.splitlines()
        self.assertEqual(["USER", "CLIENT", "STATE", "SINCE", "OCTETS", "PID"], lines[0].split())
        self.assertEqual(3, len(lines), done.stdout)
        rows = {fields[0]: fields for fields in (line.split() for line in lines[1:])}
        self.assertEqual(["alice", "-"], sorted(rows, reverse=True))
        a, w = rows["alice"], rows["-"]
        self.assertEqual(("127.0.0.1", "TRANSACTION"), (a[1], a[2]))
        self.assertEqual((OTHER_CLIENT, "AUTHORIZATION"), (w[1], w[2]))
        # SINCE is a date and a time of day: "2026-12-02 13:30:01".
        datetime.datetime.strptime(a[3] + " " + a[4], "%Y-%m-%d %H:%M:%S")
        self.assertGreaterEqual(int(a[5]), len(body))
        self.assertIn(int(a[6]), workers)
        self.assertIn(int(w[6]), workers)
        self.assertNotEqual(a[6], w[6])

        rows = {r["state"]: r for r in self.who_json()}
        self.assertEqual({"TRANSACTION", "AUTHORIZATION"}, set(rows))
        a, w = rows["TRANSACTION"], rows["AUTHORIZATION"]
        self.assertEqual("alice", a["user"])
        self.assertEqual("127.0.0.1", a["client"])
        self.assertIsNone(w["user"])
        self.assertEqual(OTHER_CLIENT, w["client"])
        for r in (a, w):
            since = datetime.datetime.fromisoformat(r["since"])
            self.assertIsNotNone(since.tzinfo)
            self.assertLessEqual(abs(since.timestamp() - r["since_epoch"]), 1)
            self.assertGreaterEqual(r["since_epoch"], int(before) - 1)
            self.assertLessEqual(r["since_epoch"], time.time() + 1)
            self.assertIn(r["pid"], workers)
        self.assertGreaterEqual(a["octets_sent"], len(body))
        # The figure is live: the next message's octets show at once.
        status, body2 = alice.cmd_multi("RETR 2")
        self.assertTrue(status.startswith("+OK"), status)
        now = {r["pid"]: r for r in self.who_json()}[a["pid"]]
        self.assertGreaterEqual(now["octets_sent"], a["octets_sent"] + len(body2))

        # The service user sees the same (the table file is its own).
        if os.geteuid() == 0:
            rows = self.who_json(as_service_user=True)
            self.assertEqual({"alice", None}, {r["user"] for r in rows})

        waiting.close()
        self.assertTrue(alice.cmd("QUIT").startswith("+OK"))
        alice.close()
        self.assertTrue(harness.wait_for(lambda: self.who_json() == [], timeout=10),
                        "sessions still listed after they ended")

    def test_kick_ends_sessions_like_a_dropped_connection(self):
        start = len(self.d.log)
        alice = self.d.login("alice")
        self.assertTrue(alice.cmd("DELE 1").startswith("+OK"))
        bob = self.d.login("bob")
        done = self.tool("--kick", "alice")
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)
        self.assertEqual("ended 1 session of alice\n", done.stdout)
        # Closed, and nothing more sent: as for a dropped connection.
        self.assertEqual(b"", drained_until_closed(alice))
        line = self.d.wait_session_end("127.0.0.1", start, user="alice")
        self.assertIsNotNone(line, self.d.diagnostics())
        self.assertIn("end=kicked by administrator", line)
        self.assertIn("deleted=0/0", line)
        # Nothing was committed: message 1 is still there.
        again = self.d.login("alice")
        self.assertTrue(again.cmd("STAT").startswith("+OK 2 "), self.d.diagnostics())
        self.assertTrue(again.cmd("QUIT").startswith("+OK"))
        # Bob's session was not touched.
        self.assertTrue(bob.cmd("NOOP").startswith("+OK"))
        self.assertTrue(bob.cmd("QUIT").startswith("+OK"))

    def test_kick_as_the_service_user(self):
        if os.geteuid() != 0:
            self.skipTest("runs as the service user already")
        alice = self.d.login("alice")
        done = self.tool("--kick", "alice", as_service_user=True)
        self.assertEqual(0, done.returncode, done.stdout + done.stderr)
        self.assertEqual("ended 1 session of alice\n", done.stdout)
        self.assertIsNotNone(drained_until_closed(alice))

    def test_kick_of_nobody_says_0_and_fails(self):
        waiting = self.d.connect()
        self.assertTrue(waiting.cmd("USER alice").startswith("+OK"))
        for user in ("nobody-here", "alice"):  # alice has not logged in
            done = self.tool("--kick", user)
            self.assertNotEqual(0, done.returncode)
            self.assertEqual("ended 0 sessions of %s\n" % user, done.stdout)
        # The session that has not logged in goes on.
        self.assertTrue(waiting.cmd("PASS secret").startswith("+OK"))
        self.assertTrue(waiting.cmd("QUIT").startswith("+OK"))

    def test_json_needs_who_and_a_daemon_is_needed(self):
        done = self.tool("--json")
        self.assertNotEqual(0, done.returncode)
        self.assertIn("--json goes with --who", done.stderr)
        self.d.stop()
        done = self.tool("--who")
        self.assertNotEqual(0, done.returncode)
        self.assertIn("is pop3d running", done.stderr)


if __name__ == "__main__":
    harness.main()
