"""End-to-end fault campaigns: the daemon's own parts crash or run out of
something while clients are busy, and no message is lost, duplicated or
cut short.

- kill -9 of random workers under load (parallel poplib clients looping
  over RETR/DELE/QUIT on a set of mailboxes), then of the master: every
  message that no QUIT-completed session deleted is still there byte for
  byte, none twice; the pool refills; workers exit with the master; a
  restarted daemon serves again despite the stale pid file.
- SIGHUP many times under load: no session is dropped.
- Out of descriptors (RLIMIT_NOFILE of 64 and lower): clear errors in the
  log, no crash, service again once descriptors are free.
- A full disk during QUIT (a 1 MB tmpfs as the mail root; root only).

Every campaign is bounded in time; POP3D_FAULT_SECONDS sets the length of
the load phases (default 4)."""

import os
from contextlib import closing
import poplib
import random
import re
import resource
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, retr_reference  # noqa: E402

LOAD_SECONDS = float(os.environ.get("POP3D_FAULT_SECONDS", "4"))
USERS = {"u%d" % i: "pw%d" % i for i in range(4)}


def make_message(user, i):
    body = b"".join(b"line %d of message %d for %s\n" % (n, i, user.encode())
                    for n in range(random.randint(1, 400)))
    if i % 5 == 0:
        body += b".a line that needs dot-stuffing\n"
    return b"From: load@example.org\nSubject: %d\n\n" % i + body


def mailbox(user, count):
    return {"%d.M%dP%d.faults-%s" % (1700000000 + i, i, os.getpid(), user): make_message(user, i)
            for i in range(count)}


def base_of(name):
    return name.split(":")[0]


def present(d, user):
    """{base name: [bytes, ...]} of the user's maildrop (a list, to see
    duplicates: the same base name in new/ and cur/, or twice in cur/)."""
    out = {}
    for rel, data in harness.maildir_files(d.maildir(user)).items():
        out.setdefault(base_of(rel.split("/", 1)[1]), []).append(data)
    return out


class Load:
    """Parallel poplib clients, each looping over login, UIDL, RETR of a
    random message (checked against what was stored), DELE of some, QUIT.
    Records which deletions a completed QUIT confirmed, and which are in
    doubt (QUIT sent, no answer: the commit may or may not have run)."""

    def __init__(self, d, originals, clients=3, delete_ratio=0.3):
        self.d = d
        self.originals = originals  # {user: {base name: bytes}}
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.confirmed = set()      # (user, base) deleted by a completed QUIT
        self.uncertain = set()      # deleted by a QUIT that got no answer
        self.sessions = 0
        self.completed = 0
        self.broken = []            # descriptions of sessions that failed
        self.bad_content = []
        self.delete_ratio = delete_ratio
        self.threads = [threading.Thread(target=self.client, args=(n,), daemon=True)
                        for n in range(clients)]

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        for t in self.threads:
            t.join(30)

    def client(self, n):
        rng = random.Random(n)
        users = sorted(self.originals)
        while not self.stop.is_set():
            user = users[(n + rng.randrange(len(users))) % len(users)]
            self.session(rng, user)

    def session(self, rng, user):
        deleted = []
        quit_sent = False
        with self.lock:
            self.sessions += 1
        try:
            # Short: a connection queued on a listener whose workers just
            # died with the master gets no answer at all.
            p = poplib.POP3(self.d.host, self.d.port, timeout=3)
        except OSError as e:
            self.note("connect: %s" % e)
            time.sleep(0.05)
            return
        try:
            try:
                p.user(user)
                p.pass_(USERS[user])
            except poplib.error_proto as e:
                if b"IN-USE" not in str(e).encode() and "IN-USE" not in str(e):
                    self.note("login %s: %s" % (user, e))
                time.sleep(0.05)
                return
            uidls = {}
            for line in p.uidl()[1]:
                num, uid = line.decode().split(" ", 1)
                uidls[int(num)] = uid
            for num in rng.sample(sorted(uidls), min(2, len(uidls))):
                lines = p.retr(num)[1]
                got = b"".join(l + b"\r\n" for l in lines)
                want = self.originals[user].get(uidls[num])
                if want is None or got != retr_reference(want):
                    self.bad_content.append((user, uidls[num]))
                if rng.random() < self.delete_ratio:
                    p.dele(num)
                    deleted.append(uidls[num])
            quit_sent = True
            p.quit()
            with self.lock:
                self.completed += 1
                self.confirmed.update((user, b) for b in deleted)
        except (OSError, EOFError, poplib.error_proto) as e:
            self.note("%s: %s" % (user, e))
            if quit_sent:
                with self.lock:
                    self.uncertain.update((user, b) for b in deleted)
        finally:
            try:
                p.close()
            except OSError:
                pass

    def note(self, what):
        with self.lock:
            self.broken.append(what)


def check_maildrops(test, d, originals, load):
    """Every message is there byte for byte, once, unless a completed QUIT
    deleted it (then it is gone) or the QUIT went unanswered (either)."""
    for user, messages in originals.items():
        now = present(d, user)
        for base, data in messages.items():
            copies = now.get(base, [])
            test.assertLessEqual(len(copies), 1, "%s/%s is there %d times" % (user, base, len(copies)))
            if (user, base) in load.confirmed:
                test.assertEqual(copies, [], "%s/%s came back after a confirmed DELE" % (user, base))
            elif copies:
                test.assertEqual(copies[0], data, "%s/%s changed" % (user, base))
            else:
                test.assertIn((user, base), load.uncertain, "%s/%s was lost" % (user, base))
        test.assertFalse(set(now) - set(messages), "messages appeared from nowhere")


class KillTests(unittest.TestCase):
    """kill -9 of workers under load, then of the master."""

    def setUp(self):
        random.seed(9)
        self.originals = {u: {} for u in USERS}
        mail = {}
        for user in USERS:
            box = mailbox(user, 40)
            mail[user] = box
            self.originals[user] = {k: v for k, v in box.items()}
        self.d = Daemon(users=USERS, mail=mail,
                        settings={"pop3.max_connections": 6, "log.level": "info"})
        self.d.start()

    def tearDown(self):
        self.d.cleanup()

    def pool(self):
        return set(self.d.workers())

    def test_kill_workers_then_the_master(self):
        full = harness.wait_for(lambda: len(self.pool()) >= 7 and self.pool(), 10)
        full_size = len(full)
        kills = 0
        with Load(self.d, self.originals, clients=3) as load:
            deadline = time.monotonic() + LOAD_SECONDS
            while time.monotonic() < deadline:
                time.sleep(random.uniform(0.1, 0.4))
                victims = list(self.pool())
                if victims:
                    try:
                        os.kill(random.choice(victims), signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass
        self.assertGreater(kills, 5)
        self.assertGreater(load.completed, 5, "the load never got through: %r" % load.broken[:5])
        self.assertEqual(load.bad_content, [], "RETR sent something else than was stored")
        # The pool refills.
        refilled = harness.wait_for(lambda: len(self.pool()) >= full_size, 15)
        self.assertTrue(refilled, "the pool did not refill: %d of %d\n%s"
                        % (len(self.pool()), full_size, self.d.diagnostics()))
        check_maildrops(self, self.d, self.originals, load)
        # Still serving, with the messages as they are on disk.
        with closing(self.d.pop()) as p:
            p.user("u0")
            p.pass_(USERS["u0"])
            self.assertEqual(p.stat()[0], len(present(self.d, "u0")))
            p.quit()

        # Now the master, under load again.
        with Load(self.d, self.originals, clients=2) as load2:
            time.sleep(min(2.0, LOAD_SECONDS / 2))
            workers = self.pool()
            self.d.proc.kill()
            self.d.proc.wait(5)
        # Workers exit when the master dies (PR_SET_PDEATHSIG), at the end of
        # the session they are in at most.
        gone = harness.wait_for(lambda: all(_is_zombie(w) for w in workers), 15)
        self.assertTrue(gone, "workers outlived the master")
        self.assertTrue(os.path.exists(self.d.pid_file), "expected a stale pid file to test")
        harness.wait_for(lambda: harness.port_is_free(self.d.port), 10)
        load.confirmed |= load2.confirmed
        load.uncertain |= load2.uncertain
        load.bad_content += load2.bad_content
        self.assertEqual(load.bad_content, [])
        check_maildrops(self, self.d, self.originals, load)

        # A restarted daemon serves again despite the stale pid file.
        self.d._stderr.close()
        self.d._stdout.close()
        self.d.start()
        with closing(self.d.pop()) as p:
            p.user("u1")
            p.pass_(USERS["u1"])
            count = p.stat()[0]
            self.assertEqual(count, len(present(self.d, "u1")))
            if count:
                lines = p.retr(1)[1]
                self.assertTrue(lines)
            p.quit()
        check_maildrops(self, self.d, self.originals, load)


def _is_zombie(pid):
    """True when `pid` is gone or a zombie."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
        return stat[stat.rfind(b")") + 2:].split()[0] == b"Z"
    except OSError:
        return True


class ReloadUnderLoadTests(unittest.TestCase):
    RELOADS = int(os.environ.get("POP3D_RELOADS", "100"))  # the figure

    def setUp(self):
        random.seed(30)
        mail = {u: mailbox(u, 10) for u in USERS}
        self.originals = mail
        self.d = Daemon(users=USERS, mail=mail,
                        settings={"pop3.max_connections": 6, "log.level": "info"})
        self.d.start()

    def tearDown(self):
        self.d.cleanup()

    def test_sighup_drops_no_session(self):
        with Load(self.d, self.originals, clients=3, delete_ratio=0.0) as load:
            time.sleep(0.5)
            for _ in range(self.RELOADS):
                self.d.signal(signal.SIGHUP)
                time.sleep(max(0.05, LOAD_SECONDS / self.RELOADS))
            time.sleep(0.5)
        self.assertIsNone(self.d.proc.poll(), "the master died")
        self.assertGreater(load.completed, self.RELOADS / 3)
        self.assertEqual(load.broken, [], "sessions dropped by reloads (%d of %d)"
                         % (len(load.broken), load.sessions))
        self.assertEqual(load.bad_content, [])
        self.assertNotIn("reload failed", self.d.log)
        check_maildrops(self, self.d, self.originals, load)
        sys.stderr.write("\n  %d SIGHUPs under load: %d sessions completed, none dropped\n"
                         % (self.RELOADS, load.completed))


def built_with_sanitizers():
    """ASan and UBSan need descriptors of their own (UBSan's vptr check
    opens a pipe to probe memory), so under a tiny RLIMIT_NOFILE they fail
    or report false errors; those tests are for the plain build."""
    try:
        with open(harness.pop3d_bin(), "rb") as f:
            data = f.read()
        return b"__asan_init" in data or b"__ubsan_handle" in data
    except OSError:
        return False


class DescriptorTests(unittest.TestCase):
    """A daemon started with few descriptors: what runs out is reported,
    nothing crashes, and the service comes back once descriptors are free."""

    def start_with_nofile(self, limit, max_connections):
        d = Daemon(mail={"alice": {"m": b"Subject: fd\n\nbody\n"}},
                   settings={"pop3.max_connections": max_connections, "log.level": "info"})
        d.command = lambda *extra, _c=d.command: (
            ["prlimit", "--nofile=%d:%d" % (limit, limit), "--"] + _c(*extra))
        return d

    def hammer(self, d, count):
        """Opens `count` connections at once, then one full session each
        way it can; returns (connections opened, sessions served)."""
        socks = []
        for _ in range(count):
            try:
                socks.append(socket.create_connection((d.host, d.port), timeout=5))
            except OSError:
                break
        served = 0
        for s in socks:
            s.close()
        for _ in range(6):
            try:
                with closing(d.pop()) as p:
                    p.user("alice")
                    p.pass_("secret")
                    p.stat()
                    p.quit()
                    served += 1
            except (OSError, poplib.error_proto, EOFError):
                time.sleep(0.5)
        return len(socks), served

    def test_low_nofile_limit(self):
        d = self.start_with_nofile(64, 16)
        self.addCleanup(d.cleanup)
        try:
            d.start()
        except AssertionError as e:
            # Refusing to start is fine if it says why.
            self.assertRegex(str(e), r"(?i)descriptor|too many open files|nofile|EMFILE")
            return
        opened, served = self.hammer(d, 60)
        print("nofile 64: %d connections opened, %d sessions served; log: %r" % (
            opened, served, [l for l in d.log.splitlines()
                             if re.search(r"(?i)error|warning|files|descriptor", l)][:6]))
        self.assertIsNone(d.proc.poll(), "the master died\n" + d.diagnostics())
        self.assertGreater(served, 0, d.diagnostics())
        self.assertNotRegex(d.log + d.stderr, r"(?i)segmentation|core dumped|AddressSanitizer|runtime error")

    @unittest.skipIf(built_with_sanitizers(), "sanitizer runtimes need descriptors too")
    def test_accept_out_of_descriptors(self):
        # So few that a worker cannot even accept: it used to spin on
        # epoll + EMFILE at full CPU without a word in the log. Now it logs
        # the reason (at most once a second) and backs off.
        d = self.start_with_nofile(6, 2)
        self.addCleanup(d.cleanup)
        d.start(wait=False)
        harness.wait_for(lambda: "started:" in d.log, 5)
        with socket.create_connection((d.host, d.port), timeout=5):
            logged = harness.wait_for(lambda: "cannot accept a connection: Too many open files"
                                      in d.log, 5)
            self.assertTrue(logged, d.diagnostics())
            spinning = [w for w in d.workers() if _cpu_ticks_over(w, 1.0) > 50]
            self.assertEqual(spinning, [], "workers spinning on accept")
            lines = d.log.count("cannot accept a connection")
            self.assertLessEqual(lines, 2 * len(d.workers()) + 2, "log flooded")
        self.assertIsNone(d.proc.poll(), "the master died\n" + d.diagnostics())

    @unittest.skipIf(built_with_sanitizers(), "sanitizer runtimes need descriptors too")
    def test_worker_out_of_descriptors(self):
        # So few that a worker cannot open a maildrop: the client gets an
        # error reply and the log says why; no worker spins or crashes.
        d = self.start_with_nofile(8, 2)
        self.addCleanup(d.cleanup)
        try:
            d.start()
        except AssertionError as e:
            self.assertRegex(str(e), r"(?i)descriptor|too many open files|nofile|EMFILE")
            return
        replies = []
        for _ in range(3):
            try:
                with RawClient(d.host, d.port, timeout=5) as c:
                    c.read_greeting()
                    replies.append(c.login("alice", "secret"))
                    replies.append(c.cmd("STAT"))
                    c.cmd("QUIT")
            except (OSError, harness.ConnectionClosed) as e:
                replies.append("closed: %s" % e)
        self.assertIsNone(d.proc.poll(), "the master died\n" + d.diagnostics())
        self.assertNotRegex(d.log + d.stderr, r"(?i)segmentation|core dumped|AddressSanitizer|runtime error")
        print("nofile 8: replies %r; log: %r" % (replies, [
            l for l in d.log.splitlines() if re.search(r"(?i)error|warning|files|descriptor", l)][:6]))
        ok = [r for r in replies if r.startswith("+OK")]
        if len(ok) < len(replies):
            self.assertRegex(d.log, r"(?i)too many open files|descriptor|EMFILE",
                             "errors without a reason in the log: %r\n%s" % (replies, d.diagnostics()))
        # No worker spins on a failing accept: the workers are idle now.
        time.sleep(0.5)
        busy = [w for w in d.workers() if _cpu_ticks_over(w, 1.0) > 50]
        self.assertEqual(busy, [], "workers spinning: %r" % busy)


def _cpu_ticks_over(pid, seconds):
    def ticks():
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
            fields = stat[stat.rfind(b")") + 2:].split()
            return int(fields[11]) + int(fields[12])
        except OSError:
            return 0
    start = ticks()
    time.sleep(seconds)
    return ticks() - start


@unittest.skipUnless(os.geteuid() == 0, "mounting a tmpfs needs root")
class FullDiskTests(unittest.TestCase):
    """The mail root on a 1 MB tmpfs, filled to the last block, then QUIT
    with DELE."""

    def setUp(self):
        self.d = Daemon(mail={"alice": {}}, settings={"log.level": "info"})
        self.mnt = os.path.join(self.d.dir, "mail")
        self.saved = os.path.join(self.d.dir, "saved-mail")
        os.rename(self.mnt, self.saved)
        os.makedirs(self.mnt)
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", self.mnt],
                           capture_output=True, text=True)
        if r.returncode != 0:
            os.rmdir(self.mnt)
            os.rename(self.saved, self.mnt)
            self.d.cleanup()
            self.skipTest("cannot mount a tmpfs here: " + r.stderr.strip())
        self.addCleanup(self.unmount)
        subprocess.run(["cp", "-a", self.saved + "/.", self.mnt], check=True)
        self.messages = {}
        for i in range(8):
            data = b"Subject: %d\n\n" % i + b"x" * 40000 + b"\n"
            path = self.d.deliver("alice", data)
            self.messages[os.path.basename(path)] = data
        self.d.start()

    def unmount(self):
        self.d.stop()
        subprocess.run(["umount", self.mnt], capture_output=True)
        self.d.cleanup()

    def fill(self):
        """Fills the tmpfs; returns the filler's path."""
        filler = os.path.join(self.mnt, "filler")
        fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError:
            pass
        finally:
            os.close(fd)
        # Also use up the inodes' worth of space tmpfs counts for names.
        n = 0
        try:
            while True:
                open(os.path.join(self.mnt, "f%d" % n), "wb").close()
                n += 1
                if n > 100000:
                    break
        except OSError:
            pass
        return filler

    def test_quit_with_dele_on_a_full_disk(self):
        # A first session builds the index (so QUIT must rewrite it).
        with closing(self.d.pop()) as p:
            p.user("alice")
            p.pass_("secret")
            self.assertEqual(p.stat()[0], len(self.messages))
            p.quit()
        self.fill()
        c = self.d.login("alice")
        with c:
            uidl = c.cmd_multi("UIDL")[1].decode().split("\r\n")
            self.assertTrue(c.cmd("DELE 1").startswith("+OK"))
            self.assertTrue(c.cmd("DELE 3").startswith("+OK"))
            reply = c.cmd("QUIT")
        deleted = {uidl[0].split()[1], uidl[2].split()[1]}
        now = present(self.d, "alice")
        time.sleep(0.2)
        print("full disk: QUIT answered %r; %d of %d messages left; log: %r"
              % (reply, len(now), len(self.messages),
                 [l for l in self.d.log.splitlines() if re.search(r"(?i)index|space|error", l)]))
        for name, data in self.messages.items():
            base = base_of(name)
            copies = now.get(base, [])
            self.assertLessEqual(len(copies), 1)
            if base in deleted and reply.startswith("+OK"):
                self.assertEqual(copies, [], "%s reported deleted but still there" % base)
            elif base not in deleted:
                self.assertEqual(copies, [data], "%s lost or changed" % base)
        if not reply.startswith("+OK"):
            self.assertTrue(reply.startswith("-ERR [SYS/TEMP]"), reply)
        # The maildrop is still usable, full disk or not.
        with closing(self.d.pop()) as p:
            p.user("alice")
            p.pass_("secret")
            self.assertEqual(p.stat()[0], len(now))
            p.quit()
        self.assertIsNone(self.d.proc.poll())


if __name__ == "__main__":
    sys.exit(harness.main())
