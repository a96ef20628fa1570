"""End-to-end tests of the pre-forked daemon: command line, config checks,
start-up, workers, signals, pid file, logging, listeners, privilege drop."""

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

# Every setting of settings.hpp, as the config file and the command line
# name it; -h must mention each one.
SETTING_NAMES = [
    "general.bind_addresses", "general.user", "general.group", "general.pid_file",
    "general.max_connections_per_ip", "general.shutdown_timeout", "general.hostname",
    "general.anti_hammering.max_failures", "general.anti_hammering.failure_timeout",
    "general.anti_hammering.block_time", "general.anti_hammering.ipv6_prefix",
    "general.anti_hammering.table_size",
    "pop3.enabled", "pop3.port", "pop3.max_connections", "pop3.idle_timeout",
    "pop3.login_timeout", "pop3.bind", "pop3.listen", "pop3.explicit_ssl",
    "pop3.legacy_ssl", "pop3.implicit_ssl", "pop3.ssl_port", "pop3.certificate",
    "pop3.plaintext_auth", "pop3.secure_networks", "pop3.anti_hammering",
    "pop3.blocked_ips", "pop3.safe_ips",
    "auth.backend", "auth.passwd_file", "auth.mail_location", "auth.failure_delay",
    "log.target", "log.level",
]


def names_line(text, path, line):
    """True when `text` names the config file and the line number."""
    return path in text and re.search(r"(line\s*%d\b|:%d\b)" % (line, line), text)


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
        self.d.write_config(text.replace("general = {\n", 'general = {\n@include "%s"\n' % extra, 1))
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

    def test_help_mentions_every_setting(self):
        r = self.d.run_tool("-h", config=False)
        self.assertEqual(r.returncode, 0, r.stderr)
        missing = [n for n in SETTING_NAMES if n not in r.stdout]
        self.assertEqual(missing, [], "-h does not mention these settings")

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
        d = Daemon().start()
        try:
            self.assertTrue(wait_for(lambda: os.path.exists(d.pid_file), 5))
            workers = d.workers()
            d.signal(signal.SIGTERM)
            start = time.monotonic()
            d.proc.wait(5)
            self.assertLess(time.monotonic() - start, 5)
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
        d = Daemon(settings={"general.shutdown_timeout": "2s"}).start()
        try:
            c = d.login("alice")
            d.signal(signal.SIGTERM)
            start = time.monotonic()
            time.sleep(0.5)
            # Before the deadline the session still works.
            self.assertTrue(c.cmd("NOOP").startswith("+OK"))
            self.assertTrue(c.is_closed(6), "session outlived the shutdown deadline")
            d.proc.wait(5)
            self.assertGreater(time.monotonic() - start, 1.5)
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
        try:
            seen = set()
            end = time.monotonic() + 3
            while time.monotonic() < end:  # every new worker dies at birth
                for pid in d.workers():
                    seen.add(pid)
                    try:
                        os.kill(pid, signal.SIGKILL)
                    except ProcessLookupError:
                        pass
                time.sleep(0.01)
            # Without a back-off this loop would see hundreds of forks.
            self.assertLess(len(seen), 30, "fork storm: %d workers in 3 s" % len(seen))
            self.assertIn("workers are dying at once", d.log)
            self.assertTrue(wait_for(lambda: len(d.workers()) == 2, 40), d.diagnostics())
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
