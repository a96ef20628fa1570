"""End-to-end tests of the root helper with auth.backend = "pam" when a
check is slow: a throw-away PAM service whose auth stack starts with the
real pam_exec module running a script that sleeps for one user. While that
user's login is stuck in PAM, other users' logins are still answered. The
script also records PAM_RHOST, so the tests see that PAM is told the
client's real address (taken by the helper from the socket, not from the
worker), and the helper's log line for a failed check names that address
in the same words for an unknown user and a wrong password.

Needs root (useradd, /etc/pam.d, setuid); skipped otherwise. A hostile
worker itself is staged in tests/privsep/helper_hostile_test.cpp."""

import os
import re
import stat
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, wait_for  # noqa: E402
from test_system_users import (RUNNABLE, SKIP_REASON, TAG, create_user,  # noqa: E402
                               fill_maildir, remove_file)

PAM_EXEC = [p for p in ("/lib/x86_64-linux-gnu/security/pam_exec.so",
                        "/lib/aarch64-linux-gnu/security/pam_exec.so",
                        "/usr/lib/x86_64-linux-gnu/security/pam_exec.so",
                        "/lib/security/pam_exec.so", "/usr/lib/security/pam_exec.so")
            if os.path.exists(p)]
SLOW = "p3hs" + TAG
FAST = ["p3hf%d%s" % (i, TAG) for i in range(3)]
PASSWORD = "Hostile-pass-7"
SERVICE = "pop3d-hostile-" + TAG
# How long PAM keeps the slow user's check: long enough that the other
# logins certainly happen inside it, on a loaded machine too.
SLOW_SECONDS = 5
FAILED_LINE = re.compile(r"privsep: check failed: user=(\S+) rip=(\S+)$", re.M)


@unittest.skipUnless(RUNNABLE and os.path.isdir("/etc/pam.d"), SKIP_REASON)
@unittest.skipUnless(PAM_EXEC, "pam_exec.so (libpam-modules) is not installed")
class SlowPamTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.work = tempfile.mkdtemp(prefix="pop3d-hostile-")
        cls.addClassCleanup(lambda: __import__("shutil").rmtree(cls.work, ignore_errors=True))
        cls.seen = os.path.join(cls.work, "pam-seen")
        script = os.path.join(cls.work, "slow-pam.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\n"
                    "echo \"$PAM_USER $PAM_RHOST\" >> %s\n"
                    "if [ \"$PAM_USER\" = %s ]; then sleep %d; fi\n"
                    "exit 0\n" % (cls.seen, SLOW, SLOW_SECONDS))
        os.chmod(script, 0o755)
        os.chmod(cls.work, 0o755)
        service = os.path.join("/etc/pam.d", SERVICE)
        cls.addClassCleanup(remove_file, service)
        with open(service, "w") as f:
            f.write("auth optional pam_exec.so quiet %s\n"
                    "auth required pam_unix.so\n"
                    "account required pam_unix.so\n" % script)
        for name in [SLOW] + FAST:
            pw = create_user(cls, name, PASSWORD)
            fill_maildir(pw, {"m": b"Subject: for %s\n\nbody\n" % name.encode()})
        cls.daemon = Daemon(users={}, settings={
            "auth.backend": "pam",
            "auth.pam_service": SERVICE,
            "auth.mail_location": "%h/Maildir",
            "pop3.max_connections": 8,
        })
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()

    def seen_lines(self):
        try:
            with open(self.seen) as f:
                return f.read().splitlines()
        except FileNotFoundError:
            return []

    def test_a_slow_pam_check_does_not_hold_up_other_logins(self):
        slow = {}

        def slow_login():
            with self.daemon.connect(source="127.0.0.40") as c:
                c.settimeout(SLOW_SECONDS * 6)
                slow["reply"] = c.login(SLOW, PASSWORD)
                slow["at"] = time.monotonic()

        t = threading.Thread(target=slow_login)
        t.start()
        self.addCleanup(t.join)
        # The slow check is in PAM (the script has started) before the
        # others log in.
        self.assertTrue(wait_for(lambda: any(l.startswith(SLOW + " ") for l in self.seen_lines()),
                                 timeout=30), self.daemon.log[-2000:])
        latencies = []
        for name in FAST:
            started = time.monotonic()
            client = self.daemon.login(name, PASSWORD)
            latencies.append(time.monotonic() - started)
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))
            client.close()
        done = time.monotonic()
        t.join(SLOW_SECONDS * 6)
        self.assertFalse(t.is_alive(), "the slow login was never answered")
        self.assertTrue(slow["reply"].startswith("+OK"), slow["reply"])
        # Order, not speed: every other login was through before PAM let go
        # of the slow one.
        self.assertLess(done, slow["at"], "the other logins waited for the slow check")
        print("\nlogins during a %d s PAM check: %s s" % (
            SLOW_SECONDS, ", ".join("%.3f" % x for x in latencies)), file=sys.stderr)

    def test_pam_is_told_the_address_of_the_client_socket(self):
        with self.daemon.connect(source="127.0.0.41") as c:
            self.assertTrue(c.login(FAST[0], PASSWORD).startswith("+OK"))
            c.cmd("QUIT")
        self.assertTrue(wait_for(lambda: "%s 127.0.0.41" % FAST[0] in self.seen_lines(),
                                 timeout=10), self.seen_lines())

    def test_failed_checks_are_logged_with_the_real_address_in_one_text(self):
        start = len(self.daemon.log)
        wrong = "Not-the-pass-%s" % TAG
        with self.daemon.connect(source="127.0.0.42") as c:
            self.assertTrue(c.login(FAST[1], wrong).startswith("-ERR"))
        nobody = "p3hnobody" + TAG
        with self.daemon.connect(source="127.0.0.43") as c:
            self.assertTrue(c.login(nobody, wrong).startswith("-ERR"))

        def failed():
            return {m.group(1): m.group(0) for m in FAILED_LINE.finditer(self.daemon.log[start:])}

        self.assertTrue(wait_for(lambda: FAST[1] in failed() and nobody in failed(), timeout=10),
                        self.daemon.log[start:])
        lines = failed()
        self.assertEqual(lines[FAST[1]], "privsep: check failed: user=%s rip=127.0.0.42" % FAST[1])
        self.assertEqual(lines[nobody], "privsep: check failed: user=%s rip=127.0.0.43" % nobody)
        self.assertNotIn(wrong, self.daemon.log)


if __name__ == "__main__":
    harness.main()
