"""End-to-end: taking a maildrop over from Dovecot, and handing it back.

Debian's Dovecot (dovecot-pop3d) serves alice's Maildir for a few sessions
(a RETR, a DELE and QUIT, new mail delivered in between); then pop3d, with
the default pop3.uidl_format "auto", serves the same Maildir. A client that
left its mail on the server must see every message with the UIDL Dovecot
gave it, in Dovecot's order; mail that arrived since gets new UIDLs of the
same kind (Dovecot's %08Xu%08Xv, lower-case hex), distinct and the same at
every session. Then Dovecot runs again and must present exactly what pop3d
presented, new mail included, and must not have found fault with the
dovecot-uidlist pop3d kept."""

import os
import re
import shutil
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from dovecot_peer import Dovecot  # noqa: E402
from harness import Daemon  # noqa: E402

ALICE = "alice"
DOVECOT_UIDL = re.compile(r"^[0-9a-f]{16}$")


def message(n):
    return ("Subject: message %d\r\n\r\nbody of message %d\r\n" % (n, n)).encode()


@unittest.skipIf(shutil.which("dovecot") is None,
                 "Dovecot is not installed (scripts/deps installs dovecot-pop3d)")
@unittest.skipIf(os.geteuid() != 0, "starting Dovecot with its own config needs root")
class DovecotMigrationTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(users={ALICE: "secret"})
        self.addCleanup(self.d.cleanup)
        self.dv = Dovecot(self.d)
        self.addCleanup(self.dv.cleanup)
        self.n = 0

    def deliver(self, count):
        for _ in range(count):
            self.n += 1
            self.d.deliver(ALICE, message(self.n))
        self.d._hand_over()

    def dovecot_session(self, *commands):
        with self.dv.login(ALICE, "secret") as c:
            return harness.uidl_session(c, *commands)

    def pop3d_session(self):
        with self.d.login(ALICE) as c:
            return harness.uidl_session(c)

    def uidlist(self):
        with open(os.path.join(self.d.maildir(ALICE), "dovecot-uidlist")) as f:
            return f.read()

    def test_clients_see_the_same_uidls_both_ways(self):
        self.deliver(3)
        self.dv.start()
        first = self.dovecot_session("RETR 1")
        self.assertEqual(len(first), 3)
        for u in first:
            self.assertRegex(u, DOVECOT_UIDL)
        self.deliver(1)
        second = self.dovecot_session("DELE 2")
        self.assertEqual(second[:3], first)
        self.deliver(1)
        third = self.dovecot_session()
        self.assertEqual(third[:3], [first[0], first[2], second[3]])
        self.assertEqual(len(third), 4)
        self.dv.stop()

        # pop3d takes over; two messages arrived that Dovecot never saw.
        self.deliver(2)
        self.d.start()
        took_over = self.pop3d_session()
        self.assertEqual(took_over[:4], third)
        new = took_over[4:]
        self.assertEqual(len(new), 2)
        suffix = third[0][8:]  # the uidvalidity, in hex
        for u in new:
            self.assertRegex(u, DOVECOT_UIDL)
            self.assertEqual(u[8:], suffix)
        self.assertEqual(len(set(took_over)), len(took_over))
        # Stable across sessions, and a further delivery changes nothing
        # that was already listed.
        self.assertEqual(self.pop3d_session(), took_over)
        self.deliver(1)
        later = self.pop3d_session()
        self.assertEqual(later[:6], took_over)
        self.assertRegex(later[6], DOVECOT_UIDL)
        self.assertNotIn(later[6], took_over)
        self.assertFalse(os.path.exists(os.path.join(self.d.maildir(ALICE),
                                                     "dovecot-uidlist.lock")))
        self.d.stop()

        # Back to Dovecot: the same UIDLs, new mail included.
        log_start = len(self.dv.read("dovecot.log"))
        self.dv.start()
        self.assertEqual(self.dovecot_session(), later)
        complaints = [line for line in self.dv.read("dovecot.log")[log_start:].splitlines()
                      if ("Error" in line or "Warning" in line) and "Killed with signal" not in line]
        self.assertEqual(complaints, [], self.uidlist())

    def test_maildrop_without_uidlist_keeps_file_name_uidls(self):
        # "auto" with no dovecot-uidlist: today's file-name UIDLs, and no
        # uidlist is made, so nothing changes for a qmail or Courier site.
        self.deliver(2)
        self.d.start()
        listing = self.pop3d_session()
        names = sorted(n.split(":")[0] for n in
                       (os.path.basename(p) for p in harness.maildir_files(self.d.maildir(ALICE))))
        self.assertEqual(sorted(listing), names)
        self.assertFalse(os.path.exists(os.path.join(self.d.maildir(ALICE), "dovecot-uidlist")))


if __name__ == "__main__":
    sys.exit(harness.main())
