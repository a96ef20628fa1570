"""Harness for pop3d's end-to-end suites: starts the real daemon on a free
loopback port with its own config, users and Maildirs in a temp dir, talks
to it, and stops it again.

Suites are plain unittest modules that end with
    if __name__ == "__main__":
        sys.exit(harness.main())
and print a last line "NAME: N passed, M failed[, K skipped]" that
tests/run-all adds up.

Run one suite, or some of its tests, by hand:
    POP3D_BIN=build/src/pop3d python3 tests/e2e/test_pop3.py [Class.test ...]
As root the daemon runs as nobody (so the privilege drop is exercised) and
the temp files are handed to nobody; as anyone else it runs as that user.

Only the standard library is used, so the suites run wherever python3 does.
The daemon binary comes from $POP3D_BIN (set by make check); when it is unset
the usual build directories of the source tree are tried.
"""

import atexit
import faulthandler
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import poplib
import unittest

# A daemon that does not accept connections within this time is broken,
# not slow: start-up only reads a config and forks a few workers.
START_TIMEOUT = 10.0
# SIGTERM first, then SIGKILL after this long, so a hung daemon cannot stall
# the suite.
STOP_TIMEOUT = 10.0
# Every socket read in a test gives up after this long, so a daemon that
# forgets to answer fails the test instead of hanging it.
SOCKET_TIMEOUT = 10.0
# The whole suite must finish well within the CI budget; past this a stack
# dump shows where it hung and the process ends (run-all counts it failed).
SUITE_WATCHDOG = 600
# Bound on what the raw client buffers for one reply: the largest test
# message is ~100 kB, so 8 MiB is far beyond any honest reply.
MAX_REPLY_BYTES = 8 * 1024 * 1024

SRCDIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# Loopback is the only network these tests may touch.
LOOPBACK4 = "127.0.0.1"
LOOPBACK6 = "::1"

DEFAULT_USERS = {"alice": "secret", "bob": "hunter2"}


def pop3d_bin():
    """The daemon under test: $POP3D_BIN, else a build in the source tree."""
    env = os.environ.get("POP3D_BIN")
    if env:
        return env
    builds = [os.path.join(SRCDIR, b, "src", "pop3d") for b in ("build", "build-e2e")]
    built = [b for b in builds if os.access(b, os.X_OK)]
    if built:  # the freshest build is the one being worked on
        return max(built, key=os.path.getmtime)
    return builds[0]


# ---------------------------------------------------------------- runner


class CountingResult(unittest.TextTestResult):
    """Tracks one outcome per test (sub-tests and class fixtures included),
    so the closing line counts tests, not assertion failures."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.failed_ids = set()
        self.skipped_ids = set()
        self.skip_reasons = {}  # test id: the reason it gave
        self.run_ids = set()
        self.fixture_failures = []  # descriptions of failed setUpClass etc.

    def startTest(self, test):
        self.run_ids.add(test.id())
        super().startTest(test)

    def _failed(self, test):
        if isinstance(test, unittest.TestCase):
            self.failed_ids.add(test.id())
        else:  # _ErrorHolder for setUpClass / setUpModule
            self.fixture_failures.append(str(test))

    def addFailure(self, test, err):
        self._failed(test)
        super().addFailure(test, err)

    def addError(self, test, err):
        self._failed(test)
        super().addError(test, err)

    def addSubTest(self, test, subtest, err):
        if err is not None:
            self.failed_ids.add(test.id())
        super().addSubTest(test, subtest, err)

    def addSkip(self, test, reason):
        self.skipped_ids.add(test.id())
        self.skip_reasons[test.id()] = reason
        super().addSkip(test, reason)

    def addUnexpectedSuccess(self, test):
        self.failed_ids.add(test.id())
        super().addUnexpectedSuccess(test)


def _tests_by_class(suite, out=None):
    """{class name: [test ids]}, taken before the run (a suite drops its
    tests as it runs them)."""
    out = {} if out is None else out
    if isinstance(suite, unittest.TestSuite):
        for t in suite:
            _tests_by_class(t, out)
    else:
        out.setdefault(type(suite).__name__, []).append(suite.id())
    return out


def main(argv=None):
    """Runs the calling module's tests; prints "NAME: N passed, M failed"
    (", K skipped" when some were) as the last line; returns the exit code.
    Test names on the command line run only those tests."""
    faulthandler.dump_traceback_later(SUITE_WATCHDOG, exit=True)
    module = sys.modules["__main__"]
    name = os.path.splitext(os.path.basename(module.__file__))[0]
    argv = sys.argv[1:] if argv is None else argv
    loader = unittest.defaultTestLoader
    if argv:
        suite = loader.loadTestsFromNames(argv, module)
    else:
        suite = loader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2,
                                     resultclass=CountingResult)
    by_class = _tests_by_class(suite)
    result = runner.run(suite)
    failed = set(result.failed_ids)
    # A failed setUpClass means none of the class's tests ran: count each
    # of them as failed rather than silently as nothing.
    for description in result.fixture_failures:
        match = re.search(r"\(([\w.]+)\)", description)
        class_name = match.group(1).split(".")[-1] if match else ""
        members = by_class.get(class_name, [])
        failed.update(members if members else [description])
    skipped = result.skipped_ids - failed
    passed = len(result.run_ids - failed - skipped)
    line = "%s: %d passed, %d failed" % (name, passed, len(failed))
    if skipped:
        line += ", %d skipped" % len(skipped)
    sys.stdout.flush()
    # One line per skip, for tests/run-all to list (and, in CI, to check
    # against tests/allowed-skips).
    for test_id in sorted(skipped):
        print("skipped: %s: %s" % (test_id, result.skip_reasons.get(test_id, "")))
    print(line)
    sys.stdout.flush()
    return 0 if not failed else 1


# ---------------------------------------------------------------- helpers


def free_port(host=LOOPBACK4):
    """A port that was free on `host` a moment ago."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def port_is_free(port, host=LOOPBACK4):
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
            return True
        except OSError:
            return False


def have_ipv6_loopback():
    if not socket.has_ipv6:
        return False
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind((LOOPBACK6, 0))
        return True
    except OSError:
        return False


def retr_reference(stored):
    """What RETR must send for a stored message, before dot-stuffing: every
    bare LF as CRLF, and a final CRLF added when the last line has none (an
    empty message has no line, so it stays empty). For bulk comparisons
    only: test_pop3's WireFormTests hold this rule to byte strings worked
    out by hand, so a mistake shared with the server's own rule shows."""
    data = re.sub(rb"(?<!\r)\n", b"\r\n", stored)
    if data and not data.endswith(b"\r\n"):
        data += b"\r\n"
    return data


def top_reference(stored, lines):
    """What TOP n `lines` must send: the header, the blank line and the
    first `lines` lines of the body (all of it when shorter)."""
    ref = retr_reference(stored)
    cut = ref.find(b"\r\n\r\n")
    if cut < 0:
        return ref
    head, body = ref[:cut + 4], ref[cut + 4:]
    body_lines = body.split(b"\r\n")[:-1]
    return head + b"".join(l + b"\r\n" for l in body_lines[:lines])


_maildir_seq = [0]


def maildir_name(size, flags=None, when=None):
    """A Maildir-style unique name, e.g. 1700000000.M1P2.host,S=123[:2,S].
    Names sort in delivery order, so every sensible numbering agrees."""
    _maildir_seq[0] += 1
    when = 1700000000 + _maildir_seq[0] if when is None else when
    name = "%d.M%dP%d.e2ehost,S=%d" % (when, _maildir_seq[0], os.getpid(), size)
    if flags is not None:
        name += ":2," + flags
    return name


def make_maildir(path, messages=None, folder="new"):
    """Creates the Maildir at `path` (tmp/ new/ cur/) and writes `messages`,
    {name: bytes}. A name with ":2," goes to cur/; a name that is not
    Maildir-style gets one made for it (kept as a key in the returned map)
    in `folder`. Returns {given name: full path of the file}. Files get
    increasing mtimes in the order given."""
    for sub in ("tmp", "new", "cur"):
        os.makedirs(os.path.join(path, sub), exist_ok=True)
    written = {}
    for i, (name, data) in enumerate((messages or {}).items()):
        if ":2," in name:
            sub, fname = "cur", name
        elif re.match(r"^\d+\.", name):
            sub, fname = folder, name
        else:
            sub = folder
            fname = maildir_name(len(data), flags="" if folder == "cur" else None)
        full = os.path.join(path, sub, fname)
        tmp = os.path.join(path, "tmp", fname.split(":")[0])
        with open(tmp, "wb") as f:
            f.write(data)
        stamp = 1700000000 + _maildir_seq[0] + i
        os.utime(tmp, (stamp, stamp))
        os.rename(tmp, full)
        written[name] = full
    return written


def maildir_files(path):
    """{relative path: bytes} of every message in new/ and cur/."""
    out = {}
    for sub in ("new", "cur"):
        d = os.path.join(path, sub)
        if not os.path.isdir(d):
            continue
        for fname in os.listdir(d):
            with open(os.path.join(d, fname), "rb") as f:
                out[sub + "/" + fname] = f.read()
    return out


def children_of(pid):
    """Pids whose parent is `pid`, read from /proc/*/stat."""
    kids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as f:
                stat = f.read()
        except OSError:
            continue
        # comm is in parentheses and may hold spaces: split after the last ')'.
        fields = stat[stat.rfind(b")") + 2:].split()
        if len(fields) > 1 and int(fields[1]) == pid and fields[0] != b"Z":
            kids.append(int(entry))
    return sorted(kids)


_sanitized = []


def sanitized_build():
    """True when the daemon under test is built with AddressSanitizer (its
    binary names the runtime; a confined worker's /proc/PID/maps is not
    readable to a non-root test)."""
    if not _sanitized:
        with open(pop3d_bin(), "rb") as f:
            _sanitized.append(b"__asan_init" in f.read())
    return _sanitized[0]


def confinement_problems(pid):
    """What /proc says `pid` may still do that a confined pop3d process
    (a worker, a mail agent) must not: [] when it is confined."""
    problems = []
    with open("/proc/%d/status" % pid) as f:
        if not re.search(r"^NoNewPrivs:\s+1$", f.read(), re.M):
            problems.append("may gain privileges through execve")
    with open("/proc/%d/limits" % pid) as f:
        limits = f.read()
    # A sanitized build keeps the hard limit open so that LeakSanitizer can
    # check the child when it exits (src/util/child_exit.cpp); the soft
    # limit, which fork obeys, is 0 in every build.
    processes = r"^Max processes\s+0\s+\S+\s" if sanitized_build() else r"^Max processes\s+0\s+0\s"
    if not re.search(processes, limits, re.M):
        problems.append("may start processes")
    if not re.search(r"^Max core file size\s+0\s+0\s", limits, re.M):
        problems.append("may dump core")
    return problems


def proc_uids(pid):
    """(real, effective, saved, fs) uids of `pid` from /proc/PID/status."""
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return tuple(int(x) for x in line.split()[1:5])
    raise AssertionError("no Uid line for pid %d" % pid)


def uidl_session(client, *commands):
    """On a logged-in RawClient: UIDL, then each command (its +OK asserted),
    then QUIT. Returns the UIDLs in message-number order, after checking that
    the numbers run 1..n."""
    status, body = client.cmd_multi("UIDL")
    assert status.startswith("+OK"), status
    pairs = [line.split() for line in body.decode().splitlines()]
    assert [p[0] for p in pairs] == [str(i + 1) for i in range(len(pairs))], pairs
    for cmd in commands:
        multi = cmd.split()[0] in ("RETR", "TOP", "LIST", "UIDL")
        reply = client.cmd_multi(cmd)[0] if multi else client.cmd(cmd)
        assert reply.startswith("+OK"), (cmd, reply)
    reply = client.cmd("QUIT")
    assert reply.startswith("+OK"), reply
    return [p[1] for p in pairs]


def wait_for(predicate, timeout=10.0, interval=0.05):
    """Polls `predicate` until it is truthy; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


_cert_dir = []


def certificate_pair():
    """(cert_file, key_file): the distribution's snake-oil pair when it is
    installed, otherwise a self-signed pair made once per run with openssl."""
    snake = ("/etc/ssl/certs/ssl-cert-snakeoil.pem",
             "/etc/ssl/private/ssl-cert-snakeoil.key")
    if all(os.access(p, os.R_OK) for p in snake):
        return snake
    if not _cert_dir:
        d = tempfile.mkdtemp(prefix="pop3d-e2e-cert-")
        atexit.register(shutil.rmtree, d, True)
        os.chmod(d, 0o755)
        _cert_dir.append(d)
        cert, key = os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
             "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
             "-subj", "/CN=localhost", "-keyout", key, "-out", cert],
            check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        os.chmod(key, 0o644)  # the daemon may read it after dropping to nobody
    d = _cert_dir[0]
    return os.path.join(d, "cert.pem"), os.path.join(d, "key.pem")


def run_identity():
    """(user, group, uid, gid) the daemon runs as. As root it must drop
    privileges, so it runs as nobody and the test files belong to nobody;
    otherwise it runs as the current user, who owns everything already."""
    if os.geteuid() == 0:
        pw = pwd.getpwnam("nobody")
        try:
            group = grp.getgrnam("nogroup")
        except KeyError:
            group = grp.getgrgid(pw.pw_gid)
        return pw.pw_name, group.gr_name, pw.pw_uid, group.gr_gid
    pw = pwd.getpwuid(os.getuid())
    try:
        group_name = grp.getgrgid(os.getgid()).gr_name
    except KeyError:
        group_name = str(os.getgid())
    return pw.pw_name, group_name, os.getuid(), os.getgid()


# ---------------------------------------------------------------- config


def _render_value(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        return "[ " + ", ".join(_render_value(v) for v in value) + " ]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"%s"' % text


def render_config(tree, indent=0):
    """libconfig text for a nested dict, one setting per line so tests can
    point at line numbers."""
    pad = "  " * indent
    lines = []
    for key, value in tree.items():
        if isinstance(value, dict):
            lines.append("%s%s = {" % (pad, key))
            lines.append(render_config(value, indent + 1))
            lines.append("%s};" % pad)
        else:
            lines.append("%s%s = %s;" % (pad, key, _render_value(value)))
    return "\n".join(l for l in lines if l != "")


def set_dotted(tree, dotted, value):
    """Sets "group.sub.name" in a nested dict; None removes it."""
    parts = dotted.split(".")
    node = tree
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    if value is None:
        node.pop(parts[-1], None)
    else:
        node[parts[-1]] = value


def line_of(text, needle):
    """1-based number of the first line of `text` that contains `needle`."""
    for number, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return number
    raise AssertionError("%r not in config" % needle)


# ---------------------------------------------------------------- clients


class ConnectionClosed(Exception):
    pass


class RawClient:
    """A line-oriented POP3 client over a plain socket, for what poplib
    hides: exact bytes, pipelining, garbage, dropped connections."""

    def __init__(self, host, port, timeout=SOCKET_TIMEOUT, source=None):
        # `source` (another loopback address, e.g. 127.0.0.23) gives a
        # connection a client address of its own, so the daemon's log lines
        # about it can be told from those of every other session.
        self.sock = socket.create_connection(
            (host, port), timeout=timeout, source_address=(source, 0) if source else None)
        self.buf = b""
        self.greeting = None

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def settimeout(self, seconds):
        self.sock.settimeout(seconds)

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, line):
        if isinstance(line, str):
            line = line.encode("latin-1")
        self.sock.sendall(line + b"\r\n")

    def _fill(self):
        chunk = self.sock.recv(65536)
        if not chunk:
            raise ConnectionClosed("server closed the connection")
        self.buf += chunk
        if len(self.buf) > MAX_REPLY_BYTES:
            raise AssertionError("reply larger than %d bytes" % MAX_REPLY_BYTES)

    def readline_bytes(self):
        """One line without its CRLF."""
        while b"\r\n" not in self.buf:
            self._fill()
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def readline(self):
        return self.readline_bytes().decode("latin-1")

    def read_multiline_raw(self):
        """The body of a multi-line reply exactly as sent, through the
        terminating ".\\r\\n" (not included)."""
        while True:
            if self.buf.startswith(b".\r\n"):
                self.buf = self.buf[3:]
                return b""
            end = self.buf.find(b"\r\n.\r\n")
            if end >= 0:
                body, self.buf = self.buf[:end + 2], self.buf[end + 5:]
                return body
            self._fill()

    def read_multiline(self):
        """The body of a multi-line reply with dot-stuffing undone: the
        bytes of the message (each line ending in CRLF)."""
        raw = self.read_multiline_raw()
        lines = raw.split(b"\r\n")[:-1]
        return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n" for l in lines)

    def read_greeting(self):
        self.greeting = self.readline()
        return self.greeting

    def cmd(self, line):
        """Sends a command, returns its status line."""
        self.send(line)
        return self.readline()

    def cmd_multi(self, line):
        """Sends a command; returns (status line, body or None on -ERR)."""
        status = self.cmd(line)
        if not status.startswith("+OK"):
            return status, None
        return status, self.read_multiline()

    def login(self, user, password):
        """USER/PASS; returns the PASS reply (or the USER reply on -ERR)."""
        reply = self.cmd("USER " + user)
        if not reply.startswith("+OK"):
            return reply
        return self.cmd("PASS " + password)

    def is_closed(self, timeout=SOCKET_TIMEOUT):
        """True when the server has closed the connection (reads to EOF,
        discarding whatever it still sent)."""
        self.sock.settimeout(timeout)
        try:
            while True:
                chunk = self.sock.recv(65536)
                if not chunk:
                    return True
        except (ConnectionResetError, BrokenPipeError):
            return True
        except socket.timeout:
            return False


# ---------------------------------------------------------------- daemon


class Daemon:
    """One pop3d under test, with its own state dir, config, users and
    Maildirs. Use as a context manager, or start()/stop() by hand.

    settings: {"group.name": value} applied over the defaults (None removes
    a setting); args: extra command-line arguments; users: {name: secret};
    mail: {user: {name: bytes}} written into new/ (see make_maildir)."""

    def __init__(self, settings=None, args=(), users=None, mail=None,
                 host=LOOPBACK4, port=None):
        self.user_name, self.group_name, self.uid, self.gid = run_identity()
        self.dir = tempfile.mkdtemp(prefix="pop3d-e2e-")
        self.host = host
        self.port = port or free_port(host)
        self.args = list(args)
        self.users = dict(DEFAULT_USERS if users is None else users)
        self.proc = None
        # The daemon's environment (None: this process's).
        self.env = None
        self.config_path = os.path.join(self.dir, "pop3d.conf")
        self.pid_file = os.path.join(self.dir, "pop3d.pid")
        self.log_path = os.path.join(self.dir, "pop3d.log")
        self.stderr_path = os.path.join(self.dir, "stderr.txt")
        self.stdout_path = os.path.join(self.dir, "stdout.txt")
        self.passwd_path = os.path.join(self.dir, "passwd")
        cert, key = certificate_pair()
        self.tree = {
            "general": {
                "pid_file": self.pid_file,
                "user": self.user_name,
                "group": self.group_name,
                "bind_addresses": host,
            },
            "pop3": {
                "port": self.port,
                "max_connections": 4,
                "idle_timeout": 600,
                "login_timeout": 60,
                "bind": "list",
                "listen": host,
                "plaintext_auth": "allow",
                "explicit_ssl": False,
                # Tests log in wrongly on purpose and often, from one address.
                "anti_hammering": False,
            },
            "auth": {
                "backend": "passwd-file",
                "passwd_file": self.passwd_path,
                "mail_location": os.path.join(self.dir, "mail", "%u", "Maildir"),
                "failure_delay": "0s",
            },
            "log": {"target": self.log_path, "level": "debug"},
            "certificates": {"default": {"cert_file": cert, "key_file": key}},
        }
        for dotted, value in (settings or {}).items():
            set_dotted(self.tree, dotted, value)
        self.write_passwd()
        for user in self.users:
            make_maildir(self.maildir(user), (mail or {}).get(user))
        self.write_config()
        # The daemon must be able to create its log file after a drop too.
        open(self.log_path, "ab").close()

    # -- files

    def maildir(self, user):
        return os.path.join(self.dir, "mail", user, "Maildir")

    def write_passwd(self):
        with open(self.passwd_path, "w") as f:
            for user, secret in self.users.items():
                home = os.path.join(self.dir, "home", user)
                os.makedirs(home, exist_ok=True)
                f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (user, secret, self.uid, self.gid, home))

    def config_text(self):
        return render_config(self.tree) + "\n"

    def write_config(self, text=None):
        """Writes the config file: the settings tree, or `text` verbatim."""
        with open(self.config_path, "w") as f:
            f.write(self.config_text() if text is None else text)
        self._hand_over()

    def set(self, dotted, value):
        """Changes one setting in the config file (e.g. before SIGHUP)."""
        set_dotted(self.tree, dotted, value)
        self.write_config()

    def _hand_over(self):
        """Gives the state dir to the user the daemon runs as, so it can read
        its config and maildirs and remove its pid file after dropping
        privileges."""
        if os.geteuid() != 0:
            return
        os.chmod(self.dir, 0o755)
        for root, dirs, files in os.walk(self.dir):
            os.chown(root, self.uid, self.gid)
            for name in files:
                try:
                    os.chown(os.path.join(root, name), self.uid, self.gid)
                except FileNotFoundError:
                    pass  # a lock file a session (pop3d's or a peer's) just removed

    def deliver(self, user, data, folder="new"):
        """Delivers a message the Maildir way (tmp/, then rename); returns
        its path."""
        path = make_maildir(self.maildir(user), {"x": data}, folder=folder)["x"]
        if os.geteuid() == 0:
            os.chown(path, self.uid, self.gid)
        return path

    # -- process

    def command(self, *extra):
        return [pop3d_bin(), "-f", "-c", self.config_path] + self.args + list(extra)

    def start(self, wait=True):
        self._hand_over()
        self._stderr = open(self.stderr_path, "wb")
        self._stdout = open(self.stdout_path, "wb")
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._stdout, stderr=self._stderr,
                                     start_new_session=True, env=self.env)
        if wait:
            try:
                self.wait_ready()
            except AssertionError:
                # setUpClass has no tearDownClass after a failure: leave no
                # process or temp dir behind (the message holds the output).
                self.cleanup()
                raise
        return self

    def wait_ready(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("pop3d exited with %s before accepting\n%s"
                                     % (self.proc.returncode, self.diagnostics()))
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    # The master listens before it loads the user database
                    # (a large passwd-file, or dummies of costly schemes,
                    # take a while): a greeting, or a refusal, says the
                    # start is done. A TLS-only port says nothing first,
                    # and then the connect alone has to do.
                    # The whole line is read, so that closing sends a FIN
                    # and not a reset: the probe's session ends as
                    # "disconnect", which some tests wait for.
                    s.settimeout(START_TIMEOUT / 4)
                    if self.tree["pop3"].get("proxy_protocol"):
                        # The proxy's own connection (a health check).
                        s.sendall(b"PROXY UNKNOWN\r\n")
                    got = b""
                    try:
                        while b"\n" not in got:
                            chunk = s.recv(512)
                            if not chunk:
                                break
                            got += chunk
                    except socket.timeout:
                        pass
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("pop3d did not accept on %s port %d within %.0f s\n%s"
                             % (self.host, self.port, timeout, self.diagnostics()))

    @property
    def pid(self):
        return self.proc.pid

    def workers(self):
        return children_of(self.proc.pid)

    def signal(self, signum):
        os.kill(self.proc.pid, signum)

    def stop(self):
        """SIGTERM, then SIGKILL after STOP_TIMEOUT; returns the exit code."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            try:
                self.proc.send_signal(signal.SIGTERM)
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(STOP_TIMEOUT)
        # Workers left behind by a killed master are still in the session we
        # gave the daemon; end them by that group id.
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        for f in (self._stderr, self._stdout):
            f.close()
        return self.proc.returncode

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def __enter__(self):
        if self.proc is None:
            self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()

    # -- output

    @staticmethod
    def _read(path):
        try:
            with open(path, "rb") as f:
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    @property
    def log(self):
        return self._read(self.log_path)

    @property
    def stderr(self):
        return self._read(self.stderr_path)

    def wait_log(self, pattern, start=0, count=1, timeout=SOCKET_TIMEOUT):
        """The lines (or groups) matching `pattern` (re.M) in the log after
        character offset `start`, once there are at least `count` of them;
        fewer when they do not come within `timeout`. For checks that
        something did not happen: wait for a line the daemon writes after
        it would have (a session's summary line), then look."""
        def found():
            lines = re.findall(pattern, self.log[start:], re.M)
            return lines if len(lines) >= count else None
        return wait_for(found, timeout) or re.findall(pattern, self.log[start:], re.M)

    def wait_session_end(self, client, start=0, user=None, timeout=SOCKET_TIMEOUT):
        """The summary line a worker logs once a session from `client` (an
        address) has ended, e.g. "session: client=127.0.0.1 user=alice ...
        end=quit", after offset `start`; None when none comes in time."""
        pattern = r"^.*session: client=%s user=%s .*$" % (
            re.escape(client), re.escape(user) if user else r"\S+")
        lines = self.wait_log(pattern, start, 1, timeout)
        return lines[-1] if lines else None

    def diagnostics(self):
        """What to show when something went wrong: command, stderr, log."""
        return ("command: %s\n--- stderr:\n%s\n--- log (last 3000 chars):\n%s"
                % (" ".join(self.command()), self.stderr[-3000:], self.log[-3000:]))

    # -- clients

    def connect(self, host=None, source=None):
        """A RawClient with the greeting already read (from the loopback
        address `source` when given)."""
        client = RawClient(host or self.host, self.port, source=source)
        client.read_greeting()
        return client

    def login(self, user="alice", password=None, retry_in_use=3.0, source=None):
        """A RawClient logged in as `user`. A previous session's lock may
        outlive its QUIT by a moment, so [IN-USE] is retried briefly."""
        password = self.users[user] if password is None else password
        deadline = time.monotonic() + retry_in_use
        while True:
            client = self.connect(source=source)
            reply = client.login(user, password)
            if reply.startswith("+OK"):
                return client
            client.close()
            if "[IN-USE]" not in reply or time.monotonic() >= deadline:
                raise AssertionError("login as %s failed: %r\n%s"
                                     % (user, reply, self.diagnostics()))
            time.sleep(0.1)

    def pop(self):
        return poplib.POP3(self.host, self.port, timeout=SOCKET_TIMEOUT)

    def run_tool(self, *args, config=None, timeout=10):
        """Runs pop3d once in the foreground for -t, --print-config, -h,
        -V; returns the CompletedProcess (text output)."""
        cmd = [pop3d_bin()]
        if config is not False:
            cmd += ["-c", config or self.config_path]
        return subprocess.run(cmd + list(args), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, errors="replace",
                              timeout=timeout)
