"""End-to-end tests of access control: anti-hammering (failed logins block
an address for a while, counted across every worker), pop3.blocked_ips and
pop3.safe_ips, the connection limits, the log lines each refusal leaves,
and the shipped fail2ban filter reading those lines.

What is checked is what a client sees (one -ERR line before any greeting,
then the connection closes), what an administrator sees (pop3d
--show-blocked / --unblock, the log) and how long things last. No check
depends on how fast the machine is: a refusal must come while what
causes it still holds, a block must last its block_time and then end, and
"nothing was logged" is only looked at after a line the daemon writes
later (a session's summary)."""

import base64
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, RawClient, wait_for  # noqa: E402

REPO = harness.SRCDIR
ALICE, SECRET = "alice", "secret"
BOB, BOB_SECRET = "bob", "hunter2"

# Anti-hammering as these tests want it: on (the harness turns it off), a
# block after three failures, and long enough windows that a slow machine
# does not lift a block or forget a failure mid-test unless a test asks for
# short ones.
HAMMER = {
    "pop3.anti_hammering": True,
    "general.anti_hammering.max_failures": 3,
    "general.anti_hammering.failure_timeout": "60s",
    "general.anti_hammering.block_time": "60s",
}

# The anti-hammering table counts whole seconds of a monotonic clock, so a
# block or a failure may be let go up to this much before its full time.
TABLE_CLOCK_STEP = 1.0


def b64(data):
    return base64.b64encode(data).decode()


def raw_client(host, port, source=None, timeout=harness.SOCKET_TIMEOUT):
    """A RawClient connected from `source` (an address on this machine's
    loopback), greeting not read."""
    client = RawClient.__new__(RawClient)
    client.sock = socket.create_connection(
        (host, port), timeout=timeout, source_address=(source, 0) if source else None)
    client.buf = b""
    client.greeting = None
    return client


def read_to_eof(client, timeout=harness.SOCKET_TIMEOUT):
    """Everything the server sends until it closes; raises when it has not
    closed within `timeout`."""
    client.settimeout(timeout)
    data = client.buf
    client.buf = b""
    deadline = time.monotonic() + timeout
    while True:
        try:
            chunk = client.sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
        if time.monotonic() > deadline:
            raise AssertionError("server still sending after %.0f s: %r" % (timeout, data[:300]))


def log_lines(d, pattern, start=0):
    return re.findall(pattern, d.log[start:], re.M)


def wait_log(d, pattern, start=0, count=1, timeout=harness.SOCKET_TIMEOUT):
    """The lines matching `pattern` after offset `start` once there are at
    least `count` of them (fewer when they never come)."""
    found = wait_for(lambda: (lambda l: l if len(l) >= count else None)(
        log_lines(d, pattern, start)), timeout)
    return found or log_lines(d, pattern, start)


def fail_login(d, how, host=None, close=True):
    """One failed login on a new connection: "password" (USER/PASS with a
    wrong password), "user" (an unknown user), "plain" (AUTH PLAIN with a
    wrong password). Returns the client (closed unless close=False)."""
    c = d.connect(host)
    assert c.greeting.startswith("+OK"), "no greeting before failure %s: %r" % (how, c.greeting)
    if how == "password":
        reply = c.login(ALICE, "wrong-" + how)
    elif how == "user":
        reply = c.login("nosuchuser", "whatever")
    elif how == "plain":
        reply = c.cmd("AUTH PLAIN " + b64(b"\0" + ALICE.encode() + b"\0not-" + SECRET.encode()))
    else:
        raise ValueError(how)
    assert reply.startswith("-ERR"), "login %s did not fail: %r" % (how, reply)
    if close:
        c.close()
    return c


# "pop3d[PID] worker: LEVEL: MESSAGE", as log.target = file writes it.
WORKER_LINE = r"^.*pop3d\[(\d+)\] worker: \w+: "


def first_line(d, host=None, source=None):
    """The first line a new connection gets ("+OK ..." or "-ERR ..."), or
    "" when it is closed without one; the connection is closed."""
    c = raw_client(host or d.host, d.port, source=source)
    try:
        return c.readline()
    except (harness.ConnectionClosed, ConnectionResetError):
        return ""
    finally:
        c.close()


class RefusalAssertions:
    def assert_refused_before_greeting(self, d, host=None, source=None):
        """A new connection gets exactly one line, -ERR, and is closed;
        returns that line. Where what refuses it holds far longer than
        SOCKET_TIMEOUT (sessions kept open, a 60 s block), a daemon that
        queued the client instead of answering fails here."""
        c = raw_client(host or d.host, d.port, source=source)
        try:
            try:
                first = c.readline()
            except socket.timeout:
                self.fail("no line within %.0f s: the connection was queued, not refused"
                          % harness.SOCKET_TIMEOUT)
            rest = read_to_eof(c)
        finally:
            c.close()
        self.assertTrue(first.startswith("-ERR"),
                        "expected one -ERR line before any greeting, got %r" % first)
        self.assertEqual(rest, b"", "more than one line to a refused client: %r + %r"
                         % (first, rest))
        return first

    def assert_greeted(self, d, host=None, source=None):
        c = raw_client(host or d.host, d.port, source=source)
        try:
            greeting = c.readline()
            self.assertTrue(greeting.startswith("+OK"),
                            "expected a greeting, got %r\n%s" % (greeting, d.log[-2000:]))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()


def run_pop3d(d, *args):
    """pop3d -c CONF ARGS..., as an administrator runs it next to the
    running daemon."""
    return d.run_tool(*args)


def show_blocked(d):
    r = run_pop3d(d, "--show-blocked")
    assert r.returncode == 0, "--show-blocked failed: %s %s" % (r.stdout, r.stderr)
    return r.stdout


class AntiHammeringTests(RefusalAssertions, unittest.TestCase):
    """Failed logins from one address, in any worker, block it."""

    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.cleanup()

    def start(self, **overrides):
        settings = dict(HAMMER)
        settings.update({k.replace("__", "."): v for k, v in overrides.items()})
        self.d = Daemon(settings=settings)
        self.d.start()
        return self.d

    def test_mixed_failures_in_different_workers_block_the_address(self):
        d = self.start()
        start = len(d.log)
        # Session A is opened before the block and stays open through it.
        a = d.connect()
        self.assertTrue(a.greeting.startswith("+OK"))
        # Each failed connection stays open while the next one fails, so
        # the three failures happen in three different workers.
        failing = []
        try:
            for how in ("password", "user", "plain"):
                failing.append(fail_login(d, how, close=False))
        finally:
            for c in failing:
                c.close()
        failures = wait_log(d, WORKER_LINE + r"login failed: .*rip=127\.0\.0\.1,", start, 3)
        self.assertEqual(len(failures), 3, d.log[start:])
        self.assertEqual(len(set(failures)), 3,
                         "the failures should have been in 3 workers: pids %r" % failures)
        blocked = wait_log(d, r"anti-hammering: client=127\.0\.0\.1 blocked for .*$", start)
        self.assertEqual(len(blocked), 1, "the block should be logged once\n" + d.log[start:])

        reply = self.assert_refused_before_greeting(d)
        self.assertIn("[SYS/TEMP]", reply)
        refused = wait_log(d, r"refused: client=127\.0\.0\.1 reason=anti-hammering$", start)
        self.assertEqual(len(refused), 1, d.log[start:])

        # The right password does not help session A now.
        try:
            reply = a.login(ALICE, SECRET)
        except harness.ConnectionClosed:
            reply = ""
        self.assertTrue(reply.startswith("-ERR"),
                        "a session from a blocked address went on: %r" % reply)
        self.assertTrue(a.is_closed(), "session A stays open after the block")
        a.close()
        # Look for a login only once session A has been summed up: it ends
        # as "blocked", or, had alice got in, with her name.
        self.assertTrue(wait_log(d, r"session: client=127\.0\.0\.1 (user=alice .*|.* end=blocked)$",
                                 start), "no summary line for session A\n" + d.log[start:])
        self.assertFalse(re.search(r"session: client=127\.0\.0\.1 user=alice ", d.log[start:]),
                         "alice logged in from a blocked address\n" + d.log[start:])

    def test_show_blocked_and_unblock(self):
        d = self.start()
        self.assertIn("no address is blocked", show_blocked(d))
        for how in ("password", "password", "user"):
            fail_login(d, how)
        self.assert_refused_before_greeting(d)
        out = show_blocked(d)
        m = re.search(r"^127\.0\.0\.1 blocked for (\d+) s more", out, re.M)
        self.assertTrue(m, "--show-blocked does not list 127.0.0.1:\n" + out)
        self.assertTrue(0 < int(m.group(1)) <= 60, "time left %s s of a 60 s block" % m.group(1))
        r = run_pop3d(d, "--unblock", "127.0.0.1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("unblocked 127.0.0.1", r.stdout)
        self.assertIn("no address is blocked", show_blocked(d))
        self.assert_greeted(d)
        # ... and a login works again, with the counter back at zero.
        c = d.login()
        self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        c.close()
        r = run_pop3d(d, "--unblock", "127.0.0.1")
        self.assertNotEqual(r.returncode, 0, "unblocking an unblocked address said OK")

    BLOCK_TIME = 3

    def test_block_ends_after_block_time(self):
        d = self.start(general__anti_hammering__block_time="%ds" % self.BLOCK_TIME)
        fail_login(d, "plain")
        fail_login(d, "user")
        # Taken before the failure that blocks: a block that lasts its time
        # is never seen short, however slow the machine.
        before_block = time.monotonic()
        fail_login(d, "password")
        self.assert_refused_before_greeting(d)
        # Poll until greeted; the bound only keeps a block that never ends
        # from hanging the suite.
        deadline = before_block + self.BLOCK_TIME + harness.SOCKET_TIMEOUT
        line = first_line(d)
        while not line.startswith("+OK") and time.monotonic() < deadline:
            self.assertTrue(line.startswith("-ERR"), "neither refused nor greeted: %r" % line)
            time.sleep(0.2)
            line = first_line(d)
        lasted = time.monotonic() - before_block
        self.assertTrue(line.startswith("+OK"), "still blocked %.0f s after a %d s block"
                        % (lasted, self.BLOCK_TIME))
        self.assertGreaterEqual(lasted, self.BLOCK_TIME - TABLE_CLOCK_STEP,
                                "a %d s block ended after %.2f s" % (self.BLOCK_TIME, lasted))
        self.assertIn("no address is blocked", show_blocked(d))

    # Long enough that three failed logins in a row, on the slowest
    # machine, stay well inside it (the table may count it one second short).
    FAILURE_TIMEOUT = 5

    def test_failures_older_than_failure_timeout_are_forgotten(self):
        d = self.start(general__anti_hammering__failure_timeout="%ds" % self.FAILURE_TIMEOUT)
        start = len(d.log)
        fail_login(d, "password")
        fail_login(d, "user")
        # Each failure is in the shared table before its -ERR is sent, so
        # from here the two are at least this old. Nothing the daemon says
        # tells when a failure is forgotten: the time is what is tested.
        time.sleep(self.FAILURE_TIMEOUT + TABLE_CLOCK_STEP)
        fail_login(d, "plain")
        fail_login(d, "password")
        self.assert_greeted(d)
        self.assertEqual(len(wait_log(d, WORKER_LINE + r"login failed: ", start, 4)), 4,
                         d.log[start:])
        self.assertFalse(log_lines(d, r"anti-hammering: client=.*blocked", start),
                         "blocked although the first failures had expired\n" + d.log[start:])
        # The window is what saved it: a third failure within it blocks.
        fail_login(d, "user")
        self.assert_refused_before_greeting(d)

    def test_ipv6_clients_are_blocked_per_network(self):
        if not harness.have_ipv6_loopback():
            self.skipTest("no IPv6 loopback (::1) on this machine")
        settings = dict(HAMMER)
        self.d = d = Daemon(settings=settings, host="::1")
        d.start()
        start = len(d.log)
        for how in ("password", "user", "plain"):
            fail_login(d, how)
        self.assert_refused_before_greeting(d)
        self.assertEqual(len(wait_log(d, r"refused: client=::1 reason=anti-hammering$", start)), 1,
                         d.log[start:])
        self.assertTrue(log_lines(d, r"anti-hammering: client=::1 blocked for ", start),
                        d.log[start:])
        out = show_blocked(d)
        self.assertTrue(re.search(r"^::/64 blocked for \d+ s more", out, re.M),
                        "--show-blocked should list the /64 of ::1:\n" + out)
        r = run_pop3d(d, "--unblock", "::1")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assert_greeted(d)


class AddressListTests(RefusalAssertions, unittest.TestCase):
    """pop3.blocked_ips and pop3.safe_ips. Clients connect from other
    loopback addresses (127.0.0.2, ...) to see both sides of a list."""

    def setUp(self):
        self.d = None

    def tearDown(self):
        if self.d:
            self.d.cleanup()

    def start(self, blocked=None, safe=None, extra=None):
        settings = {}
        if blocked is not None:
            settings["pop3.blocked_ips"] = {"enabled": True, "list": blocked}
        if safe is not None:
            settings["pop3.safe_ips"] = {"enabled": True, "list": safe}
        settings.update(extra or {})
        self.d = Daemon(settings=settings)
        self.d.start()
        return self.d

    def test_blocked_network_gets_one_err_line(self):
        d = self.start(blocked="127.0.0.0/8")
        # Daemon.start's own probe connection was refused too; count from
        # after its line.
        wait_log(d, r"refused: client=127\.0\.0\.1 reason=blocked-address$")
        start = len(d.log)
        reply = self.assert_refused_before_greeting(d)
        self.assertIn("[SYS/PERM]", reply)
        self.assert_refused_before_greeting(d, source="127.0.0.9")
        self.assertEqual(len(wait_log(d, r"refused: client=127\.0\.0\.1 reason=blocked-address$",
                                      start)), 1, d.log[start:])
        self.assertEqual(len(wait_log(d, r"refused: client=127\.0\.0\.9 reason=blocked-address$",
                                      start)), 1, d.log[start:])
        self.assertFalse(log_lines(d, r"session: client=", start),
                         "a refused client got a session\n" + d.log[start:])

    def test_disabled_list_blocks_nothing(self):
        self.d = Daemon(settings={"pop3.blocked_ips": {"enabled": False, "list": "127.0.0.0/8"}})
        self.d.start()
        self.assert_greeted(self.d)

    def test_safe_address_overrules_blocked_network(self):
        d = self.start(blocked="127.0.0.0/8", safe="127.0.0.1")
        self.assert_greeted(d)
        c = d.login()
        self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        c.close()
        # Only the safe address: its neighbours stay blocked.
        self.assert_refused_before_greeting(d, source="127.0.0.2")

    def test_safe_address_is_still_blocked_by_anti_hammering(self):
        d = self.start(blocked="127.0.0.0/8", safe="127.0.0.1", extra=HAMMER)
        start = len(d.log)
        for how in ("password", "user", "plain"):
            fail_login(d, how)
        self.assert_refused_before_greeting(d)
        self.assertEqual(len(wait_log(d, r"refused: client=127\.0\.0\.1 reason=anti-hammering$",
                                      start)), 1, d.log[start:])

    def test_range_blocks_its_addresses_only(self):
        d = self.start(blocked="127.0.0.1-127.0.0.5")
        self.assert_refused_before_greeting(d)
        self.assert_refused_before_greeting(d, source="127.0.0.5")
        self.assert_greeted(d, source="127.0.0.6")

    def test_wildcard_blocks_its_addresses_only(self):
        d = self.start(blocked="127.0.0.*")
        self.assert_refused_before_greeting(d)
        self.assert_refused_before_greeting(d, source="127.0.0.200")
        self.assert_greeted(d, source="127.0.1.1")

    def test_several_entries_separated_by_semicolons(self):
        d = self.start(blocked="192.0.2.0/24; 127.0.0.3;127.0.0.7")
        self.assert_greeted(d)
        self.assert_refused_before_greeting(d, source="127.0.0.3")
        self.assert_refused_before_greeting(d, source="127.0.0.7")

    def test_malformed_entry_stops_the_start(self):
        d = Daemon(settings={"pop3.blocked_ips": {"enabled": True,
                                                  "list": "127.0.0.2;127.0.0.300"}})
        self.d = d
        d.start(wait=False)
        try:
            code = d.proc.wait(harness.START_TIMEOUT)
        except subprocess.TimeoutExpired:
            self.fail("pop3d started with a malformed blocked_ips entry\n" + d.diagnostics())
        self.assertNotEqual(code, 0)
        self.assertIn("127.0.0.300", d.stderr)
        self.assertIn("pop3.blocked_ips", d.stderr)
        check = d.run_tool("-t")
        self.assertNotEqual(check.returncode, 0, check.stdout)
        self.assertIn("127.0.0.300", check.stderr)

    def test_reload_keeps_lists_on_error_and_applies_good_ones(self):
        d = self.start(blocked="127.0.0.0/8", safe="127.0.0.1")
        self.assert_greeted(d)
        self.assert_refused_before_greeting(d, source="127.0.0.2")

        # A malformed safe list is refused at SIGHUP; had the daemon dropped
        # the safe list instead, 127.0.0.1 would now be blocked. The pool
        # (max_connections workers and one spare) may still be forking on a
        # slow machine: the snapshot is taken once it is whole.
        pool = d.tree["pop3"]["max_connections"] + 1
        self.assertTrue(wait_for(lambda: len(d.workers()) == pool, harness.START_TIMEOUT),
                        "pool never reached %d workers: %s" % (pool, d.workers()))
        workers = d.workers()
        start = len(d.log)
        d.set("pop3.safe_ips.list", "127.0.0.1;127.0.0.300")
        d.signal(signal.SIGHUP)
        failed = wait_log(d, r"^.*reload failed.*$", start)
        self.assertTrue(failed, "a malformed list at SIGHUP was not logged\n" + d.log[start:])
        self.assertIn("127.0.0.300", failed[0])
        self.assertIn("pop3.safe_ips", failed[0])
        # "reload failed" ends the master's handling of that SIGHUP: by now
        # it has replaced the workers or it never will.
        self.assertEqual(d.workers(), workers, "workers replaced by a failed reload")
        self.assertFalse(log_lines(d, r"reloaded: ", start), d.log[start:])
        self.assert_greeted(d)
        self.assert_refused_before_greeting(d, source="127.0.0.2")

        # A good, changed list: 127.0.0.2 becomes safe, 127.0.0.1 not. A
        # session open across the reload goes on.
        live = d.login()
        start = len(d.log)
        d.set("pop3.safe_ips.list", "127.0.0.2")
        d.signal(signal.SIGHUP)
        self.assertTrue(wait_log(d, r"reloaded: ", start), "no reload\n" + d.log[start:])

        def refused_now():
            c = raw_client(d.host, d.port)
            try:
                return c.readline().startswith("-ERR")
            except harness.ConnectionClosed:
                return False
            finally:
                c.close()
        self.assertTrue(wait_for(refused_now, harness.SOCKET_TIMEOUT, 0.2),
                        "127.0.0.1 still let in after the list changed\n" + d.log[start:])
        self.assert_refused_before_greeting(d)
        self.assert_greeted(d, source="127.0.0.2")
        self.assertTrue(live.cmd("STAT").startswith("+OK"), "the live session was dropped")
        self.assertTrue(live.cmd("QUIT").startswith("+OK"))
        live.close()


class ConnectionLimitTests(RefusalAssertions, unittest.TestCase):
    def setUp(self):
        self.d = None
        self.clients = []

    def tearDown(self):
        for c in self.clients:
            c.close()
        if self.d:
            self.d.cleanup()

    def test_max_connections(self):
        self.d = d = Daemon(settings={"pop3.max_connections": 2})
        d.start()
        start = len(d.log)
        a = d.login(ALICE)
        b = d.login(BOB)
        self.clients += [a, b]
        # a and b hold both slots (for 600 s of idle time): the refusal has
        # to come while they do, not once one of them ends.
        reply = self.assert_refused_before_greeting(d)
        self.assertTrue(reply.startswith("-ERR [SYS/TEMP]"), reply)
        self.assertEqual(len(wait_log(
            d, r"refused: client=127\.0\.0\.1 reason=too-many-connections$", start)), 1,
            d.log[start:])
        # The sessions held are untouched by the refusal.
        self.assertTrue(a.cmd("STAT").startswith("+OK"))
        self.assertTrue(b.cmd("QUIT").startswith("+OK"))
        b.close()
        self.assertTrue(wait_log(d, r"session: client=127\.0\.0\.1 user=bob ", start))
        # The slot is free again (the worker frees it as the session ends).
        c = wait_for(lambda: self._greeting_or_none(d), harness.SOCKET_TIMEOUT, 0.1)
        self.assertTrue(c, "no connection served after a session ended\n" + d.log[start:])
        self.clients.append(c)
        self.assertTrue(c.login(BOB, BOB_SECRET).startswith("+OK"))

    @staticmethod
    def _greeting_or_none(d):
        c = raw_client(d.host, d.port)
        try:
            if c.readline().startswith("+OK"):
                return c
        except harness.ConnectionClosed:
            pass
        c.close()
        return None

    def test_max_connections_per_address(self):
        v6 = harness.have_ipv6_loopback()
        settings = {"pop3.max_connections": 4, "general.max_connections_per_ip": 1}
        if v6:
            settings["pop3.listen"] = "127.0.0.1;::1"
        self.d = d = Daemon(settings=settings)
        d.start()
        # The harness's readiness probe held 127.0.0.1's one slot until its
        # worker saw it close; wait for that before counting.
        first = wait_for(lambda: self._greeting_or_none(d), harness.SOCKET_TIMEOUT, 0.1)
        self.assertTrue(first, "127.0.0.1 refused at start\n" + d.log)
        self.clients.append(first)
        start = len(d.log)
        # `first` holds 127.0.0.1's one slot for as long as it stays open.
        reply = self.assert_refused_before_greeting(d)
        self.assertTrue(reply.startswith("-ERR [SYS/TEMP]"), reply)
        self.assertEqual(len(wait_log(
            d, r"refused: client=127\.0\.0\.1 reason=too-many-from-address$", start)), 1,
            d.log[start:])
        # Another address is another count.
        other = raw_client(d.host, d.port, source="127.0.0.2")
        self.clients.append(other)
        self.assertTrue(other.readline().startswith("+OK"))
        if v6:
            six = raw_client("::1", d.port)
            self.clients.append(six)
            self.assertTrue(six.readline().startswith("+OK"), "::1 refused")
        # The first session is unaffected and, once it ends, 127.0.0.1 may
        # connect again.
        self.assertTrue(first.cmd("QUIT").startswith("+OK"))
        first.close()
        c = wait_for(lambda: self._greeting_or_none(d), harness.SOCKET_TIMEOUT, 0.1)
        self.assertTrue(c, "127.0.0.1 still refused after its session ended\n" + d.log[start:])
        self.clients.append(c)
        if not v6:
            self.skipTest("per-address limit checked on IPv4 only: no ::1 here")


class Fail2banTests(unittest.TestCase):
    FILTER = os.path.join(REPO, "etc", "fail2ban", "filter.d", "pop3d.conf")

    @staticmethod
    def listed(output, heading):
        """The lines fail2ban-regex prints under `heading` ("|- Matched
        line(s):" ... "`-")."""
        lines, inside = [], False
        for line in output.splitlines():
            if line.startswith("|- ") and heading in line:
                inside = True
            elif inside and line.startswith("`-"):
                break
            elif inside and line.startswith("|  "):
                lines.append(line[3:].strip())
        return lines

    def test_filter_matches_failures_and_refusals_only(self):
        tool = shutil.which("fail2ban-regex")
        if not tool:
            self.skipTest("fail2ban-regex is not installed (apt-get install fail2ban)")
        self.assertTrue(os.path.exists(self.FILTER), self.FILTER)
        with Daemon(settings=HAMMER) as d:
            ok = d.login()
            self.assertTrue(ok.cmd("QUIT").startswith("+OK"))
            ok.close()
            for how in ("password", "user", "plain"):
                fail_login(d, how)
            c = raw_client(d.host, d.port)
            self.assertTrue(c.readline().startswith("-ERR"))
            c.close()
            wait_log(d, r"refused: client=127\.0\.0\.1 reason=anti-hammering$")
            wait_log(d, r"session: client=127\.0\.0\.1 ", count=4)
            log = d.log
            log_copy = os.path.join(d.dir, "copy.log")
            shutil.copy(d.log_path, log_copy)
            r = subprocess.run([tool, "--print-all-matched", log_copy, self.FILTER],
                               capture_output=True, text=True, timeout=60)
            ips = subprocess.run([tool, "-o", "ip", log_copy, self.FILTER],
                                 capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        m = re.search(r"^Lines: (\d+) lines, (\d+) ignored, (\d+) matched, (\d+) missed",
                      r.stdout, re.M)
        self.assertTrue(m, r.stdout)
        total, _, matched, _ = (int(x) for x in m.groups())
        failed_lines = [l for l in log.splitlines() if "login failed:" in l]
        self.assertEqual(len(failed_lines), 3, log)
        self.assertEqual(matched, 4, "3 failed logins + 1 refusal should match:\n" + r.stdout)
        matched_lines = self.listed(r.stdout, "Matched line(s):")
        self.assertEqual(len(matched_lines), 4, r.stdout)
        for line in failed_lines:
            self.assertIn(line, matched_lines, "not matched:\n" + r.stdout)
        self.assertTrue(any("reason=anti-hammering" in x for x in matched_lines), r.stdout)
        self.assertFalse([x for x in matched_lines if "session:" in x or " login: " in x],
                         "a successful session's line was matched:\n" + r.stdout)
        missed = self.listed(r.stdout, "Missed line(s):")
        self.assertTrue([x for x in missed if "session: client=127.0.0.1 user=alice " in x],
                        "the successful session line should be among the missed:\n" + r.stdout)
        self.assertEqual(ips.returncode, 0, ips.stderr)
        self.assertEqual(ips.stdout.split(), ["127.0.0.1"] * 4, ips.stdout)


if __name__ == "__main__":
    sys.exit(harness.main())
