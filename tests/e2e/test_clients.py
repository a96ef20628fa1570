"""End-to-end tests with the mail clients people fetch from pop3d with:
fetchmail, mpop and getmail6 over plain POP3, STLS (not getmail6, which has
none for POP3) and implicit TLS, either keeping the mail on the server (a
second run must fetch nothing, found out by UIDL) or deleting it (the
Maildir must be empty after); fetchmail's APOP and curl's AUTH LOGIN.
Each client delivers into files the test owns, and those are compared byte
for byte with the stored messages.

The TLS clients verify the daemon's certificate: the suite makes its own
self-signed one for localhost and 127.0.0.1 and hands it to each client as
its only CA. The STLS daemon refuses plain-text logins outside TLS, so a
client that silently skipped STLS fails instead of passing."""

import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, retr_reference  # noqa: E402

# Every client run ends within this or the test fails; the daemon answers
# in milliseconds, so this only bounds a client that hangs.
CLIENT_TIMEOUT = 60

# What people really have in their Maildirs: lines that need dot-stuffing
# (one is a lone "."), bare LF line ends, CRLF line ends, and a last line
# without any end.
MESSAGES = {
    "dots": (b"From: a@example.org\nTo: u@example.org\nSubject: dots\n"
             b"Message-ID: <dots@example.org>\n\n"
             b".leading dot\n..two dots\n.\nafter a lone dot\n"),
    "crlf": (b"From: b@example.org\r\nTo: u@example.org\r\nSubject: crlf\r\n"
             b"Message-ID: <crlf@example.org>\r\n\r\n"
             b"CRLF line ends\r\n.dot on a CRLF line\r\n"),
    "open": (b"From: c@example.org\nTo: u@example.org\nSubject: open end\n"
             b"Message-ID: <open@example.org>\n\n"
             b"the last line has no end"),
}

# A network no test client is in: 127.0.0.1 counts as insecure, so under
# tls-only a login before STLS is refused (the address is never contacted).
ELSEWHERE = "192.0.2.0/24"


def delivered_form(stored):
    """What a client that stores mail with Unix line ends must write for a
    stored message: what RETR sends, dot-stuffing undone, with LF ends."""
    return retr_reference(stored).replace(b"\r\n", b"\n")


# What a client writes in front of each message by design: getmail always
# records the envelope sender, which POP3 does not carry, as unknown.
ADDED_HEADER = {"getmail": b"Return-Path: <unknown>\n"}


def expected_deliveries(client):
    return sorted(ADDED_HEADER.get(client, b"") + delivered_form(m) for m in MESSAGES.values())


_ca = {}


def self_signed(directory, name):
    """(cert, key) in `directory`: self-signed for localhost and 127.0.0.1,
    so a client connecting to 127.0.0.1 can verify it with the certificate
    itself as its CA."""
    cert = os.path.join(directory, name + ".pem")
    key = os.path.join(directory, name + ".key")
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2",
         "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1",
         "-keyout", key, "-out", cert],
        check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        timeout=CLIENT_TIMEOUT)
    os.chmod(key, 0o644)  # the daemon reads it after dropping to nobody
    return cert, key


def tls_pair():
    """(cert, key) for the daemon, made once. The harness's pair may be the
    distribution's snake-oil one, named after the host, which no client
    reaching 127.0.0.1 could verify."""
    if not _ca:
        d = tempfile.mkdtemp(prefix="pop3d-e2e-clients-cert-")
        os.chmod(d, 0o755)
        cert, key = self_signed(d, "server")
        # Same names, another key: what a man in the middle would show.
        stranger, _ = self_signed(d, "stranger")
        _ca.update(dir=d, cert=cert, key=key, stranger=stranger)
    return _ca["cert"], _ca["key"]


def tearDownModule():
    if _ca:
        shutil.rmtree(_ca["dir"], ignore_errors=True)


def need(program, package):
    if shutil.which(program) is None:
        raise unittest.SkipTest("%s is not installed (Debian package %s)" % (program, package))


def write_private(path, text):
    """A client config: fetchmail refuses one that others may read, and
    they all hold a password."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(path, 0o600)


def read_dir(path):
    """Contents of every file directly in `path`, sorted."""
    out = []
    for name in os.listdir(path):
        full = os.path.join(path, name)
        if os.path.isfile(full):
            with open(full, "rb") as f:
                out.append(f.read())
    return sorted(out)


def read_maildir(path):
    return sorted(harness.maildir_files(path).values())


class Run:
    """One client's private world: HOME, config, state and where it
    delivers, in a temp dir removed after the test."""

    def __init__(self, test):
        self.home = tempfile.mkdtemp(prefix="pop3d-e2e-client-")
        test.addCleanup(shutil.rmtree, self.home, True)
        self.out = os.path.join(self.home, "delivered")
        for sub in ("tmp", "new", "cur"):
            os.makedirs(os.path.join(self.out, sub))

    def path(self, name):
        return os.path.join(self.home, name)

    def env(self):
        env = dict(os.environ)
        env.update(HOME=self.home, FETCHMAILHOME=self.home, LC_ALL="C")
        return env

    def run(self, argv):
        r = subprocess.run(argv, env=self.env(), cwd=self.home, stdin=subprocess.DEVNULL,
                           capture_output=True, timeout=CLIENT_TIMEOUT)
        self.last = "%s exited %d\n--- stdout:\n%s\n--- stderr:\n%s" % (
            argv[0], r.returncode, r.stdout.decode("utf-8", "replace")[-3000:],
            r.stderr.decode("utf-8", "replace")[-3000:])
        return r

    def delivered(self):
        """What the client delivered: the messages of the Maildir it was
        given, or the files its MDA wrote."""
        mda = os.path.join(self.home, "mda")
        return sorted(read_maildir(self.out) + (read_dir(mda) if os.path.isdir(mda) else []))


# ---------------------------------------------------------------- clients
#
# Each client function configures one run and returns the argv to start it.
# mode is "plain", "stls" or "tls" (implicit TLS on the ssl port).


def fetchmail_argv(run, d, mode, user, keep, ca=None, protocol="POP3"):
    need("fetchmail", "fetchmail")
    mda_dir = run.path("mda")
    os.makedirs(mda_dir, exist_ok=True)
    # One file per message, so messages can be compared one by one.
    mda = run.path("mda.sh")
    with open(mda, "w") as f:
        f.write('#!/bin/sh\nf=$(mktemp "%s/msg.XXXXXX") && exec cat > "$f"\n' % mda_dir)
    os.chmod(mda, 0o700)
    port = d.ssl_port if mode == "tls" else d.port
    tls = {
        # An empty sslproto turns off fetchmail's opportunistic STLS.
        "plain": "sslproto ''",
        # sslproto without ssl means STLS, and required.
        "stls": "sslproto TLS1.2+",
        "tls": "ssl sslproto TLS1.2+",
    }[mode]
    if mode != "plain":
        # fetchmail matches the name it polls against DNS names only, never
        # an IP address entry, so it is told the certificate's name.
        tls += " sslcertck sslcertfile %s sslcommonname localhost" % (ca or d.ca)
    rc = run.path("fetchmailrc")
    write_private(rc, (
        "set no syslog\n"
        # Without its own Received header, what fetchmail hands the MDA is
        # exactly what the server sent.
        "set invisible\n"
        "poll 127.0.0.1 port %d protocol %s uidl timeout 30\n"
        "  user \"%s\" there with password \"%s\"\n"
        "  %s\n"
        "  mda \"%s\"\n"
        "  %s\n") % (port, protocol, user, d.users[user], tls, mda,
                     "keep" if keep else "nokeep"))
    return ["fetchmail", "--nodetach", "--nosyslog", "-f", rc,
            "--idfile", run.path("fetchids"), "--pidfile", run.path("fetchmail.pid"),
            "-v"]


def mpop_argv(run, d, mode, user, keep, ca=None):
    need("mpop", "mpop")
    port = d.ssl_port if mode == "tls" else d.port
    tls = {
        # Without TLS mpop would pick APOP; USER/PASS is what is tested here.
        "plain": "tls off\nauth user\n",
        "stls": "tls on\ntls_starttls on\ntls_trust_file %s\n" % (ca or d.ca),
        "tls": "tls on\ntls_starttls off\ntls_trust_file %s\n" % (ca or d.ca),
    }[mode]
    rc = run.path("mpoprc")
    write_private(rc, (
        "account default\n"
        "host 127.0.0.1\nport %d\nuser %s\npassword %s\n"
        "%s"
        "timeout 30\n"
        "delivery maildir %s\n"
        "keep %s\n"
        "uidls_file %s\n"
        "received_header off\n") % (port, user, d.users[user], tls, run.out,
                                    "on" if keep else "off", run.path("uidls")))
    return ["mpop", "-C", rc, "-q"]


def getmail_argv(run, d, mode, user, keep, ca=None):
    need("getmail", "getmail6")
    port = d.ssl_port if mode == "tls" else d.port
    if mode == "tls":
        retriever = "type = SimplePOP3SSLRetriever\nca_certs = %s\n" % (ca or d.ca)
    else:
        retriever = "type = SimplePOP3Retriever\n"
    destination = "type = Maildir\npath = %s/\n" % run.out
    if os.geteuid() == 0:
        # getmail will not deliver as root; it switches to this user.
        owner, _, uid, gid = harness.run_identity()
        destination += "user = %s\n" % owner
        os.chmod(run.home, 0o711)
        for root, _, _ in os.walk(run.out):
            os.chown(root, uid, gid)
    rc = run.path("getmailrc")
    write_private(rc, (
        "[retriever]\n%s"
        "server = 127.0.0.1\nport = %d\nusername = %s\npassword = %s\n"
        "timeout = 30\n"
        "[destination]\n%s"
        "[options]\n"
        "delete = %s\nread_all = false\n"
        # The headers getmail would add are its own, not the server's.
        "delivered_to = false\nreceived = false\n"
        "message_log_syslog = false\nverbose = 1\n") % (
            retriever, port, user, d.users[user], destination,
            "false" if keep else "true"))
    getmaildir = run.path("getmail")
    os.makedirs(getmaildir)
    return ["getmail", "--getmaildir", getmaildir, "--rcfile", rc]


CLIENTS = {"fetchmail": fetchmail_argv, "mpop": mpop_argv, "getmail": getmail_argv}

# Exit codes when there was nothing new to fetch: fetchmail says so with 1.
NOTHING_NEW = {"fetchmail": 1, "mpop": 0, "getmail": 0}


def read_text(paths):
    out = ""
    for path in paths:
        with open(path, encoding="latin-1") as f:
            out += f.read()
    return out


# Where each client keeps the UIDLs of what it has seen.
SEEN_FILES = {
    "fetchmail": lambda run: [run.path("fetchids")],
    "mpop": lambda run: [run.path("uidls")],
    "getmail": lambda run: [os.path.join(run.path("getmail"), n)
                            for n in os.listdir(run.path("getmail")) if n.startswith("oldmail-")],
}


def user_name(client, keep):
    return "%s%s" % (client, "keep" if keep else "nokeep")


def all_users():
    users = {user_name(c, k): "pw-" + user_name(c, k)
             for c in CLIENTS for k in (True, False)}
    users.update({c + "distrust": "pw-distrust" for c in CLIENTS})
    users.update(apop="pw-apop", authlogin="pw-authlogin")
    return users


class ClientCases:
    """The same fetches for each transport; setUpClass starts one daemon
    for the class, with a user of its own for each test."""

    mode = None
    settings = {}

    @classmethod
    def setUpClass(cls):
        cert, key = tls_pair()
        settings = {"certificates.default.cert_file": cert,
                    "certificates.default.key_file": key}
        settings.update(cls.settings)
        cls.ssl_port = harness.free_port()
        if settings.get("pop3.implicit_ssl"):
            settings["pop3.ssl_port"] = cls.ssl_port
        users = all_users()
        cls.d = Daemon(settings=settings, users=users,
                       mail={u: dict(MESSAGES) for u in users})
        cls.d.ca = cert
        cls.d.ssl_port = cls.ssl_port
        cls.d.start()
        if settings.get("pop3.implicit_ssl"):
            ok = harness.wait_for(lambda: not harness.port_is_free(cls.ssl_port), 5)
            if not ok:
                cls.d.cleanup()
                raise AssertionError("nothing listens on ssl_port %d" % cls.ssl_port)

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    # -- checks

    def sessions(self, user):
        """(retrieved, deleted) of each finished session of `user`, in order."""
        rx = re.compile(r"session: client=127\.0\.0\.1 user=%s retrieved=(\d+)/\d+ "
                        r"deleted=(\d+)/\d+ " % re.escape(user))
        return [(int(m.group(1)), int(m.group(2))) for m in rx.finditer(self.d.log)]

    def login_methods(self, user):
        """How each successful login of `user` authenticated, as logged."""
        rx = re.compile(r"login: user=<%s>, method=(\w+)," % re.escape(user))
        return rx.findall(self.d.log)

    def wait_sessions(self, user, count):
        """The daemon logs a session when it has ended, which may be a moment
        after the client exits."""
        harness.wait_for(lambda: len(self.sessions(user)) >= count, 10)
        return self.sessions(user)

    def stored(self, user):
        return read_maildir(self.d.maildir(user))

    def server_uidls(self, user):
        p = self.d.pop()
        try:
            if self.mode == "stls":  # no plain-text login here without it
                p.stls(context=ssl.create_default_context(cafile=self.d.ca))
            p.user(user)
            p.pass_(self.d.users[user])
            listing = p.uidl()[1]
        finally:
            p.quit()
        return [line.split()[1].decode("latin-1") for line in listing]

    def fetch(self, client, keep):
        user = user_name(client, keep)
        run = Run(self)
        argv = CLIENTS[client](run, self.d, self.mode, user, keep)
        r = run.run(argv)
        self.assertEqual(r.returncode, 0, run.last + "\n" + self.d.diagnostics())
        self.assertEqual(run.delivered(), expected_deliveries(client),
                         "%s delivered other bytes than the server stores\n%s"
                         % (client, run.last))
        # fetchmail reads with TOP, which the daemon does not count as
        # retrieved, so the log is only asked whether the client logged in
        # and what it deleted.
        first = self.wait_sessions(user, 1)
        self.assertEqual(len(first), 1, "sessions: %r" % first)
        if keep:
            self.assertEqual(first[-1][1], 0, "sessions: %r" % first)
            self.assertEqual(self.stored(user), sorted(MESSAGES.values()),
                             "the messages did not stay on the server")
            r = run.run(argv)
            self.assertEqual(r.returncode, NOTHING_NEW[client],
                             "second run\n" + run.last + "\n" + self.d.diagnostics())
            self.assertEqual(run.delivered(), expected_deliveries(client),
                             "the second run fetched again what the first had\n" + run.last)
            second = self.wait_sessions(user, 2)
            self.assertEqual(len(second), 2, "the second run did not log in: %r" % second)
            self.assertEqual(second[-1], (0, 0), "sessions: %r" % second)
            self.assertEqual(self.stored(user), sorted(MESSAGES.values()))
            # The client knew the messages by the daemon's UIDLs, which
            # is what lets it tell new mail from old.
            seen = read_text(SEEN_FILES[client](run))
            uidls = self.server_uidls(user)
            self.assertEqual(len(uidls), len(MESSAGES))
            for uidl in uidls:
                self.assertIn(uidl, seen, "%s did not record UIDL %s" % (client, uidl))
        else:
            self.assertEqual(first[-1][1], len(MESSAGES), "sessions: %r" % first)
            self.assertEqual(self.stored(user), [], "the messages were not deleted")

    def test_fetchmail_keep(self):
        self.fetch("fetchmail", True)

    def test_fetchmail_nokeep(self):
        self.fetch("fetchmail", False)

    def test_mpop_keep(self):
        self.fetch("mpop", True)

    def test_mpop_nokeep(self):
        self.fetch("mpop", False)


class GetmailCases:
    """getmail6 has no STLS for POP3 (only implicit TLS, its
    SimplePOP3SSLRetriever), so the STLS class goes without these."""

    def test_getmail_keep(self):
        self.fetch("getmail", True)

    def test_getmail_nokeep(self):
        self.fetch("getmail", False)


class PlainTests(ClientCases, GetmailCases, unittest.TestCase):
    """No STLS offered, so whatever the clients do, it is plain POP3."""

    mode = "plain"
    settings = {"pop3.explicit_ssl": False}

    def test_fetchmail_apop(self):
        run = Run(self)
        argv = fetchmail_argv(run, self.d, "plain", "apop", keep=False, protocol="APOP")
        with self.d.connect() as c:
            self.assertRegex(c.greeting, r"<[^<>@]+@[^<>]+>",
                             "no APOP timestamp in the greeting")
        r = run.run(argv)
        self.assertEqual(r.returncode, 0, run.last + "\n" + self.d.diagnostics())
        self.assertEqual(run.delivered(), expected_deliveries("fetchmail"), run.last)
        self.assertEqual(self.stored("apop"), [])
        self.assertEqual(self.login_methods("apop"), ["APOP"], run.last)

    def test_curl_auth_login(self):
        need("curl", "curl")
        url = "pop3://authlogin:pw-authlogin@127.0.0.1:%d/1" % self.d.port
        r = subprocess.run(["curl", "-s", "-S", "-v", "--max-time", "30",
                            "--login-options", "AUTH=LOGIN", url],
                           capture_output=True, timeout=CLIENT_TIMEOUT)
        self.assertEqual(r.returncode, 0, r.stderr.decode("utf-8", "replace"))
        # The harness names messages in the order given, and the daemon
        # numbers them by name.
        self.assertEqual(r.stdout, retr_reference(MESSAGES["dots"]))
        self.assertIn(b"> AUTH LOGIN", r.stderr, "curl did not send AUTH LOGIN")
        self.assertEqual(self.login_methods("authlogin"), ["LOGIN"], self.d.log[-2000:])


class StlsTests(ClientCases, unittest.TestCase):
    """Logins outside TLS are refused, so a fetch proves STLS happened."""

    mode = "stls"
    settings = {"pop3.explicit_ssl": True, "pop3.plaintext_auth": "tls-only",
                "pop3.secure_networks": ELSEWHERE}


class ImplicitTlsTests(ClientCases, GetmailCases, unittest.TestCase):
    mode = "tls"
    settings = {"pop3.implicit_ssl": True}

    def refuse(self, client):
        """Given a CA that did not sign the daemon's certificate, the client
        must stop before it logs in: proof that it verifies at all."""
        user = client + "distrust"
        run = Run(self)
        argv = CLIENTS[client](run, self.d, self.mode, user, keep=False, ca=_ca["stranger"])
        r = run.run(argv)
        self.assertNotEqual(r.returncode, 0, run.last)
        self.assertRegex(run.last, r"(?i)certificate", "refused, but not for the certificate")
        self.assertEqual(run.delivered(), [], run.last)
        self.assertEqual(self.login_methods(user), [], "logged in past a bad certificate")
        self.assertEqual(self.stored(user), sorted(MESSAGES.values()))

    def test_fetchmail_refuses_an_unknown_certificate(self):
        self.refuse("fetchmail")

    def test_mpop_refuses_an_unknown_certificate(self):
        self.refuse("mpop")

    def test_getmail_refuses_an_unknown_certificate(self):
        self.refuse("getmail")


if __name__ == "__main__":
    sys.exit(harness.main())
