"""End-to-end tests of the pre-forked daemon: command line, config checks,
start-up, workers, signals, pid file, logging, listeners, privilege drop."""

import copy
import os
import re
import signal
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, wait_for  # noqa: E402

# A setting line of -h: "  --group.name=VALUE", then its help, then
# "Takes TYPE. Default: VALUE" (no default for per-certificate settings).
HELP_SETTING = re.compile(
    r"^  --(?P<name>[a-z0-9_]+(?:\.[a-z0-9_*]+)+)=VALUE\n"
    r"^      .*\n"
    r"^      Takes (?P<type>.*?)\.(?: Default: (?P<default>.*))?$", re.M)


def help_settings(d):
    """{name: (type text, default text or None)} of every setting -h
    lists; -h is printed from the settings table, so this is the daemon's
    own list of its settings."""
    r = d.run_tool("-h", config=False)
    assert r.returncode == 0, r.stderr
    found = {}
    for m in HELP_SETTING.finditer(r.stdout):
        assert m.group("name") not in found, "-h lists %s twice" % m.group("name")
        found[m.group("name")] = (m.group("type"), m.group("default"))
    return found


def printed_settings(text):
    """{dotted name: value text} of --print-config output: libconfig text
    with one "name = value;" per line inside "group = {" ... "};"."""
    values, groups = {}, []
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"^(\w+) = \{$", line)
        if m:
            groups.append(m.group(1))
        elif line == "};":
            groups.pop()
        else:
            m = re.match(r"^(\w+) = (.*);$", line)
            assert m, "not a setting line of --print-config: %r" % line
            values[".".join(groups + [m.group(1)])] = m.group(2)
    return values


def unquoted(literal):
    """A --print-config value as text: strings lose their quotes and escapes."""
    if literal.startswith('"'):
        return re.sub(r"\\(.)", r"\1", literal[1:-1])
    return literal


def other_value(name, type_text, default):
    """A valid value for a setting that is not its default, from the type
    -h describes, as config-file and command-line text."""
    if type_text == "true or false":
        return "false" if default == "true" else "true"
    m = re.match(r"an integer (\d+)-(\d+)$", type_text)
    if m:
        low, high = m.group(1), m.group(2)
        return high if default != high else low
    m = re.match(r"a duration from (\S+) to (\S+?)(?:, in whole seconds)?$", type_text)
    if m:
        low, high = m.group(1), m.group(2)
        return high if unquoted(default or "") != high else low
    if type_text.startswith("one of"):
        words = re.findall(r'"([^"]*)"', type_text)
        return next(w for w in words if w != unquoted(default or ""))
    if type_text.startswith("a list of strings"):
        return "192.0.2.7;192.0.2.8"  # an address, a network and a host name alike
    if name == "pop3.uidl_format":
        return "%08Xu%08Xv"  # a format, checked at load: other text is refused
    if type_text in ("a string", "a non-empty string"):
        return CERTIFICATE  # also the one name pop3.certificate accepts here
    raise AssertionError("%s: -h describes a type this test does not know: %r" % (name, type_text))


def typed(type_text, value):
    """`value` as the Python value render_config writes in its type: bools
    and integers bare, everything else as a string."""
    if type_text == "true or false":
        return value == "true"
    if type_text.startswith("an integer"):
        return int(value)
    return value


# A certificate the settings test defines, so that every string setting,
# pop3.certificate included, can take its name as a value.
CERTIFICATE = "e2e"


def concrete(name):
    """The name of a per-certificate setting for the test's certificate."""
    return name.replace("*", CERTIFICATE)


def names_line(text, path, line):
    """True when `text` names the config file and the line number."""
    return path in text and re.search(r"(line\s*%d\b|:%d\b)" % (line, line), text)


# Generous slack on top of a configured time-out or a logged delay before
# a test calls it missed: the suites run under sanitizers on two cores.
MARGIN = 10
# The daemon's deadlines start after the moment this process notes (the
# signal it sends, the kill), so they cannot end before it; this only
# absorbs the rounding of the two processes' clock reads.
TIMER_SLACK = 0.05
# An idle daemon's SIGTERM ends it long before this.
IDLE_STOP_TIMEOUT = 60
# Rounds of the respawn test that must back off; the delay doubles per
# death from 250 ms, two deaths a round, so two rounds wait 0.5 s and 2 s.
BACKOFF_ROUNDS = 2

class ConfigCheckTests(unittest.TestCase):
    """pop3d -t, --print-config, -h, -V: one-shot runs, no server."""

    def setUp(self):
        self.d = Daemon()

    def tearDown(self):
        self.d.cleanup()

    def check_bad(self, text, needle, also=()):
        """Writes `text` as the config, runs -t, and expects a failure whose
        stderr names the file and the line holding `needle`."""
        self.d.write_config(text)
        line = harness.line_of(text, needle)
        r = self.d.run_tool("-t")
        self.assertNotEqual(r.returncode, 0, "-t accepted a bad config:\n" + text)
        self.assertTrue(names_line(r.stderr, self.d.config_path, line),
                        "stderr should name %s line %d, got:\n%s"
                        % (self.d.config_path, line, r.stderr))
        for word in also:
            self.assertIn(word, r.stderr)
        return r

    def pop3_line(self, old, new):
        text = self.d.config_text()
        self.assertIn(old, text)
        return text.replace(old, new, 1)

    def test_good_config_passes_check(self):
        r = self.d.run_tool("-t")
        self.assertEqual(r.returncode, 0, "stdout:\n%s\nstderr:\n%s" % (r.stdout, r.stderr))

    def test_unknown_setting_is_named_with_a_suggestion(self):
        text = self.pop3_line("  port = %d;" % self.d.port,
                              "  port = %d;\n  prot = 1;" % self.d.port)
        r = self.check_bad(text, "prot = 1;")
        self.assertIn("prot", r.stderr)
        self.assertIn("pop3.port", r.stderr, "no suggestion of pop3.port for pop3.prot")

    def test_wrong_type_is_refused(self):
        text = self.pop3_line("port = %d;" % self.d.port, 'port = "many";')
        self.check_bad(text, 'port = "many";')

    def test_port_out_of_range_is_refused(self):
        text = self.pop3_line("port = %d;" % self.d.port, "port = 70000;")
        self.check_bad(text, "port = 70000;")

    def test_syntax_error_is_refused(self):
        text = self.pop3_line("max_connections = 4;", "max_connections = = 4;")
        self.check_bad(text, "max_connections = = 4;")

    def test_missing_file_is_refused(self):
        missing = os.path.join(self.d.dir, "no-such.conf")
        r = self.d.run_tool("-t", config=missing)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn(missing, r.stderr)

    def test_include_of_a_directory_is_refused(self):
        # libconfig 1.5's scanner calls exit() on it, with no file or line.
        text = self.d.config_text() + '@include "%s"\n' % self.d.dir
        r = self.check_bad(text, '@include "%s"' % self.d.dir, also=["not a regular file"])
        self.assertEqual(r.returncode, 1)
        self.assertNotIn("flex scanner", r.stderr)

    def test_good_include_is_read(self):
        extra = os.path.join(self.d.dir, "extra.conf")
        with open(extra, "w") as f:
            f.write("max_connections_per_ip = 7;\n")
        # Inside a group: libconfig includes are textual.
        text = self.d.config_text()
        self.assertIn("general = {\n", text)
        self.d.write_config(
            text.replace("general = {\n", 'general = {\n@include "%s"\n' % extra, 1))
        r = self.d.run_tool("--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn("max_connections_per_ip = 7;", r.stdout)

    def test_unknown_certificate_name_is_refused(self):
        text = self.pop3_line("explicit_ssl = false;",
                              'explicit_ssl = true;\n  certificate = "nosuch";')
        self.check_bad(text, 'certificate = "nosuch";', also=["nosuch"])

    def test_print_config_shows_the_command_line_override(self):
        port = harness.free_port()
        r = self.d.run_tool("--pop3.port=%d" % port, "--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"\bport\s*=\s*%d\b" % port)
        self.assertNotRegex(r.stdout, r"\bport\s*=\s*%d\b" % self.d.port)
        # The rest of the file shows through.
        self.assertIn(self.d.passwd_path, r.stdout)

    def test_help_and_print_config_name_the_same_settings(self):
        listed = help_settings(self.d)
        # The settings this harness writes are among them, so the pattern
        # above does find the lines of -h.
        written = set()

        def walk(tree, prefix):
            for key, value in tree.items():
                if isinstance(value, dict):
                    walk(value, prefix + key + ".")
                else:
                    written.add(re.sub(r"^certificates\.\w+\.", "certificates.*.", prefix + key))
        walk(self.d.tree, "")
        self.assertEqual(sorted(written - set(listed)), [], "-h does not list these settings")
        r = self.d.run_tool("--print-config")
        self.assertEqual(r.returncode, 0, r.stderr)
        printed = {re.sub(r"^certificates\.\w+\.", "certificates.*.", n)
                   for n in printed_settings(r.stdout)}
        self.assertEqual(sorted(set(listed) ^ printed), [],
                         "-h and --print-config disagree on these settings")

    def test_help_lists_every_setting_of_the_table(self):
        # The table's source, where the tests run from a source tree: a
        # setting -h left out would be missing from every check here.
        table = os.path.join(harness.SRCDIR, "src", "config", "settings_table.cpp")
        if not os.path.exists(table):
            self.skipTest("no source tree with %s to compare -h against" % table)
        with open(table) as f:
            source = f.read()
        defined = re.findall(r'\b\w+_setting\(\s*"([a-z0-9_]+(?:\.[a-z0-9_*]+)+)"', source)
        self.assertGreater(len(defined), 0, "no settings found in " + table)
        listed = help_settings(self.d)
        self.assertEqual(sorted(set(defined) - set(listed)), [],
                         "-h does not mention these settings")
        self.assertEqual(sorted(set(listed) - set(defined)), [],
                         "-h lists settings the table does not define")

    # Settings that name files: a relative name is taken from the directory
    # pop3d starts in and shown as the absolute path it became.
    PATH_SETTINGS = ("auth.passwd_file", "general.pid_file", "log.target",
                     "certificates.*.cert_file", "certificates.*.key_file")

    @classmethod
    def expected_shown(cls, name, value):
        if name in cls.PATH_SETTINGS and value not in ("syslog", "stderr"):
            return os.path.abspath(value)
        return value

    def test_every_setting_is_read_from_the_file_and_the_command_line(self):
        # Each setting -h lists gets a value other than its default, once in
        # the config file and once on the command line, and --print-config
        # must show that value: a setting the loader or the command line
        # drops, or that --print-config does not show, fails here by name.
        listed = help_settings(self.d)
        # The certificate named CERTIFICATE, with real files.
        for part, path in self.d.tree["certificates"]["default"].items():
            self.d.tree["certificates"].setdefault(CERTIFICATE, {})[part] = path
        for name, (type_text, default) in sorted(listed.items()):
            value = other_value(name, type_text, default)
            dotted = concrete(name)
            with self.subTest(setting=name, source="file"):
                tree = copy.deepcopy(self.d.tree)
                harness.set_dotted(tree, dotted, typed(type_text, value))
                self.d.write_config(harness.render_config(tree) + "\n")
                r = self.d.run_tool("--print-config")
                self.assertEqual(r.returncode, 0,
                                 "%s = %s in the file: %s" % (name, value, r.stderr))
                shown = printed_settings(r.stdout).get(dotted)
                self.assertEqual(unquoted(shown or ""), self.expected_shown(name, value),
                                 "%s = %s in the file, --print-config shows %r"
                                 % (name, value, shown))
            with self.subTest(setting=name, source="command line"):
                self.d.write_config()
                r = self.d.run_tool("--%s=%s" % (dotted, value), "--print-config")
                self.assertEqual(r.returncode, 0, "--%s=%s: %s" % (dotted, value, r.stderr))
                shown = printed_settings(r.stdout).get(dotted)
                self.assertEqual(unquoted(shown or ""), self.expected_shown(name, value),
                                 "--%s=%s, --print-config shows %r" % (dotted, value, shown))

    def test_version(self):
        r = self.d.run_tool("-V", config=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout + r.stderr, r"\d+\.\d+")


class RunningDaemonTests(unittest.TestCase):
    """One daemon shared by the tests that do not change it for good."""

    WORKERS = 3
    # The pool is pop3.max_connections workers plus one spare, which answers
    # the connection after the limit with -ERR at once (see README).
    POOL = WORKERS + 1

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(settings={"pop3.max_connections": cls.WORKERS}).start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_greets_with_ok(self):
        with self.d.connect() as c:
            self.assertTrue(c.greeting.startswith("+OK"), c.greeting)

    def test_quit_says_ok_and_closes(self):
        with self.d.connect() as c:
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            self.assertTrue(c.is_closed(5), "connection still open after QUIT")

    def test_pid_file_holds_the_master_pid(self):
        with open(self.d.pid_file) as f:
            self.assertEqual(int(f.read().strip()), self.d.pid)

    def test_master_preforks_max_connections_workers(self):
        kids = wait_for(lambda: len(self.d.workers()) == self.POOL, 5)
        self.assertTrue(kids, "workers: %s, want %d" % (self.d.workers(), self.POOL))

    def test_killed_worker_is_replaced(self):
        wait_for(lambda: len(self.d.workers()) == self.POOL, 5)
        before = self.d.workers()
        self.assertEqual(len(before), self.POOL)
        os.kill(before[0], signal.SIGKILL)
        ok = wait_for(lambda: len(self.d.workers()) == self.POOL
                      and before[0] not in self.d.workers(), 5)
        self.assertTrue(ok, "after killing %d: workers %s" % (before[0], self.d.workers()))
        with self.d.connect() as c:
            self.assertTrue(c.greeting.startswith("+OK"))
            self.assertTrue(c.login("alice", "secret").startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_session_is_logged_with_the_client_address(self):
        start = len(self.d.log)
        with self.d.connect() as c:
            self.assertTrue(c.login("bob", "hunter2").startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            c.is_closed(5)

        def session_lines():
            return [l for l in self.d.log[start:].splitlines()
                    if "127.0.0.1" in l and "bob" in l]
        lines = wait_for(session_lines, 5)
        self.assertTrue(lines, "no session line with 127.0.0.1 and bob in:\n"
                        + self.d.log[start:])
        self.assertNotIn("hunter2", self.d.log, "the password reached the log")


class LifecycleTests(unittest.TestCase):
    """Tests that need a daemon of their own."""

    def test_command_line_port_wins_over_the_file(self):
        override = harness.free_port()
        d = Daemon(args=["--pop3.port=%d" % override])
        try:
            file_port = d.port
            d.port = override
            d.start()
            with d.connect() as c:
                self.assertTrue(c.greeting.startswith("+OK"))
            with self.assertRaises(OSError, msg="the file's port still accepts"):
                socket.create_connection(("127.0.0.1", file_port), timeout=2).close()
        finally:
            d.cleanup()

    def test_port_in_use_fails_with_address_and_port(self):
        with socket.socket() as blocker:
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            port = blocker.getsockname()[1]
            d = Daemon(port=port)
            try:
                d.start(wait=False)
                d.proc.wait(10)
                self.assertNotEqual(d.proc.returncode, 0)
                text = d.stderr + d.log
                self.assertIn("127.0.0.1", text)
                self.assertIn(str(port), text)
            finally:
                d.cleanup()

    def test_sigterm_stops_master_and_removes_pid_file(self):
        # With no session to wait for, SIGTERM must not wait for the shutdown
        # deadline: ten minutes here, far beyond the wait below.
        d = Daemon(settings={"general.shutdown_timeout": "10m"}).start()
        try:
            self.assertTrue(wait_for(lambda: os.path.exists(d.pid_file), 5))
            workers = d.workers()
            d.signal(signal.SIGTERM)
            try:
                d.proc.wait(IDLE_STOP_TIMEOUT)
            except harness.subprocess.TimeoutExpired:
                self.fail("an idle daemon still ran %d s after SIGTERM (shutdown_timeout 10m)\n%s"
                          % (IDLE_STOP_TIMEOUT, d.diagnostics()))
            self.assertFalse(os.path.exists(d.pid_file), "pid file left behind")
            gone = wait_for(lambda: not [p for p in workers if _alive(p)], 5)
            self.assertTrue(gone, "workers outlived the master")
        finally:
            d.cleanup()

    def test_sighup_changes_worker_count_and_keeps_sessions(self):
        d = Daemon(settings={"pop3.max_connections": 2}).start()
        try:
            # Pools are max_connections + 1 spare worker.
            self.assertTrue(wait_for(lambda: len(d.workers()) == 3, 5), d.workers())
            c = d.login("alice")
            d.set("pop3.max_connections", 3)
            d.signal(signal.SIGHUP)
            # New workers start at once; the one serving us may linger.
            self.assertTrue(wait_for(lambda: len(d.workers()) >= 4, 5),
                            "workers after SIGHUP: %s\n%s" % (d.workers(), d.diagnostics()))
            self.assertTrue(c.cmd("NOOP").startswith("+OK"))
            self.assertTrue(c.cmd("STAT").startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            c.close()
            self.assertTrue(wait_for(lambda: len(d.workers()) == 4, 5),
                            "workers: %s" % d.workers())
            with d.connect() as c2:
                self.assertTrue(c2.greeting.startswith("+OK"))
        finally:
            d.cleanup()

    def test_ipv6_loopback_listener(self):
        if not harness.have_ipv6_loopback():
            self.skipTest("no IPv6 loopback on this host")
        with Daemon(host="::1") as d:
            with d.connect() as c:
                self.assertTrue(c.greeting.startswith("+OK"))
                self.assertTrue(c.login("alice", "secret").startswith("+OK"))
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))

    def test_listen_on_host_name_localhost(self):
        d = Daemon(settings={"pop3.listen": "localhost", "general.bind_addresses": "localhost"})
        try:
            d.start(wait=False)
            deadline = time.monotonic() + harness.START_TIMEOUT
            sock = None
            while sock is None and time.monotonic() < deadline:
                self.assertIsNone(d.proc.poll(), d.diagnostics())
                try:
                    sock = socket.create_connection(("localhost", d.port), timeout=2)
                except OSError:
                    time.sleep(0.05)
            self.assertIsNotNone(sock, d.diagnostics())
            with sock:
                sock.settimeout(harness.SOCKET_TIMEOUT)
                greeting = sock.recv(512)
                self.assertTrue(greeting.startswith(b"+OK"),
                                "greeting %r\n%s" % (greeting, d.diagnostics()))
        finally:
            d.cleanup()

    def test_root_binds_low_port_and_runs_as_nobody(self):
        if os.geteuid() != 0:
            self.skipTest("needs root to bind a port below 1024 and drop privileges")
        port = next((p for p in range(900, 1000) if harness.port_is_free(p)), None)
        if port is None:
            self.skipTest("no free port in 900-999")
        d = Daemon(port=port, settings={"general.user": "nobody", "general.group": "nogroup"})
        try:
            d.start()
            nobody = d.uid
            self.assertNotEqual(nobody, 0)
            self.assertTrue(wait_for(lambda: len(d.workers()) >= 1, 5))
            for pid in [d.pid] + d.workers():
                uids = harness.proc_uids(pid)
                self.assertEqual(uids, (nobody,) * 4, "pid %d runs as %s" % (pid, uids))
            with d.connect() as c:
                self.assertTrue(c.greeting.startswith("+OK"))
                self.assertTrue(c.login("alice", "secret").startswith("+OK"))
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            d.cleanup()


class AdministrationTests(unittest.TestCase):
    """What an administrator does to a running daemon: start it detached,
    stop it while sessions run, reload a broken or a restart-only change,
    start a second copy by mistake, switch the service off."""

    def test_daemonizes_without_foreground(self):
        d = Daemon()
        try:
            cmd = [c for c in d.command() if c != "-f"]
            d._hand_over()
            started = harness.subprocess.run(cmd, capture_output=True, text=True, timeout=10)
            self.assertEqual(started.returncode, 0, started.stderr)
            self.assertTrue(wait_for(lambda: os.path.exists(d.pid_file), 5), d.diagnostics())
            pid = int(open(d.pid_file).read())
            try:
                self.assertTrue(wait_for(lambda: not harness.port_is_free(d.port), 5))
                with d.connect() as c:
                    self.assertTrue(c.greeting.startswith("+OK"))
                # Detached: its own session, not a child of this test.
                with open("/proc/%d/stat" % pid) as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                self.assertNotEqual(int(fields[1]), os.getpid())
                self.assertEqual(int(fields[3]), os.getsid(pid))
                self.assertNotEqual(os.getsid(pid), os.getsid(0))
            finally:
                os.kill(pid, signal.SIGTERM)
            self.assertTrue(wait_for(lambda: not _alive(pid), 10), "daemon did not stop")
            self.assertFalse(os.path.exists(d.pid_file))
        finally:
            d.cleanup()

    def test_sigterm_ends_sessions_at_the_shutdown_deadline(self):
        deadline = 4  # s; a NOOP right after SIGTERM must be answered within it
        d = Daemon(settings={"general.shutdown_timeout": "%ds" % deadline}).start()
        try:
            c = d.login("alice")
            mark = len(d.log)
            sent = time.monotonic()
            d.signal(signal.SIGTERM)
            # The master has begun the shutdown (and signalled the workers)
            # once it says so; before the deadline the session still works.
            self.assertTrue(wait_for(lambda: "shutting down" in d.log[mark:], MARGIN),
                            d.diagnostics())
            self.assertTrue(c.cmd("NOOP").startswith("+OK"))
            self.assertTrue(c.is_closed(deadline + MARGIN),
                            "session outlived the %d s shutdown deadline by %d s"
                            % (deadline, MARGIN))
            # The master counts from when it got the signal, after `sent`.
            self.assertGreaterEqual(time.monotonic() - sent, deadline - TIMER_SLACK,
                                    "session cut before the shutdown deadline")
            d.proc.wait(harness.STOP_TIMEOUT)
            self.assertFalse(os.path.exists(d.pid_file), "pid file left behind")
            self.assertIn("shutdown deadline reached", d.log)
        finally:
            d.cleanup()

    def assert_reload_refused(self, appended, expected=None):
        """Appends `appended` to the config, sends SIGHUP, and expects the
        reload to fail with `expected` (default: the config's path) in the
        log while the daemon serves on with its running settings."""
        d = Daemon().start()
        try:
            with open(d.config_path, "a") as f:
                f.write(appended)
            mark = len(d.log)
            d.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reload failed" in d.log[mark:], 5),
                            d.diagnostics())
            self.assertIn(expected or d.config_path, d.log[mark:])
            with d.connect() as c:
                self.assertTrue(c.greeting.startswith("+OK"))
            self.assertIsNone(d.proc.poll(), "the master died")
        finally:
            d.cleanup()

    def test_broken_reload_keeps_the_running_settings(self):
        self.assert_reload_refused("pop3 = { port = ; };\n")

    def test_reload_with_a_directory_include_keeps_running(self):
        # Before the include check, this SIGHUP ended the master.
        self.assert_reload_refused('@include "/"\n', '@include "/": not a regular file')

    def test_restart_only_setting_is_named_and_kept(self):
        d = Daemon().start()
        try:
            other = harness.free_port()
            d.set("pop3.port", other)
            mark = len(d.log)
            d.signal(signal.SIGHUP)
            self.assertTrue(wait_for(lambda: "reloaded" in d.log[mark:], 5), d.diagnostics())
            self.assertIn("pop3.port changed; it takes effect only after a restart",
                          d.log[mark:])
            with d.connect() as c:  # still on the old port
                self.assertTrue(c.greeting.startswith("+OK"))
            self.assertTrue(harness.port_is_free(other))
        finally:
            d.cleanup()

    def test_workers_dying_at_once_are_respawned_with_backoff(self):
        d = Daemon(settings={"pop3.max_connections": 1}).start()
        pool = 2  # max_connections + 1 spare
        try:
            delay_rx = re.compile(r"workers are dying at once; next respawn in (\d+) ms")
            killed = set()
            delays = []
            # Each round kills the whole pool the moment it is there, so
            # every worker dies young. The master must then wait the delay it
            # logs before it forks again, and that delay must grow.
            for round_ in range(BACKOFF_ROUNDS + 1):
                if len(delays) == BACKOFF_ROUNDS:
                    break
                born = wait_for(lambda: (lambda w: w if len(w) == pool and not set(w) & killed
                                         else None)(d.workers()), MARGIN)
                self.assertTrue(born, "the pool was not refilled: %s\n%s"
                                % (d.workers(), d.diagnostics()))
                mark = len(d.log)
                for pid in born:
                    os.kill(pid, signal.SIGKILL)
                last_kill = time.monotonic()
                killed.update(born)

                def outcome():
                    logged = delay_rx.findall(d.log[mark:])
                    if len(logged) == pool:
                        return "backed off", logged
                    if [w for w in d.workers() if w not in killed]:
                        return "respawned", logged
                    return None
                seen = wait_for(outcome, MARGIN, interval=0.01)
                self.assertTrue(seen, "neither a respawn nor a back-off\n" + d.diagnostics())
                if seen[0] == "respawned":
                    # Only the first pool may have lived long enough (1 s)
                    # not to count as dying at once.
                    self.assertEqual(round_, 0, "workers killed at birth were respawned "
                                     "at once\n" + d.log[mark:])
                    continue
                # The last death logged set the time of the next fork, from
                # a reap after `last_kill`.
                delay = int(seen[1][-1]) / 1000.0
                delays.append(delay)
                refilled = wait_for(lambda: [w for w in d.workers() if w not in killed],
                                    delay + MARGIN, interval=0.01)
                waited = time.monotonic() - last_kill
                self.assertTrue(refilled, "no respawn within %d s of the %.2f s delay\n%s"
                                % (MARGIN, delay, d.diagnostics()))
                self.assertGreaterEqual(waited, delay - TIMER_SLACK,
                                        "respawned %.2f s after the deaths, the log said %.2f s"
                                        % (waited, delay))
                print("back-off: the log said %.2f s, the pool came back after %.2f s"
                      % (delay, waited))
            self.assertEqual(len(delays), BACKOFF_ROUNDS, "no back-off logged\n" + d.log)
            self.assertTrue(all(a < b for a, b in zip(delays, delays[1:])),
                            "the back-off did not grow: %r" % delays)
            # Once workers stop dying, the pool is whole again and serves.
            self.assertTrue(wait_for(lambda: len([w for w in d.workers() if w not in killed])
                                     == pool, MARGIN), d.diagnostics())
            with d.connect() as c:
                self.assertTrue(c.greeting.startswith("+OK"))
        finally:
            d.cleanup()

    def test_second_instance_is_refused(self):
        d = Daemon().start()
        try:
            second = harness.subprocess.run(
                d.command("--pop3.port=%d" % harness.free_port()), capture_output=True,
                text=True, timeout=10)
            self.assertNotEqual(second.returncode, 0)
            self.assertIn("already running as pid %d" % d.pid, second.stderr)
            with d.connect() as c:
                self.assertTrue(c.greeting.startswith("+OK"))
        finally:
            d.cleanup()

    def test_disabled_service_starts_nothing(self):
        d = Daemon(settings={"pop3.enabled": False})
        try:
            d._hand_over()
            done = harness.subprocess.run(d.command(), capture_output=True, text=True,
                                          timeout=10)
            self.assertEqual(done.returncode, 0, done.stderr)
            self.assertIn("pop3.enabled is false", done.stderr)
            self.assertTrue(harness.port_is_free(d.port))
        finally:
            d.cleanup()


def _alive(pid):
    """True while `pid` runs (zombies waiting to be reaped do not count)."""
    try:
        with open("/proc/%d/stat" % pid, "rb") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(b")") + 2:].split()[0] != b"Z"


if __name__ == "__main__":
    sys.exit(harness.main())
