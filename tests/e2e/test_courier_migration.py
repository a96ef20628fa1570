"""End-to-end: taking a maildrop over from Courier, and handing it back.

Debian's Courier pop3d (courier-pop 1.0.16, unpacked by scripts/deps because
it conflicts with dovecot-pop3d) serves alice's Maildir for a few sessions
(a RETR, a DELE and QUIT, new mail delivered in between); then pop3d, with
the default pop3.uidl_format "auto", serves the same Maildir. A client that
left its mail on the server must see every message with the UIDL Courier
gave it, in Courier's order; mail that arrived since gets new UIDLs of the
same kind ("UID<n>-<uidvalidity>"), distinct and the same at every session.
Then Courier runs again and must present exactly what pop3d presented, new
mail included.

Courier's pop3d after login is courierpop3d: it takes the Maildir as its
argument and speaks POP3 in the TRANSACTION state on stdin/stdout, given
the environment its login program sets (AUTHENTICATED, TCPREMOTEIP)."""

import os
import re
import shutil
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon  # noqa: E402

ALICE = "alice"
COURIER_UIDL = re.compile(r"^UID(\d+)-(\d+)$")
# Where scripts/deps unpacks courier-pop; COURIER_POP3D overrides it.
COURIER_POP3D = os.environ.get(
    "COURIER_POP3D", "/var/lib/pop3d-test/courier/usr/lib/courier/courier/courierpop3d")
# A Courier session is one short process; this only catches a hung one.
COURIER_TIMEOUT = 60


def courier_problem():
    """Why Courier's pop3d cannot run here, or None."""
    if not os.access(COURIER_POP3D, os.X_OK):
        return "Courier's courierpop3d is not at %s (scripts/deps unpacks courier-pop)" % (
            COURIER_POP3D)
    try:
        probe = subprocess.run([COURIER_POP3D, "/nonexistent"], input=b"",
                               capture_output=True, timeout=COURIER_TIMEOUT,
                               env={"TCPREMOTEIP": "127.0.0.1", "AUTHENTICATED": "probe"})
    except OSError as e:
        return "courierpop3d does not start: %s" % e
    if b"chdir" not in probe.stdout:
        return "courierpop3d does not run (its libraries?): %r" % probe.stderr[:200]
    return None


COURIER_PROBLEM = courier_problem()


def message(n):
    return ("Subject: message %d\n\nbody of message %d\n" % (n, n)).encode()


class Reader:
    """Reads POP3 replies from a finished session's output."""

    def __init__(self, data):
        self.lines = data.decode("latin-1").split("\r\n")
        self.at = 0

    def line(self):
        if self.at >= len(self.lines):
            raise AssertionError("Courier's output ended early: %r" % self.lines)
        self.at += 1
        return self.lines[self.at - 1]

    def multi(self):
        status = self.line()
        body = []
        if status.startswith("+OK"):
            while True:
                line = self.line()
                if line == ".":
                    break
                body.append(line)
        return status, body


def as_list(body):
    """['n uidl'] -> [uidl], checking the numbers run 1..n."""
    pairs = [line.split() for line in body]
    assert [p[0] for p in pairs] == [str(i + 1) for i in range(len(pairs))], body
    return [p[1] for p in pairs]


@unittest.skipIf(COURIER_PROBLEM is not None, COURIER_PROBLEM or "")
class CourierMigrationTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(users={ALICE: "secret"})
        self.addCleanup(self.d.cleanup)
        self.n = 0
        harness.make_maildir(self.d.maildir(ALICE))

    def maildir(self):
        return self.d.maildir(ALICE)

    def deliver(self, count):
        for _ in range(count):
            self.n += 1
            self.d.deliver(ALICE, message(self.n))

    def as_daemon_user(self):
        if os.geteuid() == 0:
            os.setgid(self.d.gid)
            os.setuid(self.d.uid)

    def courier_session(self, *commands, maildir=None):
        """One Courier session: UIDL, the commands, QUIT. Returns the UIDLs."""
        self.d._hand_over()
        script = "".join(c + "\r\n" for c in ("UIDL",) + commands + ("QUIT",))
        run = subprocess.run(
            [COURIER_POP3D, maildir or self.maildir()], input=script.encode(),
            capture_output=True, timeout=COURIER_TIMEOUT, preexec_fn=self.as_daemon_user,
            env={"TCPREMOTEIP": "127.0.0.1", "AUTHENTICATED": ALICE, "PATH": "/usr/bin:/bin"})
        r = Reader(run.stdout)
        self.assertTrue(r.line().startswith("+OK"), run.stdout)
        status, body = r.multi()
        self.assertTrue(status.startswith("+OK"), status)
        for cmd in commands:
            multi = cmd.split()[0] in ("RETR", "TOP", "LIST")
            reply = r.multi()[0] if multi else r.line()
            self.assertTrue(reply.startswith("+OK"), (cmd, reply))
        self.assertTrue(r.line().startswith("+OK"), run.stdout)
        self.assertNotIn(b"ERR", run.stderr)
        return as_list(body)

    def pop3d_session(self):
        with self.d.login(ALICE) as c:
            return harness.uidl_session(c)

    def sizelist(self):
        with open(os.path.join(self.maildir(), "courierpop3dsizelist")) as f:
            return f.read()

    def test_clients_see_the_same_uidls_both_ways(self):
        self.deliver(3)
        first = self.courier_session("RETR 1")
        self.assertEqual(len(first), 3)
        for u in first:
            self.assertRegex(u, COURIER_UIDL)
        self.deliver(1)
        second = self.courier_session("DELE 2")
        self.assertEqual(second[:3], first)
        self.deliver(1)
        third = self.courier_session()
        self.assertEqual(third[:3], [first[0], first[2], second[3]])
        self.assertEqual(len(third), 4)
        uidv = COURIER_UIDL.match(third[0]).group(2)

        # pop3d takes over; two messages arrived that Courier never saw.
        self.deliver(2)
        self.d.start()
        took_over = self.pop3d_session()
        self.assertEqual(took_over[:4], third)
        new = took_over[4:]
        self.assertEqual(len(new), 2)
        for u in new:
            self.assertEqual(COURIER_UIDL.match(u).group(2), uidv, u)
        self.assertEqual(len(set(took_over)), len(took_over))
        # Stable across sessions, and a further delivery changes nothing
        # that was already listed.
        self.assertEqual(self.pop3d_session(), took_over)
        self.deliver(1)
        later = self.pop3d_session()
        self.assertEqual(later[:6], took_over)
        self.assertRegex(later[6], COURIER_UIDL)
        self.assertNotIn(later[6], took_over)
        self.d.stop()

        # Back to Courier: the same UIDLs, new mail included, and nothing
        # for Courier to renumber in what pop3d recorded.
        recorded = self.sizelist()
        self.assertEqual(self.courier_session(), later, recorded)
        self.assertEqual(self.courier_session(), later, self.sizelist())
        self.assertEqual(self.sizelist().split("\n")[0], recorded.split("\n")[0])

    def test_imap_only_history_gets_what_courier_would_give(self):
        # Courier's imapd left courierimapuiddb and moved the mail to cur/
        # with flags; its pop3d never reads that file. Courier and pop3d
        # must each number the messages the same way from scratch, and
        # Courier after pop3d must keep pop3d's numbers.
        md = self.maildir()
        names = ["1700000010.M1P1.h:2,S", "1700000002.M2P1.h:2,FS", "1700000005.M3P1.h:2,"]
        for i, name in enumerate(names):
            with open(os.path.join(md, "cur", name), "wb") as f:
                f.write(message(i))
        with open(os.path.join(md, "courierimapuiddb"), "w") as f:
            f.write("1 796175626 4\n1 1700000002.M2P1.h\n2 1700000005.M3P1.h\n"
                    "3 1700000010.M1P1.h\n")
        twin = os.path.join(self.d.dir, "twin")
        shutil.copytree(md, twin)

        self.d.start()
        pop3d = self.pop3d_session()
        self.d.stop()
        courier_alone = self.courier_session(maildir=twin)

        def shape(listing):
            return [COURIER_UIDL.match(u).group(1) for u in listing]
        self.assertEqual(shape(pop3d), ["1", "2", "3"])
        self.assertEqual(shape(courier_alone), shape(pop3d))
        self.assertEqual(self.courier_session(), pop3d, self.sizelist())

    def test_broken_sizelist_refuses_instead_of_renumbering(self):
        # Courier would silently give the message on a garbled line a new
        # UIDL (every client downloads it again); pop3d refuses the login
        # for now and says which line.
        self.deliver(2)
        self.courier_session()
        text = self.sizelist().split("\n")
        text[1] = text[1].rsplit(" ", 1)[0] + " x:1:0"
        with open(os.path.join(self.maildir(), "courierpop3dsizelist"), "w") as f:
            f.write("\n".join(text))
        self.d.start()
        with self.d.connect() as c:
            self.assertTrue(c.cmd("USER " + ALICE).startswith("+OK"))
            self.assertTrue(c.cmd("PASS secret").startswith("-ERR"))
        self.d.wait_log(r"courierpop3dsizelist line 2")


if __name__ == "__main__":
    sys.exit(harness.main())
