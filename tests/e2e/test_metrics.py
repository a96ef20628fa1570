"""End-to-end tests of the Prometheus metrics (issue 17): with stats.listen
set, a process of its own serves GET /metrics; the counters the workers
keep in shared memory show the logins a real POP3 client made, the page
passes `promtool check metrics`, bad requests get 400 and other paths 404,
the stats process is unprivileged and confined, is started again when it
dies, and a real Prometheus scrapes it and reads the counter back."""

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import unittest
import urllib.parse
import urllib.request
import json

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import test_system_users as system_users  # noqa: E402
from harness import Daemon  # noqa: E402

LOGINS = 3
# Bound on a scraped page: it is a few kB.
MAX_PAGE = 1024 * 1024


def http(port, request, timeout=harness.SOCKET_TIMEOUT):
    """Sends raw `request` bytes to 127.0.0.1:`port`; returns everything the
    server sent before it closed (it always closes after its answer)."""
    with socket.create_connection((harness.LOOPBACK4, port), timeout=timeout) as s:
        s.sendall(request)
        got = b""
        while len(got) < MAX_PAGE:
            chunk = s.recv(65536)
            if not chunk:
                return got
            got += chunk
    raise AssertionError("answer longer than %d bytes" % MAX_PAGE)


def split_answer(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return lines[0], headers, body.decode("utf-8")


def scrape(port, accept=None):
    request = "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n" % port
    if accept:
        request += "Accept: %s\r\n" % accept
    status, headers, body = split_answer(http(port, (request + "\r\n").encode()))
    assert status == "HTTP/1.1 200 OK", status
    return headers, body


def sample(page, name, labels=""):
    """The value of the sample `name{labels}` on `page`, or None."""
    m = re.search(r"^%s%s (\S+)$" % (re.escape(name), re.escape(labels)), page, re.M)
    return float(m.group(1)) if m else None


def stats_processes(d):
    """The master's children whose title says they are the stats process."""
    found = []
    for pid in d.workers():
        try:
            with open("/proc/%d/cmdline" % pid, "rb") as f:
                if f.read().startswith(b"pop3d: stats"):
                    found.append(pid)
        except OSError:
            pass
    return found


def promtool():
    path = shutil.which("promtool")
    assert path, ("promtool not found: install Debian's prometheus package "
                  "(scripts/deps does)")
    return path


def wait_listening(d, port):
    ok = harness.wait_for(lambda: not harness.port_is_free(port), harness.START_TIMEOUT)
    assert ok, "nothing listens on the stats port %d\n%s" % (port, d.diagnostics())


OK_LOGINS = 'pop3d_logins_total{method="user",result="ok"}'


class MetricsTests(unittest.TestCase):
    """One daemon with stats.listen; its counters start at zero."""

    def setUp(self):
        self.stats_port = harness.free_port()
        self.d = Daemon(settings={"stats.listen": "127.0.0.1:%d" % self.stats_port})
        self.d.start()
        wait_listening(self.d, self.stats_port)

    def tearDown(self):
        self.d.cleanup()

    def log_in_and_out(self, count, password=None):
        for _ in range(count):
            client = self.d.login("alice", password)
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))
            client.close()

    def test_logins_by_a_real_client_are_counted(self):
        start = len(self.d.log)
        self.log_in_and_out(LOGINS)
        with self.d.connect() as wrong:
            self.assertTrue(wrong.login("alice", "not the password").startswith("-ERR"))
        # A session is counted when its summary line is written.
        ends = self.d.wait_log(r"session: client=\S+ user=alice .* end=quit$", start, LOGINS)
        self.assertEqual(LOGINS, len(ends), self.d.diagnostics())
        headers, page = scrape(self.stats_port)
        self.assertEqual("text/plain; version=0.0.4; charset=utf-8", headers["content-type"])
        self.assertEqual(str(len(page.encode())), headers["content-length"])
        self.assertEqual(LOGINS, sample(page, "pop3d_logins_total",
                                        '{method="user",result="ok"}'), page)
        self.assertEqual(1, sample(page, "pop3d_logins_total",
                                   '{method="user",result="wrong_credentials"}'))
        self.assertEqual(0, sample(page, "pop3d_logins_total", '{method="apop",result="ok"}'))
        self.assertGreaterEqual(sample(page, "pop3d_sessions_total", '{end="quit"}'), LOGINS)
        # Every login command is timed, whatever its result (a retry after
        # [IN-USE], as the harness does, included).
        attempts = sum(float(v) for v in re.findall(r"^pop3d_logins_total\{.*\} (\S+)$", page,
                                                     re.M))
        self.assertGreaterEqual(attempts, LOGINS + 1)
        self.assertEqual(attempts, sample(page, "pop3d_login_duration_seconds_count"))
        self.assertIn('pop3d_build_info{version="', page)

    def test_promtool_accepts_the_page(self):
        self.log_in_and_out(1)
        _, page = scrape(self.stats_port)
        r = subprocess.run([promtool(), "check", "metrics"], input=page.encode(),
                           capture_output=True, timeout=30)
        problems = (r.stdout + r.stderr).decode()
        self.assertEqual(0, r.returncode, problems)
        self.assertEqual("", problems.strip())

    def test_documented_alert_rules_check_and_name_served_series(self):
        """doc/OPERATIONS.md's alert rules pass `promtool check rules`, and
        every pop3d series they use is on the page pop3d serves."""
        with open(os.path.join(harness.SRCDIR, "doc", "OPERATIONS.md")) as f:
            doc = f.read()
        blocks = re.findall(r"```yaml\n(.*?)```", doc, re.S)
        self.assertEqual(1, len(blocks), "one block of alert rules in doc/OPERATIONS.md")
        with tempfile.NamedTemporaryFile("w", suffix=".yml") as rules:
            rules.write(blocks[0])
            rules.flush()
            r = subprocess.run([promtool(), "check", "rules", rules.name],
                               capture_output=True, text=True, timeout=30)
        self.assertEqual(0, r.returncode, r.stdout + r.stderr)
        self.assertIn("SUCCESS: 5 rules found", r.stdout)
        # The anti-hammering gauge is served where anti-hammering is on.
        stats_port = harness.free_port()
        with Daemon(settings={"stats.listen": "127.0.0.1:%d" % stats_port,
                              "pop3.anti_hammering": True}) as d:
            wait_listening(d, stats_port)
            _, page = scrape(stats_port)
        served = set(re.findall(r"^# TYPE (\S+) ", page, re.M))
        served |= {n + "_total" for n in served} | {n + "_bucket" for n in served}
        used = set(re.findall(r"\b(pop3d_[a-z_]+)", blocks[0]))
        self.assertTrue(used)
        self.assertEqual(set(), used - served, "rules use series pop3d does not serve")

    def test_openmetrics_when_asked(self):
        headers, page = scrape(self.stats_port,
                               "application/openmetrics-text;version=1.0.0,text/plain;q=0.5")
        self.assertEqual("application/openmetrics-text; version=1.0.0; charset=utf-8",
                         headers["content-type"])
        self.assertTrue(page.endswith("# EOF\n"), page[-200:])
        self.assertIn("# TYPE pop3d_logins counter\n", page)

    def test_bad_requests_get_400_and_other_paths_404(self):
        for request in (b"GET /metrics\r\n\r\n", b"GET /metrics HTTP/1.1\r\nno colon\r\n\r\n",
                        b"GET /metrics HTTP/1.1\r\nX: " + b"a" * 20000 + b"\r\n\r\n"):
            status, _, _ = split_answer(http(self.stats_port, request))
            self.assertEqual("HTTP/1.1 400 Bad Request", status, request[:40])
        for request in (b"GET /other HTTP/1.1\r\n\r\n", b"POST /metrics HTTP/1.0\r\n\r\n"):
            status, _, _ = split_answer(http(self.stats_port, request))
            self.assertEqual("HTTP/1.1 404 Not Found", status, request)
        # The server is still there for the next scraper.
        scrape(self.stats_port)

    def test_stats_process_is_unprivileged_confined_and_restarted(self):
        pids = harness.wait_for(lambda: stats_processes(self.d), harness.START_TIMEOUT)
        self.assertEqual(1, len(pids), self.d.diagnostics())
        stats = pids[0]
        self.assertEqual((self.d.uid,) * 4, harness.proc_uids(stats))
        self.assertEqual([], harness.confinement_problems(stats))
        self.log_in_and_out(2)
        os.kill(stats, signal.SIGKILL)
        again = harness.wait_for(
            lambda: [p for p in stats_processes(self.d) if p != stats], harness.START_TIMEOUT)
        self.assertEqual(1, len(again), self.d.diagnostics())
        self.assertTrue(self.d.wait_log(r"the stats process %d was killed by signal 9" % stats),
                        self.d.diagnostics())
        # The counters are the master's: they survive the stats process.
        _, page = scrape(self.stats_port)
        self.assertEqual(2, sample(page, "pop3d_logins_total", '{method="user",result="ok"}'))


class GaugeTests(unittest.TestCase):
    """The gauges read at scrape time: the pool's use and the addresses
    blocked by anti-hammering, with the refusal that follows a block."""

    def test_pool_gauges_follow_a_reload(self):
        """The stats process was forked before the reload; what it shows
        is the pool the master runs now."""
        stats_port = harness.free_port()
        with Daemon(settings={"stats.listen": "127.0.0.1:%d" % stats_port}) as d:
            wait_listening(d, stats_port)

            def idle_becomes(n):
                # The harness's start-up probe may hold a worker for a moment.
                ok = harness.wait_for(lambda: sample(scrape(stats_port)[1], "pop3d_workers",
                                                     '{state="idle"}') == n, 10)
                self.assertTrue(ok, scrape(stats_port)[1])

            idle_becomes(5)
            _, page = scrape(stats_port)
            self.assertNotIn("pop3d_anti_hammering_blocks", page)
            start = len(d.log)
            d.set("pop3.max_connections", 7)
            d.set("pop3.anti_hammering", True)
            d.signal(signal.SIGHUP)
            self.assertTrue(d.wait_log(r"reloaded: ", start), d.diagnostics())
            idle_becomes(8)
            _, page = scrape(stats_port)
            self.assertEqual(7, sample(page, "pop3d_workers", '{state="spare"}'), page)
            self.assertEqual(0, sample(page, "pop3d_anti_hammering_blocks"), page)

    def test_pool_and_anti_hammering_gauges(self):
        stats_port = harness.free_port()
        with Daemon(settings={"stats.listen": "127.0.0.1:%d" % stats_port,
                              "pop3.anti_hammering": True,
                              "general.anti_hammering.max_failures": 2}) as d:
            wait_listening(d, stats_port)
            workers = d.tree["pop3"]["max_connections"] + 1  # one spare worker
            with d.login("alice"):
                _, page = scrape(stats_port)
                self.assertEqual(1, sample(page, "pop3d_workers", '{state="busy"}'), page)
                self.assertEqual(workers - 1, sample(page, "pop3d_workers", '{state="idle"}'))
                self.assertEqual(workers - 2, sample(page, "pop3d_workers", '{state="spare"}'))
            self.assertEqual(0, sample(page, "pop3d_anti_hammering_blocks"))
            for _ in range(2):
                with d.connect() as c:
                    self.assertTrue(c.login("bob", "wrong").startswith("-ERR"))
            start = len(d.log)
            with harness.RawClient(d.host, d.port) as refused:
                self.assertTrue(refused.readline().startswith("-ERR"))
            self.assertTrue(d.wait_log(r"refused: client=\S+ reason=", start), d.diagnostics())
            _, page = scrape(stats_port)
            self.assertEqual(1, sample(page, "pop3d_anti_hammering_blocks"), page)
            self.assertEqual(1, sample(page, "pop3d_refusals_total", '{reason="anti_hammering"}'))
            self.assertEqual(2, sample(page, "pop3d_logins_total",
                                       '{method="user",result="wrong_credentials"}'))


class TlsHandshakeTests(unittest.TestCase):
    """Handshakes on the implicit-TLS port and through STLS, by result and
    protocol version."""

    def test_handshakes_are_counted_by_result_and_version(self):
        ssl_port = harness.free_port()
        stats_port = harness.free_port()
        with Daemon(settings={"stats.listen": "127.0.0.1:%d" % stats_port,
                              "pop3.explicit_ssl": True, "pop3.implicit_ssl": True,
                              "pop3.ssl_port": ssl_port}) as d:
            wait_listening(d, stats_port)
            start = len(d.log)
            # STLS, at the best version both sides have (TLS 1.3).
            with d.connect() as c:
                self.assertTrue(c.cmd("STLS").startswith("+OK"))
                c.sock = client_context().wrap_socket(c.sock, server_hostname="localhost")
                self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            # The implicit port, held to TLS 1.2.
            ctx = client_context()
            ctx.maximum_version = ssl.TLSVersion.TLSv1_2
            raw = socket.create_connection((harness.LOOPBACK4, ssl_port),
                                           timeout=harness.SOCKET_TIMEOUT)
            with ctx.wrap_socket(raw, server_hostname="localhost") as tls:
                self.assertTrue(tls.recv(512).startswith(b"+OK"))
                tls.sendall(b"QUIT\r\n")
                tls.recv(512)
            # Plain text on the TLS port: a failed handshake.
            with socket.create_connection((harness.LOOPBACK4, ssl_port),
                                          timeout=harness.SOCKET_TIMEOUT) as s:
                s.sendall(b"USER alice\r\n" * 20)
                try:
                    s.recv(512)
                except OSError:
                    pass
            self.assertTrue(d.wait_log(r"tls: client=\S+ handshake failed", start),
                            d.diagnostics())
            _, page = scrape(stats_port)
            handshakes = "pop3d_tls_handshakes_total"
            self.assertEqual(1, sample(page, handshakes, '{result="ok",version="TLSv1.3"}'), page)
            self.assertEqual(1, sample(page, handshakes, '{result="ok",version="TLSv1.2"}'))
            self.assertEqual(1, sample(page, handshakes, '{result="failed",version="unknown"}'))


def client_context():
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the harness's self-signed certificate
    return ctx


@unittest.skipUnless(system_users.RUNNABLE, system_users.SKIP_REASON)
class HelperCheckTests(unittest.TestCase):
    """auth.backend = system: the privileged helper's answers, by result."""

    def test_helper_checks_are_counted(self):
        name, locked = "p3ma" + system_users.TAG, "p3ml" + system_users.TAG
        pw = system_users.create_user(self.__class__, name, "Metrics-pass-1")
        system_users.fill_maildir(pw, {"m": b"Subject: m\n\nm\n"})
        system_users.fill_maildir(system_users.create_user(self.__class__, locked, "Other-2"),
                                  {"l": b"Subject: l\n\nl\n"})
        system_users.run("usermod", "-L", locked)
        stats_port = harness.free_port()
        with Daemon(users={}, settings={"auth.backend": "system",
                                        "auth.mail_location": "%h/Maildir",
                                        "stats.listen": "127.0.0.1:%d" % stats_port}) as d:
            wait_listening(d, stats_port)
            client = d.login(name, "Metrics-pass-1")
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))
            client.close()
            for user, password in ((name, "wrong"), (locked, "Other-2")):
                with d.connect() as c:
                    self.assertTrue(c.login(user, password).startswith("-ERR"))
            _, page = scrape(stats_port)
            checks = "pop3d_helper_checks_total"
            self.assertGreaterEqual(sample(page, checks, '{result="ok"}'), 1, page)
            self.assertEqual(1, sample(page, checks, '{result="wrong_credentials"}'))
            self.assertEqual(1, sample(page, checks, '{result="refused"}'))
            self.assertEqual(0, sample(page, checks, '{result="failed"}'))


class BadSettingTests(unittest.TestCase):
    def test_malformed_listen_stops_the_start(self):
        for value in ("127.0.0.1", "::1:9110", "127.0.0.1:99999", "[127.0.0.1]:9110"):
            d = Daemon(settings={"stats.listen": value})
            try:
                d.start(wait=False)
                self.assertNotEqual(0, d.proc.wait(harness.START_TIMEOUT), value)
                self.assertIn("stats.listen", d.stderr + d.log, value)
                # pop3d -t finds it too, before anyone starts the daemon.
                checked = d.run_tool("-t")
                self.assertNotEqual(0, checked.returncode, value)
                self.assertIn('stats.listen "%s"' % value, checked.stderr, value)
            finally:
                d.cleanup()


class PrometheusScrapeTests(unittest.TestCase):
    """A real Prometheus scrapes the stats port; the count of logins comes
    back through its HTTP API."""

    def test_prometheus_reads_the_login_counter(self):
        binary = shutil.which("prometheus")
        self.assertTrue(binary, "prometheus not found: install Debian's prometheus package "
                                "(scripts/deps does)")
        stats_port = harness.free_port()
        with Daemon(settings={"stats.listen": "127.0.0.1:%d" % stats_port}) as d:
            wait_listening(d, stats_port)
            for _ in range(LOGINS):
                client = d.login("bob")
                self.assertTrue(client.cmd("QUIT").startswith("+OK"))
                client.close()
            work = tempfile.mkdtemp(prefix="pop3d-e2e-prometheus-")
            try:
                self.run_prometheus(binary, work, stats_port)
            finally:
                shutil.rmtree(work, ignore_errors=True)

    def run_prometheus(self, binary, work, stats_port):
        config = os.path.join(work, "prometheus.yml")
        with open(config, "w") as f:
            f.write("global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n"
                    "scrape_configs:\n  - job_name: pop3d\n    static_configs:\n"
                    "      - targets: ['127.0.0.1:%d']\n" % stats_port)
        web_port = harness.free_port()
        log = open(os.path.join(work, "prometheus.log"), "wb")
        proc = subprocess.Popen(
            [binary, "--config.file=" + config, "--storage.tsdb.path=" + work + "/data",
             "--web.listen-address=127.0.0.1:%d" % web_port],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT)
        try:
            def query(expr):
                url = "http://127.0.0.1:%d/api/v1/query?%s" % (
                    web_port, urllib.parse.urlencode({"query": expr}))
                try:
                    with urllib.request.urlopen(url, timeout=5) as r:
                        answer = json.load(r)
                except OSError:
                    return None
                result = answer.get("data", {}).get("result", [])
                return result or None

            result = harness.wait_for(lambda: query(OK_LOGINS), 60, 0.5)
            with open(os.path.join(work, "prometheus.log"), "rb") as f:
                output = f.read().decode("utf-8", "replace")[-3000:]
            self.assertTrue(result, "Prometheus never had the series\n" + output)
            self.assertEqual(str(LOGINS), result[0]["value"][1])
            self.assertEqual("pop3d", result[0]["metric"]["job"])
            # The scrape itself was healthy (Prometheus parsed the page).
            up = query('up{job="pop3d"}')
            self.assertTrue(up, output)
            self.assertEqual("1", up[0]["value"][1])
        finally:
            proc.terminate()
            try:
                proc.wait(harness.STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            log.close()


if __name__ == "__main__":
    sys.exit(harness.main())
