"""End-to-end: the switch-over weekend, when Debian's Dovecot (with
pop3_lock_session = yes) and pop3d both serve the same Maildirs.

While either holds a maildrop the other must not enter it: a client of the
second gets an "in use" refusal, and can log in once the first session has
ended. A session that dies without QUIT (its process killed) must not keep
the other server out: its lock names a process that is gone, and both
servers break such a lock at once."""

import os
import signal
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import dovecot_peer  # noqa: E402
from harness import Daemon, RawClient  # noqa: E402

ALICE = "alice"
LOCK = "dovecot-pop3-session.lock"


@unittest.skipIf(dovecot_peer.installed() is not None, dovecot_peer.installed() or "")
class SwitchOverTest(unittest.TestCase):
    def setUp(self):
        self.d = Daemon(users={ALICE: "secret"})
        self.addCleanup(self.d.cleanup)
        self.d.deliver(ALICE, b"Subject: one\r\n\r\nbody\r\n")
        self.d.start()
        self.dv = dovecot_peer.Dovecot(self.d)
        self.addCleanup(self.dv.cleanup)
        self.dv.start()

    def lock_path(self):
        return os.path.join(self.d.maildir(ALICE), LOCK)

    def dovecot_try(self):
        c = RawClient("127.0.0.1", self.dv.port)
        c.read_greeting()
        return c, c.login(ALICE, "secret")

    def pop3d_try(self):
        c = self.d.connect()
        return c, c.login(ALICE, "secret")

    def test_dovecot_cannot_enter_while_pop3d_holds_the_maildrop(self):
        with self.d.login(ALICE) as held:
            with open(self.lock_path()) as f:
                holder = f.read()
            self.assertRegex(holder, r"^\d+:")
            # Dovecot waits for a lock held by a live process rather than
            # refusing: its client gets no answer to PASS while pop3d holds.
            waiting = RawClient("127.0.0.1", self.dv.port)
            self.addCleanup(waiting.close)
            waiting.read_greeting()
            self.assertTrue(waiting.cmd("USER " + ALICE).startswith("+OK"))
            waiting.send("PASS secret")
            waiting.settimeout(2)
            with self.assertRaises(TimeoutError, msg="Dovecot entered a maildrop pop3d held"):
                waiting.readline()
            self.assertTrue(held.cmd("QUIT").startswith("+OK"))
        self.d.wait_log(r"session: .*user=alice.* end=quit")
        # pop3d's QUIT removed its lock: Dovecot's next look lets it in.
        waiting.settimeout(harness.SOCKET_TIMEOUT * 3)
        self.assertTrue(waiting.readline().startswith("+OK"))
        self.assertTrue(waiting.cmd("STAT").startswith("+OK 1 "))
        self.assertTrue(waiting.cmd("QUIT").startswith("+OK"))

    def test_pop3d_cannot_enter_while_dovecot_holds_the_maildrop(self):
        with self.dv.login(ALICE, "secret") as held:
            self.assertTrue(os.path.exists(self.lock_path()))
            c, reply = self.pop3d_try()
            c.close()
            self.assertTrue(reply.startswith("-ERR [IN-USE]"), reply)
            self.assertIn("maildrop in use: user=<alice>", self.d.log)
            self.assertTrue(held.cmd("QUIT").startswith("+OK"))
        self.assertTrue(harness.wait_for(lambda: not os.path.exists(self.lock_path())))
        with self.d.login(ALICE) as c:
            self.assertTrue(c.cmd("STAT").startswith("+OK 1 "))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_a_killed_pop3d_session_does_not_keep_dovecot_out(self):
        held = self.d.login(ALICE)
        self.addCleanup(held.close)
        with open(self.lock_path()) as f:
            pid = int(f.read().split(":")[0])
        self.assertIn(pid, self.d.workers())
        # The worker dies with the maildrop held: no QUIT, no clean-up.
        os.kill(pid, signal.SIGKILL)
        self.assertTrue(held.is_closed())
        self.assertTrue(os.path.exists(self.lock_path()))
        with self.dv.login(ALICE, "secret") as c:
            self.assertTrue(c.cmd("STAT").startswith("+OK 1 "), "the message was lost")
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))


if __name__ == "__main__":
    harness.main()
