"""End-to-end test of the installation an administrator makes:
`make install DESTDIR=...` puts the daemon, the sample config, the man
pages, the service files and the fail2ban files in place; the installed
daemon starts with the installed sample config (only ports, paths and the
certificate moved by command-line overrides) and serves mail; a second
install keeps the administrator's edited config."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, retr_reference  # noqa: E402

BUILDDIR = os.environ.get("POP3D_BUILDDIR") or os.path.join(harness.SRCDIR, "build")
MESSAGE = b"From: a@example.org\nSubject: installed\n\n.dot line\nbody\n"


def flatten(tree, prefix=""):
    for key, value in tree.items():
        name = prefix + key
        if isinstance(value, dict):
            yield from flatten(value, name + ".")
        else:
            yield name, value


def find(root, relative_end):
    """The one installed path under `root` ending in `relative_end`."""
    hits = []
    for dirpath, _, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            if path.endswith(relative_end):
                hits.append(path)
    return hits[0] if len(hits) == 1 else None


def make_install(destdir):
    return subprocess.run(["make", "-s", "-C", BUILDDIR, "install", "DESTDIR=" + destdir],
                          capture_output=True, text=True, timeout=300)


class InstalledDaemon(Daemon):
    """The harness's daemon (users, Maildirs, state dir), but run from the
    installed binary with the installed config; every test-specific value
    comes from the command line, which wins over the file."""

    def __init__(self, binary, config, **kwargs):
        super().__init__(**kwargs)
        self.binary = binary
        self.installed_config = config

    def command(self, *extra):
        overrides = []
        for name, value in flatten(self.tree):
            if isinstance(value, bool):
                value = "true" if value else "false"
            overrides.append("--%s=%s" % (name, value))
        return [self.binary, "-f", "-c", self.installed_config] + overrides + list(extra)


@unittest.skipUnless(os.path.exists(os.path.join(BUILDDIR, "Makefile")),
                     "no configured build tree at %s" % BUILDDIR)
class InstallTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.destdir = tempfile.mkdtemp(prefix="pop3d-install-")
        done = make_install(cls.destdir)
        if done.returncode != 0:
            raise AssertionError("make install failed:\n" + done.stdout + done.stderr)
        cls.binary = find(cls.destdir, "/sbin/pop3d")
        cls.config = find(cls.destdir, "/etc/pop3d/pop3d.conf")
        if os.geteuid() == 0:  # the daemon drops to nobody and reads its config then
            os.chmod(cls.destdir, 0o755)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.destdir, ignore_errors=True)

    def test_files_are_in_place(self):
        self.assertTrue(self.binary and os.access(self.binary, os.X_OK), "no sbin/pop3d")
        self.assertTrue(self.config, "no etc/pop3d/pop3d.conf")
        for end in ("/man8/pop3d.8", "/man5/pop3d.conf.5", "/systemd/system/pop3d.service",
                    "/etc/init.d/pop3d", "/fail2ban/filter.d/pop3d.conf",
                    "/fail2ban/jail.d/pop3d.conf", "/logrotate.d/pop3d",
                    "/examples/haproxy/pop3d.cfg"):
            self.assertTrue(find(self.destdir, end), "not installed: *" + end)
        unit = open(find(self.destdir, "/systemd/system/pop3d.service")).read()
        self.assertIn("ExecStart=", unit)
        # The daemon speaks sd_notify: systemd waits for READY=1.
        self.assertIn("Type=notify", unit)
        self.assertNotIn("@sbindir@", unit)
        init = find(self.destdir, "/etc/init.d/pop3d")
        self.assertTrue(os.access(init, os.X_OK))
        self.assertNotIn("@sbindir@", open(init).read())

    def test_installed_sample_config_checks(self):
        done = subprocess.run([self.binary, "-c", self.config, "--print-config"],
                              capture_output=True, text=True, timeout=10)
        self.assertEqual(done.returncode, 0, done.stderr)
        self.assertIn("port = 110;", done.stdout)

    def test_systemd_unit_verifies(self):
        analyze = shutil.which("systemd-analyze")
        if not analyze:
            self.skipTest("systemd-analyze is not installed")
        unit = find(self.destdir, "/systemd/system/pop3d.service")
        done = subprocess.run([analyze, "verify", unit], capture_output=True, text=True,
                              timeout=60)
        # verify also complains that the binary and the man pages are not
        # installed on this host (they are under DESTDIR); only the unit's
        # own syntax and directives are judged here.
        problems = [l for l in done.stderr.splitlines()
                    if "pop3d.service" in l and "not executable" not in l
                    and "Command 'man " not in l]
        self.assertEqual(problems, [], done.stderr)

    def test_installed_daemon_serves_mail(self):
        cert, key = harness.certificate_pair()
        d = InstalledDaemon(self.binary, self.config, mail={"alice": {"m1": MESSAGE}},
                            settings={"pop3.explicit_ssl": True,
                                      "certificates.default.cert_file": cert,
                                      "certificates.default.key_file": key})
        with d:
            client = d.login("alice")
            self.assertTrue(client.cmd("STAT").startswith("+OK 1 "))
            self.assertTrue(client.cmd("RETR 1").startswith("+OK"))
            self.assertEqual(client.read_multiline(), retr_reference(MESSAGE))
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))

    def test_reinstall_keeps_edited_config(self):
        with open(self.config, "a") as f:
            f.write("# edited by the administrator\n")
        done = make_install(self.destdir)
        self.assertEqual(done.returncode, 0, done.stdout + done.stderr)
        self.assertIn("# edited by the administrator", open(self.config).read())


if __name__ == "__main__":
    sys.exit(harness.main())
