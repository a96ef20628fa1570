"""End-to-end tests of auth.backend = "system" (and "pam") with privilege separation:
throw-away Unix accounts with passwords and ~/Maildir, logins as each,
who runs as whom (through /proc), refusals of locked, low-uid and root
accounts. Needs root (useradd, shadow, setuid); skipped otherwise."""

import os
import pwd
import stat
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import (Daemon, children_of, confinement_problems, make_maildir,  # noqa: E402
                     proc_uids, retr_reference, wait_for)

IS_ROOT = os.geteuid() == 0
HAVE_TOOLS = all(os.path.exists(p) for p in ("/usr/sbin/useradd", "/usr/sbin/userdel",
                                              "/usr/sbin/chpasswd", "/usr/sbin/usermod"))
SKIP_REASON = ("system users need root (useradd, shadow, setuid): run the suite as root"
               if not IS_ROOT else "useradd/userdel/chpasswd/usermod are not installed")
RUNNABLE = IS_ROOT and HAVE_TOOLS

TAG = "%05d" % (os.getpid() % 100000)
USERS = {  # name: (password, messages)
    "p3ta" + TAG: ("Alpha-pass-1", {"a1": b"Subject: for A one\n\nalpha one\n",
                                   "a2": b"Subject: for A two\n\nalpha two\n"}),
    "p3tb" + TAG: ("Bravo-pass-2", {"b1": b"Subject: for B\n\nbravo only\n"}),
}
LOCKED = "p3tl" + TAG
LOW = "p3ts" + TAG  # a system account: uid below 1000
PASSWORD_OTHER = "Charlie-pass-3"


def free_uid(start=42000):
    uid = start
    while True:
        try:
            pwd.getpwuid(uid)
        except KeyError:
            try:
                __import__("grp").getgrgid(uid)
            except KeyError:
                return uid
        uid += 1


def run(*cmd, stdin=None):
    subprocess.run(cmd, input=stdin, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.PIPE, text=True)


def remove_user(name):
    subprocess.run(["userdel", "-r", "-f", name], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def create_user(test_class, name, password, system=False):
    """useradd + chpasswd + ~/Maildir owned by the user; removed at class
    clean-up, whatever happens."""
    remove_user(name)  # a leftover of an earlier, killed run
    test_class.addClassCleanup(remove_user, name)
    if system:
        run("useradd", "-r", "-m", "-s", "/usr/sbin/nologin", name)
    else:
        uid = free_uid()
        run("useradd", "-m", "-u", str(uid), "-U", "-s", "/usr/sbin/nologin", name)
    run("chpasswd", stdin="%s:%s\n" % (name, password))
    return pwd.getpwnam(name)


def fill_maildir(pw, messages):
    """~/Maildir with `messages`, everything owned by the user, files 0600."""
    maildir = os.path.join(pw.pw_dir, "Maildir")
    written = make_maildir(maildir, messages)
    for root, dirs, files in os.walk(maildir):
        os.chown(root, pw.pw_uid, pw.pw_gid)
        os.chmod(root, 0o700)
        for f in files:
            os.chown(os.path.join(root, f), pw.pw_uid, pw.pw_gid)
            os.chmod(os.path.join(root, f), 0o600)
    return written


def descendants(pid):
    out = []
    for kid in children_of(pid):
        out.append(kid)
        out.extend(descendants(kid))
    return out


def comm_of(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def proc_gids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Gid:"):
                return tuple(int(x) for x in line.split()[1:5])
    raise AssertionError("no Gid line for pid %d" % pid)


def cmdline_title(pid):
    """What ps shows for `pid`: its command line up to the first NUL."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().split(b"\0")[0].decode("latin-1")
    except OSError:
        return ""


@unittest.skipUnless(RUNNABLE, SKIP_REASON)
class SystemUserTests(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.accounts = {}
        for name, (password, messages) in USERS.items():
            pw = create_user(cls, name, password)
            cls.accounts[name] = (pw, fill_maildir(pw, messages))
        cls.locked = create_user(cls, LOCKED, PASSWORD_OTHER)
        fill_maildir(cls.locked, {"l": b"Subject: locked\n\nx\n"})
        run("usermod", "-L", LOCKED)
        cls.low = create_user(cls, LOW, PASSWORD_OTHER, system=True)
        fill_maildir(cls.low, {"s": b"Subject: low\n\nx\n"})
        cls.daemon = Daemon(users={}, settings={
            "auth.backend": "system",
            "auth.mail_location": "%h/Maildir",
        })
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()

    def names(self):
        return list(USERS)

    def login(self, name, password=None):
        password = USERS[name][0] if password is None else password
        return self.daemon.login(name, password)

    def test_each_user_reads_and_deletes_own_mail(self):
        for name in self.names():
            pw, written = self.accounts[name]
            messages = USERS[name][1]
            client = self.login(name)
            status = client.cmd("STAT")
            self.assertTrue(status.startswith("+OK %d " % len(messages)), status)
            bodies = set()
            for n in range(1, len(messages) + 1):
                reply, body = client.cmd_multi("RETR %d" % n)
                self.assertTrue(reply.startswith("+OK"), reply)
                bodies.add(body)
            self.assertEqual({retr_reference(m) for m in messages.values()}, bodies)
            self.assertTrue(client.cmd("DELE 1").startswith("+OK"))
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))
            self.assertTrue(client.is_closed(5))
            client.close()
            cur = os.path.join(pw.pw_dir, "Maildir", "cur")
            left = wait_for(lambda: len(os.listdir(cur)) == len(messages) - 1, timeout=5)
            self.assertTrue(left, "DELE did not remove a file of %s: %s" % (name, os.listdir(cur)))
            # What is left still belongs to the user, and only to the user.
            for f in os.listdir(cur):
                st = os.stat(os.path.join(cur, f))
                self.assertEqual(pw.pw_uid, st.st_uid)
        self.assertIn("session: client=127.0.0.1 user=%s retrieved=" % self.names()[0],
                      self.daemon.log)

    def test_helper_and_agent_say_what_they_are(self):
        """ps shows "pop3d: helper" for the privileged helper, and the mail
        agent of a logged-in user as "pop3d: agent [NAME]"."""
        name = self.names()[0]
        client = self.login(name)

        def titles():
            found = []
            for pid in harness.children_of(self.daemon.pid):
                found.append(cmdline_title(pid))
                found.extend(cmdline_title(p) for p in harness.children_of(pid))
            return found

        agent = "pop3d: agent [%s]" % name
        self.assertTrue(wait_for(lambda: agent in titles(), timeout=5),
                        "no %r among %r" % (agent, titles()))
        self.assertIn("pop3d: helper", titles())
        self.assertTrue(client.cmd("QUIT").startswith("+OK"))
        client.close()

    def test_print_uidls_shows_what_the_users_session_shows(self):
        name = self.names()[0]
        done = self.daemon.run_tool("--print-uidls", name)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertNotIn("Sanitizer", done.stderr)
        printed = [tuple(line.split(" ")[:2]) for line in done.stdout.splitlines()]
        self.assertTrue(printed)
        client = self.login(name)
        status, body = client.cmd_multi("UIDL")
        self.assertTrue(status.startswith("+OK"), status)
        self.assertEqual(printed, [tuple(l.split()) for l in body.decode().splitlines()])
        self.assertTrue(client.cmd("QUIT").startswith("+OK"))
        client.close()
        # The same refusals as a login: no mail read for a system account.
        for refused in ("root", LOW):
            done = self.daemon.run_tool("--print-uidls", refused)
            self.assertEqual((done.returncode, done.stdout), (1, ""), refused)
            self.assertIn("--print-uidls %s: " % refused, done.stderr)

    def test_agent_runs_as_the_user_and_worker_as_the_service_user(self):
        name = self.names()[1]
        pw = self.accounts[name][0]
        client = self.login(name)
        try:
            master = self.daemon.pid
            kids = children_of(master)
            helpers = [p for p in kids if proc_uids(p)[0] == 0]
            self.assertEqual(1, len(helpers), "one root helper among %s" % kids)
            helper = helpers[0]
            agents = wait_for(lambda: [p for p in children_of(helper)
                                       if proc_uids(p)[1] == pw.pw_uid], timeout=5)
            self.assertTrue(agents, "no agent with uid %d under the helper" % pw.pw_uid)
            for agent in agents:
                self.assertEqual((pw.pw_uid,) * 4, proc_uids(agent))
                self.assertEqual((pw.pw_gid,) * 4, proc_gids(agent))
                self.assertEqual([], confinement_problems(agent), "agent %d" % agent)
            service_uid = self.daemon.uid
            self.assertEqual((service_uid,) * 4, proc_uids(master))
            workers = [p for p in kids if p != helper]
            self.assertTrue(workers)
            for worker in workers:
                self.assertEqual((service_uid,) * 4, proc_uids(worker))
                self.assertEqual([], confinement_problems(worker), "worker %d" % worker)
            # Nothing but the helper and its check processes (which read
            # shadow or run PAM) runs as root.
            checkers = [p for p in children_of(helper) if comm_of(p) == "pop3d-check"]
            self.assertTrue(checkers, "no check process under the helper")
            for p in descendants(master):
                if p != helper and p not in checkers:
                    self.assertNotEqual(0, proc_uids(p)[1], "pid %d runs as root" % p)
        finally:
            client.cmd("QUIT")
            client.close()

    def test_a_user_sees_only_own_mail(self):
        a, b = self.names()
        pw_b, written_b = self.accounts[b]
        client = self.login(a)
        try:
            reply, body = client.cmd_multi("UIDL")
            self.assertTrue(reply.startswith("+OK"), reply)
            uidls = {line.split()[1] for line in body.decode().splitlines() if line}
            b_names = {os.path.basename(p).split(":")[0] for p in
                       os.listdir(os.path.join(pw_b.pw_dir, "Maildir", "cur")) +
                       os.listdir(os.path.join(pw_b.pw_dir, "Maildir", "new"))}
            self.assertFalse(uidls & b_names, "A's listing shows B's mail")
            count = int(client.cmd("STAT").split()[1])
            for n in range(1, count + 1):
                _, msg = client.cmd_multi("RETR %d" % n)
                self.assertNotIn(b"bravo", msg)
        finally:
            client.cmd("QUIT")
            client.close()
        maildir_b = os.path.join(pw_b.pw_dir, "Maildir")
        for root, dirs, files in os.walk(maildir_b):
            for f in files:
                if f.startswith("pop3d."):
                    continue
                st = os.stat(os.path.join(root, f))
                self.assertEqual(pw_b.pw_uid, st.st_uid)
                self.assertEqual(0o600, stat.S_IMODE(st.st_mode))

    def assert_refused(self, name, password, log_text):
        with self.daemon.connect() as client:
            reply = client.login(name, password)
            self.assertTrue(reply.startswith("-ERR"), reply)
        self.assertTrue(wait_for(lambda: log_text in self.daemon.log, timeout=5),
                        "log lacks %r\n%s" % (log_text, self.daemon.log[-2000:]))

    def test_wrong_password_and_unknown_user(self):
        self.assert_refused(self.names()[0], "not-the-password", "wrong password")
        self.assert_refused("p3tnobody" + TAG, "whatever", "unknown user")

    def test_locked_account_is_refused(self):
        self.assert_refused(LOCKED, PASSWORD_OTHER, "user=%s rip=127.0.0.1 refused: account locked"
                            % LOCKED)

    def test_low_uid_is_refused(self):
        self.assertLess(self.low.pw_uid, 1000)
        self.assert_refused(LOW, PASSWORD_OTHER,
                            "user=%s rip=127.0.0.1 refused: uid below auth.first_valid_uid" % LOW)

    def test_root_is_refused(self):
        self.assert_refused("root", "any-password", "user=root rip=127.0.0.1 refused: root")

    def test_apop_is_not_offered(self):
        with self.daemon.connect() as client:
            self.assertNotIn("<", client.greeting)
            self.assertTrue(client.cmd("APOP %s 0123456789abcdef0123456789abcdef"
                                       % self.names()[0]).startswith("-ERR"))


PAM_USER = "p3tp" + TAG
PAM_EXPIRED = "p3te" + TAG
PAM_SERVICE = "pop3d-test-" + TAG
PAM_STACK = "auth required pam_unix.so\naccount required pam_unix.so\n"


def remove_file(path):
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


@unittest.skipUnless(RUNNABLE and os.path.isdir("/etc/pam.d"), SKIP_REASON)
class PamTests(unittest.TestCase):
    """auth.backend = "pam", with a throw-away PAM service of pam_unix."""

    @classmethod
    def setUpClass(cls):
        service = os.path.join("/etc/pam.d", PAM_SERVICE)
        cls.addClassCleanup(remove_file, service)
        with open(service, "w") as f:
            f.write(PAM_STACK)
        cls.user = create_user(cls, PAM_USER, PASSWORD_OTHER)
        fill_maildir(cls.user, {"p": b"Subject: via PAM\n\npam body\n"})
        cls.expired = create_user(cls, PAM_EXPIRED, PASSWORD_OTHER)
        fill_maildir(cls.expired, {"e": b"Subject: expired\n\nx\n"})
        run("usermod", "-e", "1970-01-02", PAM_EXPIRED)
        cls.daemon = Daemon(users={}, settings={
            "auth.backend": "pam",
            "auth.pam_service": PAM_SERVICE,
            "auth.mail_location": "%h/Maildir",
        })
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()

    def test_login_reads_mail_through_an_agent_of_the_user(self):
        client = self.daemon.login(PAM_USER, PASSWORD_OTHER)
        try:
            reply, body = client.cmd_multi("RETR 1")
            self.assertTrue(reply.startswith("+OK"), reply)
            self.assertIn(b"pam body", body)
            helper = [p for p in children_of(self.daemon.pid) if proc_uids(p)[0] == 0][0]
            agents = [p for p in children_of(helper) if proc_uids(p)[1] == self.user.pw_uid]
            self.assertTrue(agents)
        finally:
            client.cmd("QUIT")
            client.close()

    def test_wrong_password_is_refused(self):
        with self.daemon.connect() as client:
            self.assertTrue(client.login(PAM_USER, "wrong").startswith("-ERR"))

    def test_expired_account_is_refused(self):
        with self.daemon.connect() as client:
            self.assertTrue(client.login(PAM_EXPIRED, PASSWORD_OTHER).startswith("-ERR"))
        text = "user=%s rip=127.0.0.1 refused: account expired" % PAM_EXPIRED
        self.assertTrue(wait_for(lambda: text in self.daemon.log, timeout=5), self.daemon.log[-2000:])

    def test_root_is_refused_before_pam(self):
        with self.daemon.connect() as client:
            self.assertTrue(client.login("root", "any").startswith("-ERR"))
        self.assertTrue(wait_for(lambda: "user=root rip=127.0.0.1 refused: root"
                                 in self.daemon.log, timeout=5))


PROXY_PAM_USER = "p3tx" + TAG
PROXY_PAM_SERVICE = "pop3d-test-proxy-" + TAG
# pam_access decides by PAM_RHOST: the address a PROXY header gave must be
# the one PAM sees, or this stack lets the denied client in.
DENIED_CLIENT = "192.0.2.77"
ALLOWED_CLIENT = "192.0.2.78"


@unittest.skipUnless(RUNNABLE, SKIP_REASON)
class ProxiedPamTests(unittest.TestCase):
    """Behind a proxy (pop3.proxy_protocol), PAM_RHOST is the header's
    client, not the proxy: the root helper takes the worker's word for it
    only because the socket's peer is a trusted proxy."""

    @classmethod
    def setUpClass(cls):
        cls.dir = __import__("tempfile").mkdtemp(prefix="pop3d-pam-access-")
        cls.addClassCleanup(__import__("shutil").rmtree, cls.dir, True)
        access = os.path.join(cls.dir, "access.conf")
        with open(access, "w") as f:
            f.write("-:ALL:%s\n+:ALL:ALL\n" % DENIED_CLIENT)
        service = os.path.join("/etc/pam.d", PROXY_PAM_SERVICE)
        cls.addClassCleanup(remove_file, service)
        with open(service, "w") as f:
            f.write("auth required pam_unix.so\n"
                    "account required pam_access.so accessfile=%s\n"
                    "account required pam_unix.so\n" % access)
        cls.user = create_user(cls, PROXY_PAM_USER, PASSWORD_OTHER)
        fill_maildir(cls.user, {"p": b"Subject: proxied\n\nbody\n"})
        cls.daemon = Daemon(users={}, settings={
            "auth.backend": "pam",
            "auth.pam_service": PROXY_PAM_SERVICE,
            "auth.mail_location": "%h/Maildir",
            "pop3.proxy_protocol": True,
            "pop3.proxy_trusted_networks": "127.0.0.1",
        })
        cls.addClassCleanup(cls.daemon.cleanup)
        cls.daemon.start()

    def login_as(self, client_address):
        c = harness.RawClient(self.daemon.host, self.daemon.port)
        c.send_raw(("PROXY TCP4 %s 127.0.0.1 40000 110\r\n" % client_address).encode())
        c.read_greeting()
        return c, c.login(PROXY_PAM_USER, PASSWORD_OTHER)

    def test_pam_decides_by_the_proxied_client(self):
        c, reply = self.login_as(DENIED_CLIENT)
        c.close()
        self.assertTrue(reply.startswith("-ERR"), reply)
        text = "user=%s rip=%s refused" % (PROXY_PAM_USER, DENIED_CLIENT)
        self.assertTrue(wait_for(lambda: text in self.daemon.log, timeout=5),
                        self.daemon.log[-2000:])
        c, reply = self.login_as(ALLOWED_CLIENT)
        try:
            self.assertTrue(reply.startswith("+OK"), reply)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()


@unittest.skipUnless(RUNNABLE, SKIP_REASON)
class StartTests(unittest.TestCase):

    def test_system_backend_needs_root(self):
        d = Daemon(users={}, settings={"auth.backend": "system"})
        try:
            d._hand_over()
            r = subprocess.run(["setpriv", "--reuid", str(d.uid), "--regid", str(d.gid),
                                "--clear-groups"] + d.command(),
                               capture_output=True, text=True, timeout=10)
            self.assertEqual(1, r.returncode, r.stderr)
            self.assertIn("needs pop3d to be started as root", r.stderr)
        finally:
            d.cleanup()


if __name__ == "__main__":
    if not RUNNABLE:
        print("test_system_users: skipped: " + SKIP_REASON)
    sys.exit(harness.main())
