"""Every password scheme a Dovecot site may have, made by the real
`doveadm pw` (Debian's dovecot-core), written into a passwd-file, and
checked by pop3d over POP3: the right password logs in, a wrong one not."""
import os
import shutil
import subprocess
import sys
import unittest

import harness

PASSWORD = "Corr3ct horse"
# (scheme, extra doveadm arguments)
SCHEMES = [
    ("ARGON2I", []), ("ARGON2ID", []), ("PBKDF2", []), ("PBKDF2", ["-r", "1200"]),
    ("SSHA", []), ("SHA", []), ("SHA1", []), ("SMD5", []), ("PLAIN-MD5", []),
    ("LDAP-MD5", []), ("SHA.HEX", []), ("SSHA.HEX", []), ("SHA1.B64", []),
    ("PLAIN-MD5.B64", []), ("LDAP-MD5.HEX", []), ("SSHA512.HEX", []), ("SMD5.HEX", []),
    ("SCRAM-SHA-1", []), ("SCRAM-SHA-256", []),
]


def doveadm_hash(scheme, extra):
    # -O: no dovecot.conf needed, so the test does not depend on the
    # host's Dovecot configuration.
    out = subprocess.run(["doveadm", "-O", "pw", "-s", scheme, "-p", PASSWORD] + extra,
                         capture_output=True, text=True, timeout=60)
    if out.returncode != 0:
        raise AssertionError("doveadm pw -s %s failed: %s" % (scheme, out.stderr))
    return out.stdout.strip()


class DovecotSchemes(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if shutil.which("doveadm") is None:
            raise unittest.SkipTest("doveadm (Debian's dovecot-core) is not installed")
        cls.hashes = {"u%d" % i: doveadm_hash(s, extra) for i, (s, extra) in enumerate(SCHEMES)}
        cls.daemon = harness.Daemon(users={u: "unused" for u in cls.hashes})
        d = cls.daemon
        with open(d.passwd_path, "w") as f:
            for user, stored in cls.hashes.items():
                f.write("%s:%s:%d:%d::%s::\n" % (user, stored, d.uid, d.gid,
                                                 os.path.join(d.dir, "home", user)))
        d.start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()

    def login(self, user, password):
        with harness.RawClient(self.daemon.host, self.daemon.port) as c:
            c.read_greeting()
            return c.login(user, password)

    def test_every_scheme(self):
        self.assertIn(" 0 users cannot log in", self.daemon.log)
        for i, (scheme, extra) in enumerate(SCHEMES):
            user = "u%d" % i
            with self.subTest(scheme=scheme, extra=extra, stored=self.hashes[user]):
                self.assertTrue(self.login(user, PASSWORD).startswith("+OK"))
                self.assertEqual(self.login(user, PASSWORD + "x"),
                                 "-ERR [AUTH] Authentication failed.")


if __name__ == "__main__":
    sys.exit(harness.main())
