"""End-to-end tests of passwd-file edits: the master alone re-reads the
file (inotify on its directory) and replaces its workers, so logins see the
new password within a couple of seconds, the old one stops working, a
broken edit keeps the old table, and a session in progress finishes."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, wait_for  # noqa: E402

# The master reads the file as soon as the write is finished (or within a
# second without inotify); forking the new workers follows. Ten times that
# covers a slow sanitizer build on two busy cores.
EDIT_SEEN_TIMEOUT = 15.0

MESSAGE = b"From: a@example.org\nSubject: kept\n\nbody line\n"


def try_login(d, user, password):
    """The reply to PASS (a fresh connection each time)."""
    c = d.connect()
    try:
        return c.login(user, password)
    finally:
        c.close()


class PasswdEditTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(users={"alice": "secret", "bob": "hunter2"},
                        mail={"bob": {"m1": MESSAGE}})
        self.d.start()
        self.assertTrue(wait_for(lambda: len(self.d.workers()) == 5, 10), self.d.diagnostics())

    def tearDown(self):
        self.d.cleanup()

    def wait_password(self, user, password):
        """True once `password` logs `user` in, within EDIT_SEEN_TIMEOUT."""
        return wait_for(lambda: try_login(self.d, user, password).startswith("+OK"),
                        EDIT_SEEN_TIMEOUT, interval=0.2)

    def assert_new_password_only(self, start):
        self.assertTrue(self.wait_password("alice", "n3w-passw0rd"),
                        "the new password never worked\n" + self.d.log[start:])
        reply = try_login(self.d, "alice", "secret")
        self.assertTrue(reply.startswith("-ERR"), reply)
        self.assertNotIn("SYS/TEMP", reply)
        # bob was not edited and still logs in.
        self.assertTrue(try_login(self.d, "bob", "hunter2").startswith("+OK"))
        self.assertTrue(self.d.wait_log(r"^.*passwd-file .* changed: 2 users; replacing", start),
                        self.d.log[start:])

    def test_rewrite_in_place(self):
        self.assertTrue(try_login(self.d, "alice", "secret").startswith("+OK"))
        start = len(self.d.log)
        inode = os.stat(self.d.passwd_path).st_ino
        self.d.users["alice"] = "n3w-passw0rd"
        self.d.write_passwd()  # truncates and rewrites the same file
        self.assertEqual(inode, os.stat(self.d.passwd_path).st_ino)
        self.assert_new_password_only(start)

    def test_write_new_then_rename(self):
        self.assertTrue(try_login(self.d, "alice", "secret").startswith("+OK"))
        start = len(self.d.log)
        path = self.d.passwd_path
        with open(path) as f:
            text = f.read()
        # Written beside the file, as editors and provisioning tools do.
        with open(path + ".new", "w") as f:
            f.write(text.replace("{PLAIN}secret", "{PLAIN}n3w-passw0rd"))
        os.chmod(path + ".new", 0o644)
        self.assertTrue(try_login(self.d, "alice", "secret").startswith("+OK"))
        inode = os.stat(path).st_ino
        os.rename(path + ".new", path)
        self.assertNotEqual(inode, os.stat(path).st_ino)
        self.assert_new_password_only(start)

    def test_broken_edit_keeps_old_table(self):
        start = len(self.d.log)
        with open(self.d.passwd_path) as f:
            lines = f.read().splitlines(True)
        good = list(lines)
        # A new password for alice, and bob's line cut short in its uid: a
        # half-saved edit. Taking it would lock bob out.
        lines[0] = lines[0].replace("{PLAIN}secret", "{PLAIN}n3w-passw0rd")
        lines[1] = "bob:{PLAIN}hunter2:12x\n"
        with open(self.d.passwd_path, "w") as f:
            f.writelines(lines)
        kept = self.d.wait_log(r"^.*passwd-file: .*malformed line.*keeping the 2 users loaded "
                               r"before.*$", start, timeout=EDIT_SEEN_TIMEOUT)
        self.assertTrue(kept, "the refusal was not logged\n" + self.d.log[start:])
        self.assertTrue(try_login(self.d, "alice", "secret").startswith("+OK"))
        self.assertTrue(try_login(self.d, "bob", "hunter2").startswith("+OK"))
        self.assertTrue(try_login(self.d, "alice", "n3w-passw0rd").startswith("-ERR"))
        # A session's summary line comes after anything a second look at
        # the same file would have logged.
        c = self.d.login("bob")
        c.cmd("QUIT")
        c.close()
        self.assertTrue(self.d.wait_session_end("127.0.0.1", start, user="bob"))
        named = re.findall(r"passwd-file %s line 2: " % re.escape(self.d.passwd_path),
                           self.d.log[start:])
        self.assertEqual(1, len(named), self.d.log[start:])
        self.assertEqual(1, len(re.findall(r"keeping the 2 users", self.d.log[start:])))
        self.assertNotIn("replacing the workers", self.d.log[start:])
        # Fixed: taken.
        good[0] = good[0].replace("{PLAIN}secret", "{PLAIN}n3w-passw0rd")
        with open(self.d.passwd_path, "w") as f:
            f.writelines(good)
        self.assert_new_password_only(start)

    def test_workers_replaced_while_session_finishes(self):
        before = set(self.d.workers())
        session = self.d.login("bob")
        self.assertTrue(session.cmd("STAT").startswith("+OK 1 "))
        # One connection that has not logged in yet, in an old worker too.
        waiting = self.d.connect()
        start = len(self.d.log)
        self.d.users["alice"] = "n3w-passw0rd"
        self.d.write_passwd()
        self.assertTrue(self.wait_password("alice", "n3w-passw0rd"), self.d.log[start:])
        # Every idle old worker went; the two with a connection stay.
        def replaced():
            now = set(self.d.workers())
            return len(now - before) >= 5 and len(now & before) == 2
        self.assertTrue(wait_for(replaced, EDIT_SEEN_TIMEOUT),
                        "before %s, now %s\n%s" % (sorted(before), sorted(self.d.workers()),
                                                   self.d.log[start:]))
        # The old worker's copy of the table is out of date: neither
        # password is checked against it; the client is told to retry.
        reply = waiting.login("alice", "secret")
        self.assertTrue(reply.startswith("-ERR [SYS/TEMP]"), reply)
        waiting.close()
        # The session in progress goes on as if nothing happened.
        status, body = session.cmd_multi("RETR 1")
        self.assertTrue(status.startswith("+OK"), status)
        self.assertIn("body line", str(body))
        self.assertTrue(session.cmd("QUIT").startswith("+OK"))
        session.close()
        self.assertTrue(wait_for(lambda: not (set(self.d.workers()) & before), EDIT_SEEN_TIMEOUT),
                        "old workers left after their sessions: %s"
                        % sorted(set(self.d.workers()) & before))


if __name__ == "__main__":
    sys.exit(harness.main())
