"""Dovecot passwd-file extra fields, end to end: nologin with a reason,
allow_nets (from a second loopback address), userdb_mail, user=, an
unknown field logged once, and a restricting one that blocks its user."""
import os
import sys
import unittest

import harness

FAILED = "-ERR [AUTH] Authentication failed."


class PasswdFields(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        users = {"closed": "pw1", "netted": "pw2", "elsewhere": "pw3", "alias": "pw4",
                 "canon": "pw5", "quota": "pw6", "realnets": "pw7"}
        mail = {"canon": {"canon-msg": b"Subject: canonical\r\n\r\nbody\r\n"},
                "elsewhere": {"default-msg": b"Subject: default\r\n\r\nx\r\n"}}
        cls.daemon = d = harness.Daemon(users=users, mail=mail)
        cls.other = os.path.join(d.dir, "other", "Maildir")
        harness.make_maildir(cls.other, {"other-1": b"Subject: one\r\n\r\n1\r\n",
                                          "other-2": b"Subject: two\r\n\r\n2\r\n"})
        extra = {
            "closed": "nologin reason=Moved_to_mail2.example.org",
            "netted": "allow_nets=127.0.0.1,192.0.2.0/24",
            "elsewhere": "userdb_mail=maildir:" + cls.other,
            "alias": "user=canon",
            "quota": "userdb_quota_rule=*:storage=1G",
            "realnets": "allow_real_nets=127.0.0.0/8",
        }
        with open(d.passwd_path, "w") as f:
            for user, secret in users.items():
                f.write("%s:{PLAIN}%s:%d:%d::%s::%s\n" % (
                    user, secret, d.uid, d.gid, os.path.join(d.dir, "home", user),
                    extra.get(user, "")))
        d.start()

    @classmethod
    def tearDownClass(cls):
        cls.daemon.cleanup()

    def client(self, source=None):
        c = harness.RawClient(self.daemon.host, self.daemon.port, source=source)
        c.read_greeting()
        return c

    def test_nologin_tells_the_reason_only_after_the_right_password(self):
        with self.client() as c:
            self.assertEqual(c.login("closed", "wrong"), FAILED)
        with self.client() as c:
            self.assertEqual(c.login("closed", "pw1"),
                             "-ERR [AUTH] Moved_to_mail2.example.org")
            # Still in AUTHORIZATION: no mailbox was opened.
            self.assertTrue(c.cmd("STAT").startswith("-ERR"))

    def test_allow_nets(self):
        with self.client() as c:
            self.assertTrue(c.login("netted", "pw2").startswith("+OK"))
        with self.client(source="127.0.0.2") as c:
            self.assertEqual(c.login("netted", "pw2"), FAILED)
        with self.client(source="127.0.0.2") as c:
            self.assertEqual(c.login("netted", "nope"), FAILED)
        self.daemon.wait_log(r"netted.*rip=127\.0\.0\.2, reason=client address not in allow_nets")

    def test_userdb_mail_points_elsewhere(self):
        with self.client() as c:
            self.assertTrue(c.login("elsewhere", "pw3").startswith("+OK"))
            self.assertTrue(c.cmd("STAT").startswith("+OK 2 "))

    def test_user_field_gives_the_canonical_users_mail(self):
        with self.client() as c:
            self.assertTrue(c.login("alias", "pw4").startswith("+OK"))
            status, body = c.cmd_multi("RETR 1")
            self.assertTrue(status.startswith("+OK"), status)
            self.assertIn(b"Subject: canonical", body)

    def test_unknown_field_is_logged_once_by_name_and_line(self):
        log = self.daemon.log
        self.assertRegex(log, r"line 6: field userdb_quota_rule is not used by pop3d")
        self.assertNotIn("storage=1G", log)
        with self.client() as c:
            self.assertTrue(c.login("quota", "pw6").startswith("+OK"))

    def test_unknown_restricting_field_blocks_the_user(self):
        self.assertRegex(self.daemon.log,
                         r"line 7: user realnets cannot log in: field allow_real_nets restricts")
        with self.client() as c:
            self.assertEqual(c.login("realnets", "pw7"), FAILED)


if __name__ == "__main__":
    sys.exit(harness.main())
