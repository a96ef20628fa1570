"""End-to-end: pop3d leaves the Maildir as the other software on it expects.

Debian's Dovecot is the peer, on the same passwd file and Maildirs:

- Maildir++ quota. Dovecot's own delivery agent (dovecot-lda, quota=maildir
  with a small storage limit) fills alice's Maildir until it refuses a
  message for quota. pop3d DELEs and QUITs; the delivery agent then takes
  mail again, and the maildirsize sums pop3d left are what Dovecot finds
  when it recalculates them from the folders. A session that DELEs and
  drops its connection without QUIT changes nothing.
- Seen flags. RETR (not TOP) in a session that QUITs marks the message read
  as Dovecot reads the Maildir (doveadm fetch flags), a message still in
  new/ included; with pop3.mark_retrieved_seen off nothing is marked; the
  renames keep every UIDL."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import dovecot_peer  # noqa: E402
from dovecot_peer import Dovecot  # noqa: E402
from harness import Daemon  # noqa: E402

ALICE = "alice"
# Three of the test's messages fit, the fourth does not; Dovecot takes a
# message while the sum is under the limit (Maildir++ is a soft quota).
QUOTA_BYTES = 3 * 1024
BODY_BYTES = 900
# Deliveries before the quota must have refused one: far more than fit.
MAX_DELIVERIES = 40
EX_NOPERM = 77  # dovecot-lda -e: refused for good (over quota)

QUOTA_CONFIG = """
mail_plugins = $mail_plugins quota
plugin {
  quota = maildir:User quota
  quota_rule = *:storage=%dB
}
protocol lda {
  postmaster_address = postmaster@example.org
}
""" % QUOTA_BYTES

SKIP_REASON = dovecot_peer.installed() or (
    None if os.path.exists(dovecot_peer.LDA) else
    "Dovecot's delivery agent %s is not installed (dovecot-core)" % dovecot_peer.LDA)


def message(n, body_bytes=BODY_BYTES):
    return ("From: sender@example.org\nTo: alice@example.org\nSubject: message %d\n\n" % n
            + ("x" * 71 + "\n") * (body_bytes // 72)).encode()


def maildirsize_sums(maildir):
    """(bytes, count) that maildirsize adds up to: every line after the
    quota definition."""
    with open(os.path.join(maildir, "maildirsize")) as f:
        lines = f.read().splitlines()
    total_bytes = total_count = 0
    for line in lines[1:]:
        b, c = line.split()
        total_bytes += int(b)
        total_count += int(c)
    return total_bytes, total_count


def folder_sums(maildir):
    """(bytes, count) of the messages in new/ and cur/, as Maildir++ counts
    them (the S= size in the name, else the file's)."""
    total_bytes = total_count = 0
    for sub in ("new", "cur"):
        d = os.path.join(maildir, sub)
        for name in os.listdir(d):
            base = name.split(":2,")[0]
            fields = dict(f.split("=", 1) for f in base.split(",")[1:] if "=" in f)
            size = int(fields["S"]) if fields.get("S", "").isdigit() else \
                os.path.getsize(os.path.join(d, name))
            total_bytes += size
            total_count += 1
    return total_bytes, total_count


@unittest.skipIf(SKIP_REASON is not None, SKIP_REASON or "")
class MaildirPlusPlusQuotaTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(users={ALICE: "secret"})
        self.addCleanup(self.d.cleanup)
        self.dv = Dovecot(self.d, extra_config=QUOTA_CONFIG)
        self.addCleanup(self.dv.cleanup)
        self.maildir = self.d.maildir(ALICE)
        self.d._hand_over()
        self.dv.start()

    def fill_until_refused(self):
        """Delivers with dovecot-lda until the quota refuses a message;
        returns how many it took."""
        for n in range(1, MAX_DELIVERIES + 1):
            got = self.dv.deliver(ALICE, message(n))
            if got.returncode == 0:
                continue
            self.assertEqual(got.returncode, EX_NOPERM, got.stderr.decode(errors="replace"))
            self.assertIn(b"quota", got.stderr.lower())
            return n - 1
        self.fail("dovecot-lda took %d messages under a %d-byte quota"
                  % (MAX_DELIVERIES, QUOTA_BYTES))

    def test_deletions_at_quit_let_delivery_resume(self):
        taken = self.fill_until_refused()
        self.assertGreaterEqual(taken, 2)
        self.assertTrue(os.path.exists(os.path.join(self.maildir, "maildirsize")))
        self.assertEqual(maildirsize_sums(self.maildir), folder_sums(self.maildir))
        before = folder_sums(self.maildir)

        self.d.start()
        with self.d.login(ALICE) as c:
            self.assertTrue(c.cmd("STAT").startswith("+OK %d " % taken))
            for n in (1, 2):
                self.assertTrue(c.cmd("DELE %d" % n).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        after = folder_sums(self.maildir)
        self.assertEqual(after[1], taken - 2)
        # pop3d's line is what Maildir++ counts for the two it removed.
        with open(os.path.join(self.maildir, "maildirsize")) as f:
            last = f.read().splitlines()[-1]
        self.assertEqual(last, "-%d -2" % (before[0] - after[0]))
        self.assertEqual(maildirsize_sums(self.maildir), after)

        # The delivery agent takes mail again, and its sums stay right.
        got = self.dv.deliver(ALICE, message(100))
        self.assertEqual(got.returncode, 0, got.stderr.decode(errors="replace"))
        counted = maildirsize_sums(self.maildir)
        self.assertEqual(counted, folder_sums(self.maildir))
        # What Dovecot computes from scratch is what the file said.
        got = self.dv.run(["doveadm", "quota", "recalc", "-u", ALICE])
        self.assertEqual(got.returncode, 0, got.stderr.decode(errors="replace"))
        self.assertEqual(maildirsize_sums(self.maildir), counted)
        got = self.dv.run(["doveadm", "-f", "tab", "quota", "get", "-u", ALICE])
        self.assertEqual(got.returncode, 0, got.stderr.decode(errors="replace"))
        rows = [line.split("\t") for line in got.stdout.decode().splitlines()]
        header = rows[0]
        values = {r[header.index("Type")]: r[header.index("Value")] for r in rows[1:]}
        self.assertEqual(int(values["MESSAGE"]), counted[1])

    def test_dropped_connection_changes_nothing(self):
        self.fill_until_refused()
        with open(os.path.join(self.maildir, "maildirsize"), "rb") as f:
            quota_before = f.read()
        files_before = harness.maildir_files(self.maildir)
        self.d.start()
        c = self.d.login(ALICE)
        for n in (1, 2):
            self.assertTrue(c.cmd("DELE %d" % n).startswith("+OK"))
        c.close()  # no QUIT
        # The session is over when the next one can take the maildrop.
        with self.d.login(ALICE, retry_in_use=harness.SOCKET_TIMEOUT) as again:
            self.assertTrue(again.cmd("STAT").startswith("+OK %d " % len(files_before)))
        with open(os.path.join(self.maildir, "maildirsize"), "rb") as f:
            self.assertEqual(f.read(), quota_before)
        self.assertEqual(sorted(harness.maildir_files(self.maildir)), sorted(files_before))
        got = self.dv.deliver(ALICE, message(100))
        self.assertEqual(got.returncode, EX_NOPERM, "the quota should still be full")


@unittest.skipIf(SKIP_REASON is not None, SKIP_REASON or "")
class SeenFlagsTest(unittest.TestCase):
    def start(self, settings=None):
        self.d = Daemon(users={ALICE: "secret"}, settings=settings)
        self.addCleanup(self.d.cleanup)
        self.maildir = self.d.maildir(ALICE)
        # 1 and 2 in cur/ (2 flagged by an IMAP client before), 3 still in new/.
        one, two = message(1, 100), message(2, 100)
        harness.make_maildir(self.maildir, {
            harness.maildir_name(len(one), flags=""): one,
            harness.maildir_name(len(two), flags="F"): two,
        })
        self.d.deliver(ALICE, message(3, 100))
        self.d.start()

    def session(self, *commands):
        """One pop3d session that QUITs; returns its UIDLs."""
        with self.d.login(ALICE) as c:
            return harness.uidl_session(c, *commands)

    def names(self, sub):
        return sorted(os.listdir(os.path.join(self.maildir, sub)))

    def dovecot_flags(self):
        """{subject: flags} as Dovecot reads the Maildir."""
        self.d.stop()
        dv = Dovecot(self.d)
        self.addCleanup(dv.cleanup)
        dv.start()
        got = dv.run(["doveadm", "-f", "tab", "fetch", "-u", ALICE, "hdr.subject flags", "all"])
        self.assertEqual(got.returncode, 0, got.stderr.decode(errors="replace"))
        rows = [line.split("\t") for line in got.stdout.decode().splitlines()]
        self.assertEqual(rows[0], ["hdr.subject", "flags"], got.stdout)
        # \Recent is the first session's to see a message, not stored state.
        return {r[0].strip(): set(r[1].split()) - {"\\Recent"} for r in rows[1:]}

    def test_retr_marks_seen_and_top_does_not(self):
        self.start()
        first = self.session("RETR 1", "TOP 2 0", "RETR 3")
        self.assertEqual(len(first), 3)
        self.assertEqual(self.names("new"), [])
        cur = self.names("cur")
        self.assertEqual([n.split(":2,")[1] for n in cur], ["S", "F", "S"], cur)
        # The renames kept every UIDL.
        self.assertEqual(self.session(), first)
        flags = self.dovecot_flags()
        self.assertEqual(flags, {"message 1": {"\\Seen"}, "message 2": {"\\Flagged"},
                                 "message 3": {"\\Seen"}})

    def test_rset_and_dele_leave_nothing_to_mark(self):
        self.start()
        # A RETR before RSET counts no more (as in Dovecot); a deleted
        # message is gone, not marked.
        self.session("RETR 2", "RSET", "RETR 3", "DELE 3")
        self.assertEqual(self.names("new"), [])
        self.assertEqual([n.split(":2,")[1] for n in self.names("cur")], ["", "F"])

    def test_dropped_connection_marks_nothing(self):
        self.start()
        cur_before, new_before = self.names("cur"), self.names("new")
        c = self.d.login(ALICE)
        for cmd in ("RETR 1", "RETR 3"):
            self.assertTrue(c.cmd_multi(cmd)[0].startswith("+OK"))
        c.close()  # no QUIT
        with self.d.login(ALICE, retry_in_use=harness.SOCKET_TIMEOUT) as again:
            self.assertTrue(again.cmd("STAT").startswith("+OK 3 "))
        self.assertEqual(self.names("cur"), cur_before)
        self.assertEqual(self.names("new"), new_before)

    def test_setting_off_marks_nothing(self):
        self.start({"pop3.mark_retrieved_seen": False})
        self.session("RETR 1", "RETR 2", "RETR 3")
        # new/ mail still moves to cur/ (the session saw it), unflagged.
        self.assertEqual(self.names("new"), [])
        self.assertEqual([n.split(":2,")[1] for n in self.names("cur")], ["", "F", ""])
        flags = self.dovecot_flags()
        self.assertEqual(flags, {"message 1": set(), "message 2": {"\\Flagged"},
                                 "message 3": set()})


if __name__ == "__main__":
    sys.exit(harness.main())
