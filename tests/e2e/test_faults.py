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
import signal
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, retr_reference  # noqa: E402

LOAD_SECONDS = float(os.environ.get("POP3D_FAULT_SECONDS", "4"))
# A load phase goes on past LOAD_SECONDS until enough has happened in it
# (kills, completed sessions); only after this long without that does the
# campaign fail, so a slow machine makes it longer, not red.
CAMPAIGN_LIMIT = 120.0
# Slack on top of a configured time-out before an awaited event counts as
# missing: the suites run under sanitizers on two cores.
MARGIN = 10.0
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
            began = time.monotonic()
            while not (time.monotonic() - began >= LOAD_SECONDS and kills > 5
                       and load.completed > 5):
                if time.monotonic() - began > CAMPAIGN_LIMIT:
                    break  # the asserts below say what did not happen
                time.sleep(random.uniform(0.1, 0.4))
                victims = list(self.pool())
                if victims:
                    try:
                        os.kill(random.choice(victims), signal.SIGKILL)
                        kills += 1
                    except ProcessLookupError:
                        pass
        self.assertGreater(kills, 5, "fewer than 6 workers to kill in %d s" % CAMPAIGN_LIMIT)
        self.assertGreater(load.completed, 5, "the load never got through: %r" % load.broken[:5])
        self.assertEqual(load.bad_content, [], "RETR sent something else than was stored")
        # The pool refills.
        refilled = harness.wait_for(lambda: len(self.pool()) >= full_size, 15)
        self.assertTrue(refilled, "the pool did not refill: %d of %d\n%s"
                        % (len(self.pool()), full_size, self.d.diagnostics()))
        check_maildrops(self, self.d, self.originals, load)
        # Still serving, with the messages as they are on disk.
        with closing(login_when_free(self.d, "u0", "after the kills")) as p:
            self.assertEqual(p.stat()[0], len(present(self.d, "u0")))
            p.quit()

        # Now the master, under load again.
        with Load(self.d, self.originals, clients=2) as load2:
            # Under load: sessions are going through when the master dies.
            self.assertTrue(harness.wait_for(lambda: load2.completed >= 2, CAMPAIGN_LIMIT),
                            "no session completed: %r" % load2.broken[:5])
            workers = self.pool()
            self.d.proc.kill()
            self.d.proc.wait(harness.STOP_TIMEOUT)
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
        p = login_when_free(self.d, "u1", "after the restart")
        with closing(p):
            count = p.stat()[0]
            self.assertEqual(count, len(present(self.d, "u1")))
            if count:
                lines = p.retr(1)[1]
                self.assertTrue(lines)
            p.quit()
        check_maildrops(self, self.d, self.originals, load)


def login_when_free(d, user, when):
    """A poplib session logged in as `user`. The last sessions of killed
    workers and of the load's clients (closed without QUIT) may hold the
    maildrop for a moment after the test moves on, so [IN-USE] is retried;
    longer than 15 s (ASan on two busy cores) fails, saying what holds it.
    It once held for good: a worker killed between creating Dovecot's
    session lock and writing its pid left an empty lock, which names no
    holder to judge (the lock is now linked into place with its text)."""
    deadline = time.monotonic() + 15
    while True:
        p = d.pop()
        p.user(user)
        try:
            p.pass_(USERS[user])
            return p
        except poplib.error_proto as e:
            p.close()
            if b"[IN-USE]" not in e.args[0] or time.monotonic() >= deadline:
                raise AssertionError("%s\n%s\n%s" % (e, who_holds(d.maildir(user)),
                                                     d.diagnostics()))
            sys.stderr.write("\n  %s still [IN-USE] %s; retrying\n" % (user, when))
            time.sleep(0.2)


def who_holds(maildir):
    """What keeps a maildrop [IN-USE]: Dovecot's session lock (its holder
    and that process's state) and every process with pop3d.lock open."""
    out = []
    lock = os.path.join(maildir, "dovecot-pop3-session.lock")
    try:
        with open(lock) as f:
            text = f.read().strip()
        pid = int(text.split(":")[0])
        out.append("dovecot lock: %r, holder %s" % (text, _proc_line(pid)))
    except (OSError, ValueError) as e:
        out.append("dovecot lock: %s" % e)
    target = os.path.realpath(os.path.join(maildir, "pop3d.lock"))
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir("/proc/%s/fd" % entry)
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink("/proc/%s/fd/%s" % (entry, fd)) == target:
                    out.append("pop3d.lock open in %s" % _proc_line(int(entry)))
            except OSError:
                pass
    return "\n".join(out)


def _proc_line(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            stat = f.read()
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        return "pid %d state %s ppid %s: %s" % (
            pid, stat[stat.rfind(")") + 2:].split()[0], stat[stat.rfind(")") + 2:].split()[1], cmd)
    except OSError:
        return "pid %d: gone" % pid


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
            self.assertTrue(harness.wait_for(lambda: load.completed >= 1, CAMPAIGN_LIMIT),
                            "no session completed: %r" % load.broken[:5])
            for n in range(self.RELOADS):
                before = load.completed
                self.d.signal(signal.SIGHUP)
                # The next SIGHUP waits for a session to complete after this
                # one, so every reload lands among running sessions, however
                # fast or slow they are here.
                self.assertTrue(harness.wait_for(lambda: load.completed > before
                                                 or load.broken, CAMPAIGN_LIMIT, 0.01),
                                "no session completed after SIGHUP %d" % (n + 1))
        self.assertIsNone(self.d.proc.poll(), "the master died")
        self.assertEqual(load.broken, [], "sessions dropped by reloads (%d of %d)"
                         % (len(load.broken), load.sessions))
        self.assertGreaterEqual(load.completed, self.RELOADS)
        self.assertEqual(load.bad_content, [])
        self.assertNotIn("reload failed", self.d.log)
        check_maildrops(self, self.d, self.originals, load)
        sys.stderr.write("\n  %d SIGHUPs under load: %d sessions completed, none dropped\n"
                         % (self.RELOADS, load.completed))


# What pop3d says when a system call fails for want of a descriptor: the
# step, then strerror(EMFILE) ("<what>: Too many open files", see
# Error::from_errno) at the end of a log line; start-up errors go to stderr
# as "pop3d: <error>" (main.cpp).
EMFILE_TEXT = "Too many open files"
START_OUT_OF_DESCRIPTORS = re.compile(r"^pop3d: \S.*: %s$" % EMFILE_TEXT, re.M)
ACCEPT_OUT_OF_DESCRIPTORS = "worker: error: worker: cannot accept a connection: " + EMFILE_TEXT
MAILDROP_OUT_OF_DESCRIPTORS = re.compile(
    r"worker: error: cannot open maildrop: user=<alice>, .*: %s$" % EMFILE_TEXT, re.M)
CRASH = r"(?i)segmentation|core dumped|AddressSanitizer|runtime error"


# Under UBSan, every polymorphic call whose type the vptr check has not
# cached yet probes memory through a pipe(): it needs two free descriptors,
# and without them it reports a false "invalid vptr" and ends the process
# (-fno-sanitize-recover). A suppression does not help: the report comes
# from the failed probe itself.
VPTR_PROBE_DESCRIPTORS = 2


def built_with_vptr_checks():
    """True when the daemon under test carries UBSan's vptr check."""
    try:
        with open(harness.pop3d_bin(), "rb") as f:
            return b"__ubsan_handle_dynamic_type_cache_miss" in f.read()
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
        self.addCleanup(d.cleanup)
        return d

    def start_or_refusal(self, d):
        """Starts `d`; None when it serves, else the line of its stderr that
        says it ran out of descriptors (any other failure fails the test)."""
        d.start(wait=False)
        try:
            d.wait_ready()
            return None
        except AssertionError:
            pass
        self.assertIsNotNone(d.proc.poll(), "pop3d neither serves nor exits\n" + d.diagnostics())
        # Its own words only: the diagnostics also hold our prlimit command.
        refusal = START_OUT_OF_DESCRIPTORS.search(d.stderr)
        self.assertTrue(refusal, "pop3d exited with %s and its stderr does not say it ran out "
                        "of descriptors:\n%s" % (d.proc.returncode, d.stderr))
        self.assertNotEqual(d.proc.returncode, 0)
        self.assertNotRegex(d.stderr + d.log, CRASH)
        return refusal.group(0)

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
        refusal = self.start_or_refusal(d)
        if refusal:
            print("nofile 64: refused to start: %r" % refusal)
            return  # refusing to start is fine when it says why
        opened, served = self.hammer(d, 60)
        print("nofile 64: %d connections opened, %d sessions served; log: %r" % (
            opened, served, [l for l in d.log.splitlines()
                             if re.search(r"(?i)error|warning|files|descriptor", l)][:6]))
        self.assertIsNone(d.proc.poll(), "the master died\n" + d.diagnostics())
        self.assertGreater(served, 0, d.diagnostics())
        self.assertNotRegex(d.log + d.stderr, CRASH)

    @unittest.skipIf(built_with_vptr_checks(),
                     "UBSan's vptr check needs two free descriptors for each probe: a limit "
                     "that leaves a worker none for accept() also stops the master during "
                     "start-up, with a false 'invalid vptr' report")
    def test_accept_out_of_descriptors(self):
        # So few that a worker cannot even accept: it used to spin on
        # epoll + EMFILE at full CPU without a word in the log. Now it logs
        # the reason (at most once a second) and backs off.
        d = self.start_with_nofile(6, 2)
        d.start(wait=False)
        self.assertTrue(harness.wait_for(lambda: "started:" in d.log or d.proc.poll() is not None,
                                         harness.START_TIMEOUT), d.diagnostics())
        self.assertIsNone(d.proc.poll(), "pop3d did not start with 6 descriptors\n" + d.stderr)
        with socket.create_connection((d.host, d.port), timeout=5):
            since = time.monotonic()
            logged = harness.wait_for(lambda: ACCEPT_OUT_OF_DESCRIPTORS in d.log, MARGIN)
            self.assertTrue(logged, d.diagnostics())
            workers = d.workers()
            spinning = [w for w, ticks in _cpu_ticks_over(workers, 1.0).items() if ticks > 50]
            self.assertEqual(spinning, [], "workers spinning on accept")
            # At most one line a second per worker, however long this took.
            lines = d.log.count("cannot accept a connection")
            allowed = len(workers) * (int(time.monotonic() - since) + 2)
            self.assertLessEqual(lines, allowed, "log flooded")
        self.assertIsNone(d.proc.poll(), "the master died\n" + d.diagnostics())
        self.assertNotRegex(d.log + d.stderr, CRASH)

    def test_worker_out_of_descriptors(self):
        # So few that a worker cannot open a maildrop: the client gets an
        # error reply and the log says why; no worker spins or crashes.
        # 8 runs out at the maildrop's lock file. With the vptr check, 8
        # ends the worker at a false report in its first login call; the
        # two descriptors the probe needs on top let it get that far, and
        # opening the maildrop still runs out (at one of its directories).
        limit = 8 + (VPTR_PROBE_DESCRIPTORS if built_with_vptr_checks() else 0)
        d = self.start_with_nofile(limit, 2)
        refusal = self.start_or_refusal(d)
        if refusal:
            print("nofile %d: refused to start: %r" % (limit, refusal))
            return  # refusing to start is fine when it says why
        replies = []
        for _ in range(3):
            with RawClient(d.host, d.port, timeout=harness.SOCKET_TIMEOUT) as c:
                c.read_greeting()
                replies.append(c.login("alice", "secret"))
                c.cmd("QUIT")
        # Each session is over once its summary is logged.
        self.assertTrue(harness.wait_for(
            lambda: d.log.count("session: client=127.0.0.1 ") >= len(replies), MARGIN),
            d.diagnostics())
        self.assertIsNone(d.proc.poll(), "the master died\n" + d.diagnostics())
        self.assertNotRegex(d.log + d.stderr, CRASH)
        print("nofile %d: replies %r; log: %r" % (limit, replies, [
            l for l in d.log.splitlines() if EMFILE_TEXT in l][:6]))
        failed = [r for r in replies if not r.startswith("+OK")]
        if not failed:
            self.skipTest("%d descriptors no longer starve a session; this test needs a lower "
                          "limit" % limit)
        for reply in failed:
            self.assertTrue(reply.startswith("-ERR [SYS/TEMP] "), reply)
        reasons = MAILDROP_OUT_OF_DESCRIPTORS.findall(d.log)
        self.assertGreaterEqual(len(reasons), len(failed),
                                "errors without the reason in the log: %r\n%s"
                                % (replies, d.diagnostics()))
        # No worker spins on a failing accept: the workers are idle now.
        busy = [w for w, ticks in _cpu_ticks_over(d.workers(), 1.0).items() if ticks > 50]
        self.assertEqual(busy, [], "workers spinning: %r" % busy)


def _cpu_ticks_over(pids, seconds):
    """{pid: clock ticks of CPU (user + system) it used in `seconds`}; a
    process that spins uses about 100 a second, an idle one none."""
    def ticks(pid):
        try:
            with open("/proc/%d/stat" % pid, "rb") as f:
                stat = f.read()
            fields = stat[stat.rfind(b")") + 2:].split()
            return int(fields[11]) + int(fields[12])
        except OSError:
            return 0
    start = {pid: ticks(pid) for pid in pids}
    time.sleep(seconds)
    return {pid: ticks(pid) - start[pid] for pid in pids}


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
        summaries = self.d.log.count("session: client=127.0.0.1 user=alice ")
        c = self.d.login("alice")
        with c:
            uidl = c.cmd_multi("UIDL")[1].decode().split("\r\n")
            self.assertTrue(c.cmd("DELE 1").startswith("+OK"))
            self.assertTrue(c.cmd("DELE 3").startswith("+OK"))
            reply = c.cmd("QUIT")
        deleted = {uidl[0].split()[1], uidl[2].split()[1]}
        # The worker is done with the maildrop once it logs the session.
        self.assertTrue(harness.wait_for(
            lambda: self.d.log.count("session: client=127.0.0.1 user=alice ") > summaries,
            MARGIN), "the QUIT session is not logged\n" + self.d.diagnostics())
        now = present(self.d, "alice")
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
