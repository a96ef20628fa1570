"""Debian's Dovecot as a peer on the same Maildirs as the pop3d under test:
started on a loopback port with a throw-away config, and its own tools
(doveadm, dovecot-lda) run with that config. Shared by the suites that
check pop3d against what Dovecot does and reads."""

import os
import shutil
import signal
import subprocess
import tempfile
import time

import harness
from harness import RawClient

LDA = "/usr/lib/dovecot/dovecot-lda"


def installed():
    """Why Dovecot cannot be run here, or None when it can."""
    if shutil.which("dovecot") is None:
        return "Dovecot is not installed (scripts/deps installs dovecot-pop3d)"
    if os.geteuid() != 0:
        return "starting Dovecot with its own config needs root"
    return None


class Dovecot:
    """Debian's Dovecot on a loopback port with a throw-away config: the same
    passwd file and Maildirs as the pop3d under test, Dovecot's default UIDL
    format, pop3_lock_session as a site moving to pop3d would have it.
    `extra_config` is appended to that config (a suite's plugins)."""

    def __init__(self, daemon, extra_config=""):
        self.dir = tempfile.mkdtemp(prefix="pop3d-e2e-dovecot-")
        os.chmod(self.dir, 0o755)
        self.port = harness.free_port()
        self.log_path = os.path.join(self.dir, "dovecot.log")
        self.conf = os.path.join(self.dir, "dovecot.conf")
        for sub in ("run", "state"):
            os.makedirs(os.path.join(self.dir, sub))
        with open(self.conf, "w") as f:
            f.write("""base_dir = %(dir)s/run
state_dir = %(dir)s/state
instance_name = pop3d-e2e-%(port)d
protocols = pop3
listen = 127.0.0.1
log_path = %(log)s
default_internal_user = dovecot
default_login_user = dovenull
first_valid_uid = 1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain
passdb {
  driver = passwd-file
  args = username_format=%%u %(passwd)s
}
userdb {
  driver = passwd-file
  args = username_format=%%u %(passwd)s
}
mail_location = maildir:%(mail)s/%%u/Maildir
pop3_uidl_format = %%08Xu%%08Xv
pop3_lock_session = yes
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = %(port)d
  }
}
""" % dict(dir=self.dir, port=self.port, log=self.log_path, passwd=daemon.passwd_path,
           mail=os.path.join(daemon.dir, "mail")))
            f.write(extra_config)
        self.proc = None

    def start(self):
        self.proc = subprocess.Popen(["dovecot", "-F", "-c", self.conf],
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(self.dir, "stderr"), "wb"),
                                     start_new_session=True)
        deadline = time.monotonic() + harness.START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("dovecot exited with %s: %s"
                                     % (self.proc.returncode, self.read("stderr")))
            try:
                with RawClient("127.0.0.1", self.port) as c:
                    c.read_greeting()
                    return
            except OSError:
                time.sleep(0.05)
        raise AssertionError("dovecot did not listen on %d" % self.port)

    def stop(self):
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(harness.SOCKET_TIMEOUT)
            except subprocess.TimeoutExpired:
                pass
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.proc.wait()
        self.proc = None

    def read(self, name):
        try:
            with open(os.path.join(self.dir, name), errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def cleanup(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def login(self, user, password):
        c = RawClient("127.0.0.1", self.port)
        c.read_greeting()
        status = c.login(user, password)
        if not str(status).startswith("+OK"):
            c.close()
            raise AssertionError("dovecot refused the login: %s\n%s" % (status, self.read("dovecot.log")))
        return c

    def run(self, argv, data=None):
        """Runs one of Dovecot's own tools (argv[0]: "doveadm", or a path
        such as LDA) with this config; returns the CompletedProcess. The
        running Dovecot answers their user lookups."""
        return subprocess.run([argv[0], "-c", self.conf] + list(argv[1:]), input=data,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              timeout=harness.START_TIMEOUT)

    def deliver(self, user, data):
        """Delivers `data` with Dovecot's own delivery agent, as a site's MTA
        would run it; -e: a refusal is an exit code and a line on stderr, no
        bounce mail. Returns the CompletedProcess."""
        return self.run([LDA, "-e", "-d", user, "-f", "sender@example.org"], data)
