"""End-to-end tests of log rotation with the shipped etc/logrotate.d/pop3d
and the real logrotate(8): SIGUSR1 makes the master, its workers and the
privileged helper reopen log.target.

The config logrotate reads is the shipped file with only the log path, the
pid file and the owner of the new file changed to this test's, so what is
tested is what is shipped. Sessions run while logrotate renames the file and
signals the daemon; afterwards every session's summary line must be in the
old or the new file exactly once, the sessions after the rotation only in
the new one, and the old file must stay as it is. "Nothing more is written
to the old file" is only looked at after an event that comes later (a
session that began after the rotation has logged its end in the new file).
"""

import os
import re
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
import unittest
from collections import Counter

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, wait_for  # noqa: E402

SHIPPED = os.path.join(harness.SRCDIR, "etc", "logrotate.d", "pop3d")
SHIPPED_LOG = "/var/log/pop3d.log"
SHIPPED_PID = "/run/pop3d/pop3d.pid"
SHIPPED_CREATE = "create 0640 pop3d adm"

# Client threads logging in and out while the rotation happens, and the
# sessions each must finish before, and again after, logrotate has run.
CLIENT_THREADS = 3
SESSIONS_AROUND_ROTATION = 3
PAUSE_BETWEEN_SESSIONS = 0.01
# A bound on the whole run, for a daemon that stops answering.
RUN_TIMEOUT = 60.0


def have_logrotate():
    return shutil.which("logrotate") is not None


def rotate_config(d):
    """The shipped config, pointed at the daemon `d`'s files."""
    with open(SHIPPED) as f:
        text = f.read()
    for needle in (SHIPPED_LOG, SHIPPED_PID, SHIPPED_CREATE):
        assert needle in text, "%s no longer names %r" % (SHIPPED, needle)
    text = text.replace(SHIPPED_LOG, d.log_path).replace(SHIPPED_PID, d.pid_file)
    return text.replace(SHIPPED_CREATE, "create 0640 %s %s" % (d.user_name, d.group_name))


class Rotator:
    """Runs logrotate -f on a config of its own, in a root-owned temp dir
    (logrotate refuses configs that others can write)."""

    def __init__(self, config_text):
        self.dir = tempfile.mkdtemp(prefix="pop3d-logrotate-")
        self.config = os.path.join(self.dir, "pop3d")
        self.state = os.path.join(self.dir, "status")
        with open(self.config, "w") as f:
            f.write(config_text)
        os.chmod(self.config, 0o644)

    def run(self):
        done = subprocess.run(["logrotate", "-v", "-f", "-s", self.state, self.config],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=30)
        return done.returncode, done.stdout.decode(errors="replace")

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def read(path):
    try:
        with open(path, "rb") as f:
            return f.read().decode(errors="replace")
    except FileNotFoundError:
        return ""


class SessionLoop(threading.Thread):
    """Logs in, STATs and QUITs in a loop, each session from a loopback
    address of its own (127.<thread>.x.y), so each summary line names one
    session. `done` lists the addresses of the sessions that ended with
    +OK to QUIT, with the time each began."""

    def __init__(self, d, index):
        super().__init__(daemon=True)
        self.d = d
        self.index = index
        self.stop = threading.Event()
        self.done = []  # (address, monotonic time the session began)
        self.errors = []

    def address(self, n):
        return "127.%d.%d.%d" % (self.index + 1, n // 250, n % 250 + 1)

    def run(self):
        n = 0
        while not self.stop.is_set():
            source = self.address(n)
            n += 1
            began = time.monotonic()
            try:
                with RawClient(self.d.host, self.d.port, source=source) as c:
                    c.read_greeting()
                    # Greeted, the session is admitted: its end is logged
                    # whatever happens next.
                    self.done.append((source, began))
                    # A user per thread: a maildrop is one session's at a
                    # time, and the lock of the thread's previous session may
                    # outlive its QUIT by a moment ([IN-USE]).
                    user, secret = thread_user(self.index)
                    reply = c.cmd("USER " + user)
                    assert reply.startswith("+OK"), reply
                    reply = c.cmd("PASS " + secret)
                    assert reply.startswith("+OK") or "[IN-USE]" in reply, reply
                    if reply.startswith("+OK"):
                        reply = c.cmd("STAT")
                        assert reply.startswith("+OK"), reply
                    reply = c.cmd("QUIT")
                    assert reply.startswith("+OK"), reply
                # Others share the machine: a steady trickle is enough.
                time.sleep(PAUSE_BETWEEN_SESSIONS)
            except Exception as e:  # noqa: BLE001 - reported by the test
                self.errors.append("%s: %r" % (source, e))
                return

    def finished_since(self, t):
        return sum(1 for _, began in list(self.done) if began >= t)


def thread_user(index):
    return "user%d" % index, "secret%d" % index


SUMMARY = re.compile(r"^\S+ \S+ \S+ worker: info: session: client=(\S+) user=\S+ ", re.M)


def sessions_logged(text):
    """{client address: summary lines naming it}."""
    return Counter(SUMMARY.findall(text))


def summary_pattern(address):
    return re.compile(r"^.* worker: info: session: client=%s user=\S+ .*$" % re.escape(address),
                      re.M)


@unittest.skipUnless(os.geteuid() == 0, "logrotate's create and the signal need root")
@unittest.skipUnless(have_logrotate(), "logrotate is not installed (scripts/deps)")
class LogrotateTest(unittest.TestCase):
    def setUp(self):
        # A client is told +OK to QUIT a moment before its worker gives up
        # the connection slot, and is quick to come back: room for both, so
        # that no session is evicted.
        self.d = Daemon(settings={"pop3.max_connections": 2 * CLIENT_THREADS + 2,
                                  "log.level": "info"},
                        users=dict(thread_user(i) for i in range(CLIENT_THREADS)))
        self.d.start()
        self.rotator = Rotator(rotate_config(self.d))
        self.rotated = self.d.log_path + ".1"

    def tearDown(self):
        self.d.cleanup()
        self.rotator.cleanup()

    def rotate(self):
        code, output = self.rotator.run()
        self.assertEqual(0, code, "logrotate failed:\n" + output)
        self.assertTrue(os.path.exists(self.rotated), "logrotate rotated nothing:\n" + output)

    def test_rotation_during_sessions_loses_no_line(self):
        loops = [SessionLoop(self.d, i) for i in range(CLIENT_THREADS)]
        for loop in loops:
            loop.start()
        try:
            started = time.monotonic()
            self.assertTrue(wait_for(lambda: all(
                l.finished_since(started) >= SESSIONS_AROUND_ROTATION or l.errors
                for l in loops), RUN_TIMEOUT))
            self.rotate()
            rotated_at = time.monotonic()
            # Every session in progress at the rotation ends before these do
            # (each thread runs one session at a time).
            self.assertTrue(wait_for(lambda: all(
                l.finished_since(rotated_at) >= SESSIONS_AROUND_ROTATION or l.errors
                for l in loops), RUN_TIMEOUT))
            # The master writes the file too: a reload after the rotation.
            self.d.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "master: notice: reloaded:" in read(self.d.log_path),
                                     harness.SOCKET_TIMEOUT),
                            "no reload line in the new file:\n" + self.d.diagnostics())
        finally:
            for loop in loops:
                loop.stop.set()
            for loop in loops:
                loop.join(RUN_TIMEOUT)
        for loop in loops:
            self.assertEqual([], loop.errors)

        sessions = [s for loop in loops for s in loop.done]
        after = {a for a, began in sessions if began >= rotated_at}
        # Each session has logged its end once the count is right.
        def all_logged():
            logged = sessions_logged(read(self.rotated) + read(self.d.log_path))
            return all(logged[address] for address, _ in sessions)
        wait_for(all_logged, harness.SOCKET_TIMEOUT)

        # The event after which the old file must not change: a session
        # that began after everything above has logged in the new file.
        old_size = os.path.getsize(self.rotated)
        probe = "127.200.0.1"
        with RawClient(self.d.host, self.d.port, source=probe) as c:
            c.read_greeting()
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        self.assertTrue(wait_for(lambda: summary_pattern(probe).search(read(self.d.log_path)),
                                 harness.SOCKET_TIMEOUT),
                        "the session after the rotation is not in the new file:\n"
                        + self.d.diagnostics())
        old = read(self.rotated)
        new = read(self.d.log_path)
        self.assertEqual(old_size, len(old.encode()), "the rotated file was written after")

        in_old, in_new = sessions_logged(old), sessions_logged(new)
        lost, doubled, late = [], [], []
        for address, _ in sessions:
            total = in_old[address] + in_new[address]
            if total == 0:
                lost.append(address)
            elif total > 1:
                doubled.append(address)
            if address in after and in_old[address]:
                late.append(address)
        self.assertEqual([], lost, "sessions whose summary line is in neither file")
        self.assertEqual([], doubled, "sessions logged more than once")
        self.assertEqual([], late, "sessions after the rotation logged to the rotated file")
        self.assertTrue(sessions and len(after) >= CLIENT_THREADS * SESSIONS_AROUND_ROTATION)
        # Both files saw sessions: the rotation came while they ran.
        self.assertIn(" worker: info: session:", old)
        self.assertIn(" worker: info: session:", new)
        self.assertNotIn("cannot reopen", old + new)
        # The new file is logrotate's (create), and the daemon's users can
        # append to it.
        st = os.stat(self.d.log_path)
        self.assertEqual(0o640, stat.S_IMODE(st.st_mode))
        self.assertEqual((self.d.uid, self.d.gid), (st.st_uid, st.st_gid))

    def test_reload_line_after_rotation_is_in_the_new_file(self):
        # No session: the master alone, with idle workers, is told.
        self.rotate()
        self.d.signal(signal.SIGHUP)
        self.assertTrue(wait_for(lambda: "master: notice: reloaded:" in read(self.d.log_path),
                                 harness.SOCKET_TIMEOUT), self.d.diagnostics())
        self.assertNotIn("reloading settings", read(self.rotated))
        # Idle workers (the reload's SIGQUIT ends the old ones) and new ones
        # log their sessions to the new file.
        probe = "127.201.0.1"
        with RawClient(self.d.host, self.d.port, source=probe) as c:
            c.read_greeting()
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        self.assertTrue(wait_for(lambda: summary_pattern(probe).search(read(self.d.log_path)),
                                 harness.SOCKET_TIMEOUT), self.d.diagnostics())

    def holding_the_rotated_file(self):
        """The master and workers whose log descriptor is still the rotated
        file."""
        holders = []
        for pid in [self.d.proc.pid] + self.d.workers():
            try:
                fds = os.listdir("/proc/%d/fd" % pid)
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink("/proc/%d/fd/%s" % (pid, fd)) == self.rotated:
                        holders.append(pid)
                except OSError:
                    pass
        return holders

    def test_idle_workers_reopen_without_a_reload(self):
        # Workers started before the rotation and never replaced let go of
        # the rotated file by themselves (the master passes logrotate's
        # SIGUSR1 on, and each handles it when it comes), and their first
        # session afterwards goes to the new file. A session that starts
        # before its worker has the signal still logs to the rotated file,
        # which delaycompress keeps as it is.
        self.rotate()
        self.assertTrue(wait_for(lambda: not self.holding_the_rotated_file(),
                                 harness.SOCKET_TIMEOUT),
                        "still writing to the rotated file: %s\n%s"
                        % (self.holding_the_rotated_file(), self.d.diagnostics()))
        for n in range(2 * CLIENT_THREADS + 3):
            probe = "127.202.0.%d" % (n + 1)
            with RawClient(self.d.host, self.d.port, source=probe) as c:
                c.read_greeting()
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            self.assertTrue(wait_for(lambda: summary_pattern(probe).search(read(self.d.log_path)),
                                     harness.SOCKET_TIMEOUT), self.d.diagnostics())
        self.assertNotIn("client=127.202.", read(self.rotated))


SYSTEM_USER = "p3lr%05d" % (os.getpid() % 100000)
SYSTEM_PASSWORD = "Rotate-pass-1"
HAVE_USERADD = all(os.path.exists(p) for p in ("/usr/sbin/useradd", "/usr/sbin/userdel",
                                                "/usr/sbin/chpasswd"))


def remove_user(name):
    subprocess.run(["userdel", "-r", "-f", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


@unittest.skipUnless(os.geteuid() == 0, "system users need root")
@unittest.skipUnless(have_logrotate(), "logrotate is not installed (scripts/deps)")
@unittest.skipUnless(HAVE_USERADD, "useradd/userdel/chpasswd are not installed")
class PrivsepRotationTest(unittest.TestCase):
    """auth.backend "system": the privileged helper (root, started before
    the drop) writes the file too, and is told by the master."""

    @classmethod
    def setUpClass(cls):
        remove_user(SYSTEM_USER)  # a leftover of an earlier, killed run
        cls.addClassCleanup(remove_user, SYSTEM_USER)
        subprocess.run(["useradd", "-m", "-s", "/usr/sbin/nologin", SYSTEM_USER], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        subprocess.run(["chpasswd"], input="%s:%s\n" % (SYSTEM_USER, SYSTEM_PASSWORD),
                       text=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        pw = __import__("pwd").getpwnam(SYSTEM_USER)
        maildir = os.path.join(pw.pw_dir, "Maildir")
        harness.make_maildir(maildir, {"m": b"Subject: rotated\n\nbody\n"})
        for root, dirs, files in os.walk(maildir):
            os.chown(root, pw.pw_uid, pw.pw_gid)
            for f in files:
                os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)

    def setUp(self):
        self.d = Daemon(users={}, settings={"auth.backend": "system",
                                            "auth.mail_location": "%h/Maildir"})
        self.d.start()
        self.rotator = Rotator(rotate_config(self.d))
        self.rotated = self.d.log_path + ".1"

    def tearDown(self):
        self.d.cleanup()
        self.rotator.cleanup()

    def failed_login(self, source):
        with RawClient(self.d.host, self.d.port, source=source) as c:
            c.read_greeting()
            self.assertTrue(c.cmd("USER " + SYSTEM_USER).startswith("+OK"))
            self.assertTrue(c.cmd("PASS wrong-" + SYSTEM_PASSWORD).startswith("-ERR"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_helper_writes_the_new_file(self):
        helper_line = " privsep: notice: privsep: check failed: user=%s rip=%s"
        self.failed_login("127.204.0.1")
        self.assertTrue(wait_for(lambda: summary_pattern("127.204.0.1").search(
            read(self.d.log_path)), harness.SOCKET_TIMEOUT), self.d.diagnostics())
        self.assertIn(helper_line % (SYSTEM_USER, "127.204.0.1"), read(self.d.log_path))
        code, output = self.rotator.run()
        self.assertEqual(0, code, output)
        # A good login too: its mail agent is started after the rotation
        # and opens the new file.
        client = self.d.login(SYSTEM_USER, SYSTEM_PASSWORD, source="127.204.0.2")
        self.assertTrue(client.cmd("STAT").startswith("+OK 1 "))
        self.assertTrue(client.cmd("QUIT").startswith("+OK"))
        client.close()
        self.failed_login("127.204.0.3")
        self.assertTrue(wait_for(lambda: summary_pattern("127.204.0.3").search(
            read(self.d.log_path)), harness.SOCKET_TIMEOUT), self.d.diagnostics())
        new, old = read(self.d.log_path), read(self.rotated)
        self.assertIn(helper_line % (SYSTEM_USER, "127.204.0.3"), new)
        self.assertNotIn("127.204.0.2", old)
        self.assertNotIn("127.204.0.3", old)
        self.assertTrue(summary_pattern("127.204.0.2").search(new))
        self.assertNotIn("cannot reopen", old + new)
        # Every process is still there: none was ended by the signal.
        self.assertIsNone(self.d.proc.poll())
        self.assertNotIn("killed by signal", old + new)


@unittest.skipUnless(os.geteuid() == 0, "logrotate's create needs root")
@unittest.skipUnless(have_logrotate(), "logrotate is not installed (scripts/deps)")
class PostrotateGuardTest(unittest.TestCase):
    """Without a running pop3d the shipped postrotate does nothing and
    logrotate succeeds: no pid file, or a pid file naming another process."""

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="pop3d-logrotate-guard-")
        self.log = os.path.join(self.dir, "pop3d.log")
        self.pid_file = os.path.join(self.dir, "pop3d.pid")
        with open(SHIPPED) as f:
            text = f.read()
        owner = harness.run_identity()
        text = (text.replace(SHIPPED_LOG, self.log).replace(SHIPPED_PID, self.pid_file)
                .replace(SHIPPED_CREATE, "create 0640 %s %s" % (owner[0], owner[1])))
        self.rotator = Rotator(text)

    def tearDown(self):
        self.rotator.cleanup()
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_log(self):
        with open(self.log, "w") as f:
            f.write("a line\n")

    def test_no_pid_file(self):
        self.write_log()
        code, output = self.rotator.run()
        self.assertEqual(0, code, output)
        self.assertTrue(os.path.exists(self.log + ".1"), output)

    def test_pid_file_of_another_process(self):
        self.write_log()
        # A pid reused by a process that is not pop3d, which SIGUSR1 (whose
        # default action ends a process) would kill.
        other = subprocess.Popen(["sleep", "60"])
        try:
            with open(self.pid_file, "w") as f:
                f.write("%d\n" % other.pid)
            code, output = self.rotator.run()
            self.assertEqual(0, code, output)
            time.sleep(0.2)
            self.assertIsNone(other.poll(), "postrotate signalled a process that is not pop3d")
        finally:
            other.kill()
            other.wait()


if __name__ == "__main__":
    sys.exit(harness.main())
