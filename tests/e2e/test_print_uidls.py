"""End-to-end: pop3d --print-uidls USER, the administrator's look at what
a user's client will be shown, before a switch-over and after.

What it prints must be exactly what a POP3 session of that user then shows
(UIDL and LIST, number by number), under each kind of UIDL; it must not keep
the maildrop locked once it has printed, must say so (and fail) while a
session holds the maildrop, and must not leave files owned by root in the
user's Maildir when run as root."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402

ALICE = "alice"


def message(n):
    return ("Subject: message %d\r\n\r\nbody of message %d\r\n" % (n, n)).encode()


class PrintUidlsTest(unittest.TestCase):
    def daemon(self, **settings):
        d = Daemon(users={ALICE: "secret"}, settings=settings)
        self.addCleanup(d.cleanup)
        for n in range(1, 4):
            d.deliver(ALICE, message(n) * n)
        return d

    def print_uidls(self, d, user=ALICE):
        d._hand_over()
        done = d.run_tool("--print-uidls", user)
        self.assertNotIn("Sanitizer", done.stderr)
        self.assertNotIn("runtime error", done.stderr)
        return done

    def printed(self, d):
        done = self.print_uidls(d)
        self.assertEqual(done.returncode, 0, done.stderr)
        return [tuple(line.split(" ")) for line in done.stdout.splitlines()]

    def session(self, d):
        with d.login(ALICE) as c:
            status, body = c.cmd_multi("UIDL")
            self.assertTrue(status.startswith("+OK"), status)
            uidls = [tuple(l.split()) for l in body.decode().splitlines()]
            status, body = c.cmd_multi("LIST")
            self.assertTrue(status.startswith("+OK"), status)
            sizes = dict(tuple(l.split()) for l in body.decode().splitlines())
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        return [(n, u, sizes[n]) for n, u in uidls]

    def check_same_as_session(self, d):
        d.start()
        printed = self.printed(d)
        self.assertEqual(len(printed), 3, printed)
        # Right after it, the maildrop is free: the session is not IN-USE.
        self.assertEqual(self.session(d), printed)
        return printed

    def test_file_name_uidls_are_what_the_session_shows(self):
        d = self.daemon()
        printed = self.check_same_as_session(d)
        # Without a uid list ("auto"), a UIDL is the file's base name.
        names = [n for n in os.listdir(os.path.join(d.maildir(ALICE), "cur"))]
        self.assertEqual(sorted(u for _, u, _ in printed), sorted(n.split(":")[0] for n in names))

    def test_dovecot_uidls_made_for_the_listing_are_the_sessions(self):
        d = self.daemon(**{"pop3.uidl_format": "%08Xu%08Xv"})
        d.start()
        printed = self.printed(d)
        self.assertEqual([u for _, u, _ in printed],
                         [u for _, u, _ in self.session(d)])
        for _, u, _ in printed:
            self.assertRegex(u, r"^[0-9a-f]{16}$")
        # The uidlist it made is the user's (pop3d's, for virtual users),
        # not root's, or the next session could not append to it.
        st = os.stat(os.path.join(d.maildir(ALICE), "dovecot-uidlist"))
        self.assertEqual((st.st_uid, st.st_gid), (d.uid, d.gid))
        self.assertEqual(self.printed(d), printed)

    def test_fails_while_a_session_holds_the_maildrop(self):
        d = self.daemon()
        d.start()
        with d.login(ALICE) as c:
            done = self.print_uidls(d)
            self.assertEqual(done.returncode, 1)
            self.assertEqual(done.stdout, "")
            self.assertIn("in use by a POP3 session", done.stderr)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        d.wait_log(r"session: .*user=alice.* end=quit")
        self.assertEqual(len(self.printed(d)), 3)

    def test_unknown_user_is_an_error(self):
        d = self.daemon()
        done = self.print_uidls(d, "mallory")
        self.assertEqual(done.returncode, 1)
        self.assertIn("--print-uidls mallory: no such user", done.stderr)
        self.assertEqual(done.stdout, "")

    def test_empty_maildrop_prints_nothing(self):
        d = Daemon(users={ALICE: "secret"})
        self.addCleanup(d.cleanup)
        done = self.print_uidls(d)
        self.assertEqual((done.returncode, done.stdout), (0, ""), done.stderr)


if __name__ == "__main__":
    harness.main()
