"""End-to-end tests of POP3 sessions on Maildir (RFC 1939, 2449, 5034),
against the real daemon, with raw sockets, poplib and curl."""

import base64
import hashlib
import os
import re
import socket
import subprocess
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, retr_reference, top_reference, wait_for  # noqa: E402

# Messages that each stress one rule of RETR: the line ending conversion,
# the final CRLF, dot-stuffing, 8-bit data and NULs, and one line far longer
# than any buffer line.
MESSAGES = {
    "lf": b"From: a@example.org\nSubject: lf endings\n\nline one\nline two\n",
    "crlf": b"From: a@example.org\r\nSubject: crlf endings\r\n\r\nbody one\r\nbody two\r\n",
    "nofinal": b"From: a@example.org\nSubject: no final newline\n\nlast line has none",
    "dots": b"Subject: dots\n\n.starts with a dot\n..two dots\n.\nend\n",
    "binary": b"Subject: 8-bit\n\n\xe4\xf6\xfc\xff 8-bit\n\x00nul\x00 in the middle\n",
    "longline": b"Subject: long line\n\n" + b"x" * 100000 + b"\nshort\n",
}
REFERENCES = {name: retr_reference(data) for name, data in MESSAGES.items()}
ALICE, SECRET = "alice", "secret"
# One AUTHORIZATION-state command line longer than RFC 2449's 255 octets.
LONG_LINE_BYTES = 1000
# More bad commands in a row than any sane server allows (Dovecot: 20).
GARBAGE_COMMANDS = 25
# How long a previous session's maildrop lock may outlive its QUIT before a
# retry gives up; generous, as the daemon may run under ASan on a busy host.
IN_USE_RETRY = harness.SOCKET_TIMEOUT

# Each source address (all on the loopback) is used by one test only, so
# the daemon's summary line for that test's session can be told apart from
# the lines of sessions other tests left behind.
SOURCE_DROPPED_READER = "127.0.0.31"
SOURCE_SECRETS = "127.0.0.32"
SOURCE_FORGERY = "127.0.0.33"

# RETR and LIST as RFC 1939 defines them (multi-line responses with their
# byte-stuffing, LIST's exact size, messages as CRLF lines), worked out by hand
# rather than by a rule a mistake could share with the server's own: case
# name -> (stored bytes, exact bytes of the multi-line body on the wire
# through its last CRLF, i.e. with dot-stuffing and without the ".CRLF"
# terminator, LIST size = octets of the message with CRLF line ends and
# without the stuffing dots).
# The long cases put a line end or a line-starting dot on the edges of the
# server's 64 KiB size-counting and 128 KiB sending chunks.
KIB64, KIB128 = 64 * 1024, 128 * 1024
WIRE_CASES = {
    "lf_no_final": (b"a\nb", b"a\r\nb\r\n", 6),
    "lf": (b"a\nb\n", b"a\r\nb\r\n", 6),
    "crlf": (b"a\r\nb\r\n", b"a\r\nb\r\n", 6),
    "crlf_no_final": (b"a\r\nb", b"a\r\nb\r\n", 6),
    "mixed": (b"one\r\ntwo\nthree\r\n", b"one\r\ntwo\r\nthree\r\n", 5 + 5 + 7),
    "header_no_final": (b"Subject: x\n\nend", b"Subject: x\r\n\r\nend\r\n", 12 + 2 + 5),
    "empty_message": (b"", b"", 0),
    "empty_body": (b"Subject: x\n\n", b"Subject: x\r\n\r\n", 12 + 2),
    "only_newline": (b"\n", b"\r\n", 2),
    "blank_lines": (b"a\n\n\nb\n", b"a\r\n\r\n\r\nb\r\n", 3 + 2 + 2 + 3),
    "dot_first": (b".x\n", b"..x\r\n", 4),
    "dot_only_message": (b".", b"..\r\n", 3),
    "lone_dot_line": (b"a\n.\nb\n", b"a\r\n..\r\nb\r\n", 3 + 3 + 3),
    # A stored CRLF.CRLF must not end the reply early.
    "stored_terminator": (b"a\r\n.\r\nb\r\n", b"a\r\n..\r\nb\r\n", 3 + 3 + 3),
    "two_dots": (b"..x\n", b"...x\r\n", 5),
    "dot_last_no_final": (b"a\n.", b"a\r\n..\r\n", 3 + 3),
    "dot_inside_line": (b"a.b\n x.\n", b"a.b\r\n x.\r\n", 5 + 5),
    # CR the last byte of the first 64 KiB, its LF the first of the next.
    "crlf_across_64k": (b"x" * (KIB64 - 1) + b"\r\ny\r\n",
                        b"x" * (KIB64 - 1) + b"\r\ny\r\n", KIB64 - 1 + 2 + 3),
    # A bare LF as the first byte after 64 KiB, then a dot line.
    "lf_after_64k": (b"x" * KIB64 + b"\n.z\n",
                     b"x" * KIB64 + b"\r\n..z\r\n", KIB64 + 2 + 4),
    # A bare LF as the last byte of the first 128 KiB, a lone dot after it.
    "dot_after_128k": (b"y" * (KIB128 - 1) + b"\n.\n",
                       b"y" * (KIB128 - 1) + b"\r\n..\r\n", KIB128 - 1 + 2 + 3),
    # CRLF split over the 128 KiB edge, then a last line without newline.
    "crlf_across_128k": (b"z" * (KIB128 - 1) + b"\r\nend",
                         b"z" * (KIB128 - 1) + b"\r\nend\r\n", KIB128 - 1 + 2 + 5),
    # Already in wire form and long: may go out unconverted (sendfile).
    "plain_sendable": (b"w" * KIB128 + b"\r\n" + b"v" * 10 + b"\r\n",
                       b"w" * KIB128 + b"\r\n" + b"v" * 10 + b"\r\n", KIB128 + 2 + 12),
}


def b64(data):
    return base64.b64encode(data).decode("ascii")


def ok(reply):
    return reply.startswith("+OK")


def err(reply):
    return reply.startswith("-ERR")


def quit_session(test, client):
    """QUIT, expect +OK, and wait until the server has closed (and so has
    let go of the maildrop)."""
    test.assertTrue(ok(client.cmd("QUIT")))
    test.assertTrue(client.is_closed(), "connection open after QUIT")
    client.close()


def unstuffed(wire):
    """The message a client keeps from a multi-line body (RFC 1939 3: a
    line starting with "." loses that first dot)."""
    return b"".join((l[1:] if l.startswith(b".") else l) + b"\r\n"
                    for l in wire.split(b"\r\n")[:-1])


def retr_all(test, client):
    """{message number: unstuffed RETR body} for the whole maildrop."""
    status = client.cmd("STAT")
    test.assertTrue(ok(status), status)
    count = int(status.split()[1])
    out = {}
    for n in range(1, count + 1):
        status, body = client.cmd_multi("RETR %d" % n)
        test.assertTrue(ok(status), "RETR %d: %s" % (n, status))
        out[n] = body
    return out


def numbers_by_name(test, client):
    """{fixture name: message number}, by content, so the tests do not
    depend on the order the server numbers messages in."""
    bodies = retr_all(test, client)
    by_body = {body: n for n, body in bodies.items()}
    return {name: by_body.get(ref) for name, ref in REFERENCES.items()}


def list_sizes(test, client):
    status, body = client.cmd_multi("LIST")
    test.assertTrue(ok(status), status)
    sizes = {}
    for line in body.decode("ascii").splitlines():
        n, size = line.split()
        sizes[int(n)] = int(size)
    return sizes


def until_not_in_use(action, timeout=IN_USE_RETRY):
    """Runs action() -> (client, reply) again while the reply is [IN-USE]:
    the previous test's session may hold the lock a moment after QUIT."""
    deadline = time.monotonic() + timeout
    while True:
        client, reply = action()
        if "[IN-USE]" not in reply or time.monotonic() >= deadline:
            return client, reply
        client.close()
        time.sleep(0.1)


class SessionTests(unittest.TestCase):
    """One daemon for the tests that leave the maildrop as they found it."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: MESSAGES}, settings={"pop3.max_connections": 6})
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def login(self, source=None):
        return self.d.login(ALICE, SECRET, retry_in_use=IN_USE_RETRY, source=source)

    # -- authorization

    def test_user_pass_logs_in(self):
        c = self.login()
        self.assertTrue(ok(c.cmd("NOOP")))
        quit_session(self, c)

    def test_bad_password_and_unknown_user_get_the_same_reply(self):
        with self.d.connect() as c:
            wrong_password = c.login(ALICE, "not-the-secret")
            unknown_user = c.login("nosuchuser", SECRET)
            self.assertTrue(err(wrong_password), wrong_password)
            self.assertTrue(err(unknown_user), unknown_user)
            self.assertEqual(wrong_password, unknown_user,
                             "replies tell unknown users from wrong passwords")
            # The session goes on: a good login still works.
            reply = c.login(ALICE, SECRET)
            self.assertTrue(ok(reply) or "[IN-USE]" in reply, reply)

    def test_poplib_login_and_stat(self):
        def attempt():
            p = self.d.pop()
            p.user(ALICE)
            try:
                p.pass_(SECRET)
            except Exception as e:  # poplib raises error_proto on -ERR
                p.close()
                if "IN-USE" in str(e):
                    return None
                raise
            return p
        p = wait_for(attempt, IN_USE_RETRY, 0.1)
        self.assertIsNotNone(p)
        count, total = p.stat()
        self.assertEqual(count, len(MESSAGES))
        self.assertEqual(total, sum(len(r) for r in REFERENCES.values()))
        self.assertTrue(p.quit().startswith(b"+OK"))

    def test_empty_maildrop(self):
        c = self.d.login("bob", "hunter2", retry_in_use=IN_USE_RETRY)
        self.assertEqual(c.cmd("STAT").split()[:3], ["+OK", "0", "0"])
        status, body = c.cmd_multi("LIST")
        self.assertTrue(ok(status))
        self.assertEqual(body, b"")
        self.assertTrue(err(c.cmd("RETR 1")))
        quit_session(self, c)

    # -- transaction: listing and retrieval

    def test_stat_counts_every_message_and_octet(self):
        c = self.login()
        status = c.cmd("STAT")
        self.assertRegex(status, r"^\+OK \d+ \d+")
        _, count, total = status.split()[:3]
        self.assertEqual(int(count), len(MESSAGES))
        self.assertEqual(int(total), sum(len(r) for r in REFERENCES.values()))
        quit_session(self, c)

    def test_every_message_is_retrieved_byte_identical(self):
        c = self.login()
        numbers = numbers_by_name(self, c)
        for name in MESSAGES:
            with self.subTest(message=name):
                self.assertIsNotNone(numbers[name],
                                     "no RETR matched the reference of %r" % name)
        quit_session(self, c)

    def test_list_sizes_equal_the_retrieved_length(self):
        c = self.login()
        bodies = retr_all(self, c)
        sizes = list_sizes(self, c)
        self.assertEqual(sorted(sizes), list(range(1, len(MESSAGES) + 1)))
        for n, body in bodies.items():
            self.assertEqual(sizes[n], len(body), "LIST size of message %d" % n)
            self.assertEqual(c.cmd("LIST %d" % n), "+OK %d %d" % (n, len(body)))
        quit_session(self, c)

    def test_dot_stuffing_on_the_wire(self):
        c = self.login()
        n = numbers_by_name(self, c)["dots"]
        self.assertIsNotNone(n)
        c.send("RETR %d" % n)
        self.assertTrue(ok(c.readline()))
        raw = c.read_multiline_raw()
        self.assertEqual(raw, b"Subject: dots\r\n\r\n..starts with a dot\r\n"
                              b"...two dots\r\n..\r\nend\r\n")
        quit_session(self, c)

    def test_uidl_lists_unique_printable_ids(self):
        c = self.login()
        status, body = c.cmd_multi("UIDL")
        self.assertTrue(ok(status), status)
        uids = {}
        for line in body.decode("ascii").splitlines():
            n, uid = line.split(" ")
            uids[int(n)] = uid
        self.assertEqual(sorted(uids), list(range(1, len(MESSAGES) + 1)))
        self.assertEqual(len(set(uids.values())), len(uids), "UIDs repeat")
        for n, uid in uids.items():
            self.assertRegex(uid, r"^[\x21-\x7e]{1,70}$")
            self.assertEqual(c.cmd("UIDL %d" % n), "+OK %d %s" % (n, uid))
        quit_session(self, c)

    def test_uidl_is_the_same_in_the_next_session(self):
        c = self.login()
        first = c.cmd_multi("UIDL")[1]
        first_bodies = retr_all(self, c)
        quit_session(self, c)
        c = self.login()
        self.assertEqual(c.cmd_multi("UIDL")[1], first)
        # The same UID still names the same message.
        self.assertEqual(retr_all(self, c), first_bodies)
        quit_session(self, c)

    def test_top_zero_sends_the_header_only(self):
        c = self.login()
        numbers = numbers_by_name(self, c)
        for name in ("lf", "crlf", "binary"):
            with self.subTest(message=name):
                status, body = c.cmd_multi("TOP %d 0" % numbers[name])
                self.assertTrue(ok(status), status)
                self.assertEqual(body, top_reference(MESSAGES[name], 0))
        quit_session(self, c)

    def test_top_two_sends_two_body_lines(self):
        c = self.login()
        numbers = numbers_by_name(self, c)
        for name in ("dots", "longline", "nofinal"):
            with self.subTest(message=name):
                status, body = c.cmd_multi("TOP %d 2" % numbers[name])
                self.assertTrue(ok(status), status)
                self.assertEqual(body, top_reference(MESSAGES[name], 2))
        quit_session(self, c)

    def test_bad_message_numbers_are_refused_and_the_session_goes_on(self):
        c = self.login()
        for command in ("RETR 0", "RETR -1", "RETR abc", "RETR 999", "LIST 0",
                        "LIST 999", "UIDL 999", "TOP 999 0", "TOP 1 -1", "DELE 0",
                        "DELE abc", "RETR 1 2", "RETR"):
            with self.subTest(command=command):
                self.assertTrue(err(c.cmd(command)))
        self.assertTrue(ok(c.cmd("NOOP")))
        self.assertEqual(c.cmd("STAT").split()[1], str(len(MESSAGES)))
        quit_session(self, c)

    # -- capabilities and SASL

    def test_capa_lists_the_capabilities(self):
        with self.d.connect() as c:
            status, body = c.cmd_multi("CAPA")
            self.assertTrue(ok(status), status)
            caps = {line.split(" ")[0].upper(): line
                    for line in body.decode("latin-1").splitlines()}
            for cap in ("TOP", "UIDL", "USER", "RESP-CODES", "PIPELINING", "SASL",
                        "IMPLEMENTATION"):
                self.assertIn(cap, caps, "CAPA lacks %s" % cap)
            mechanisms = caps["SASL"].upper().split()[1:]
            self.assertIn("PLAIN", mechanisms)
            self.assertIn("LOGIN", mechanisms)

    def auth(self, *steps, source=None):
        """Connects, sends the steps, returns (client, last reply)."""
        def action():
            c = self.d.connect(source=source)
            reply = ""
            for step in steps:
                reply = c.cmd(step)
            return c, reply
        return until_not_in_use(action)

    def test_auth_plain_with_initial_response(self):
        c, reply = self.auth("AUTH PLAIN " + b64(b"\0alice\0secret"))
        self.assertTrue(ok(reply), reply)
        self.assertTrue(ok(c.cmd("STAT")))
        quit_session(self, c)

    def test_auth_plain_with_continuation(self):
        def action():
            c = self.d.connect()
            challenge = c.cmd("AUTH PLAIN")
            self.assertTrue(challenge.startswith("+ ") or challenge == "+", challenge)
            return c, c.cmd(b64(b"\0alice\0secret"))
        c, reply = until_not_in_use(action)
        self.assertTrue(ok(reply), reply)
        self.assertTrue(ok(c.cmd("STAT")))
        quit_session(self, c)

    def test_auth_plain_with_a_wrong_password_fails(self):
        c, reply = self.auth("AUTH PLAIN " + b64(b"\0alice\0wrong"))
        self.assertTrue(err(reply), reply)
        self.assertTrue(err(c.cmd("STAT")), "STAT allowed without login")
        c.close()

    def test_auth_login(self):
        def action():
            c = self.d.connect()
            first = c.cmd("AUTH LOGIN")
            self.assertTrue(first.startswith("+ "), first)
            self.assertEqual(base64.b64decode(first[2:]).lower(), b"username:")
            second = c.cmd(b64(b"alice"))
            self.assertTrue(second.startswith("+ "), second)
            self.assertEqual(base64.b64decode(second[2:]).lower(), b"password:")
            return c, c.cmd(b64(b"secret"))
        c, reply = until_not_in_use(action)
        self.assertTrue(ok(reply), reply)
        self.assertTrue(ok(c.cmd("STAT")))
        quit_session(self, c)

    def test_apop(self):
        def action():
            c = self.d.connect()
            stamp = re.search(r"<[^<>@]+@[^<>]+>", c.greeting)
            self.assertIsNotNone(stamp, "no APOP timestamp in %r" % c.greeting)
            bad = hashlib.md5((stamp.group(0) + "wrong").encode()).hexdigest()
            good = hashlib.md5((stamp.group(0) + SECRET).encode()).hexdigest()
            self.assertTrue(err(c.cmd("APOP alice " + bad)))
            return c, c.cmd("APOP alice " + good)
        c, reply = until_not_in_use(action)
        self.assertTrue(ok(reply), reply)
        self.assertEqual(c.cmd("STAT").split()[1], str(len(MESSAGES)))
        quit_session(self, c)

    # -- robustness

    def test_pipelined_commands_are_answered_in_order(self):
        c = self.login()
        commands = ["NOOP", "STAT", "LIST 1", "UIDL 1", "LIST", "UIDL", "TOP 1 0",
                    "RETR 1", "NOOP", "STAT"]
        multi = ("LIST", "UIDL", "TOP ", "RETR ")
        c.send_raw(b"".join(cmd.encode() + b"\r\n" for cmd in commands))
        replies = []
        for cmd in commands:
            status = c.readline()
            self.assertTrue(ok(status), "%s: %s" % (cmd, status))
            body = c.read_multiline() if cmd.startswith(multi) and cmd not in (
                "LIST 1", "UIDL 1") else None
            replies.append((status, body))
        self.assertEqual(replies[1][0], replies[9][0])
        self.assertRegex(replies[2][0], r"^\+OK 1 \d+")
        self.assertRegex(replies[3][0], r"^\+OK 1 \S+")
        self.assertEqual(int(replies[2][0].split()[2]), len(replies[7][1]))
        self.assertTrue(replies[7][1].startswith(replies[6][1]), "TOP is not RETR's head")
        quit_session(self, c)

    def test_overlong_command_line_is_refused_and_the_session_goes_on(self):
        c = self.login()
        c.send_raw(b"NOOP " + b"x" * (LONG_LINE_BYTES - 5) + b"\r\n")
        self.assertTrue(err(c.readline()))
        self.assertTrue(ok(c.cmd("NOOP")), "the rest of the long line was taken as commands")
        self.assertTrue(ok(c.cmd("STAT")))
        quit_session(self, c)

    def test_garbage_commands_end_the_session(self):
        c = self.d.connect()
        closed = False
        try:
            for i in range(GARBAGE_COMMANDS):
                c.send("XYZZY%d" % i)
                self.assertTrue(err(c.readline()))
        except (harness.ConnectionClosed, ConnectionResetError, BrokenPipeError):
            closed = True
        closed = closed or c.is_closed()
        c.close()
        self.assertTrue(closed, "still open after %d bad commands" % GARBAGE_COMMANDS)

    def test_second_session_on_a_maildrop_gets_in_use(self):
        first = self.login()
        with self.d.connect() as second:
            reply = second.login(ALICE, SECRET)
            self.assertTrue(err(reply) and "[IN-USE]" in reply, reply)
        self.assertTrue(ok(first.cmd("NOOP")))
        self.assertEqual(first.cmd("STAT").split()[1], str(len(MESSAGES)))
        quit_session(self, first)

    def test_messages_in_new_move_to_cur_after_quit(self):
        maildir = self.d.maildir(ALICE)
        path = self.d.deliver(ALICE, b"Subject: fresh\n\nnew mail\n")
        name = os.path.basename(path)
        new_dir, cur_dir = os.path.join(maildir, "new"), os.path.join(maildir, "cur")
        # A dropped session (no QUIT) moves nothing, even after reading it.
        start = len(self.d.log)
        c = self.login(source=SOURCE_DROPPED_READER)
        count = int(c.cmd("STAT").split()[1])
        self.assertTrue(ok(c.cmd("TOP %d 0" % count)))
        self.assertIn(name, os.listdir(new_dir))
        c.close()
        # The summary line comes after the worker has done all it will do
        # for that session.
        ended = self.d.wait_session_end(SOURCE_DROPPED_READER, start, user=ALICE)
        self.assertIsNotNone(ended, "the dropped session never ended\n" + self.d.diagnostics())
        self.assertIn("end=disconnect", ended)
        self.assertIn(name, os.listdir(new_dir))
        self.assertFalse([f for f in os.listdir(cur_dir) if f.startswith(name)])
        # Logged in, it is still in new/; QUIT moves it to cur/.
        c = self.login()
        self.assertEqual(int(c.cmd("STAT").split()[1]), count)
        self.assertIn(name, os.listdir(new_dir))
        quit_session(self, c)
        moved = wait_for(lambda: name not in os.listdir(new_dir)
                         and name + ":2," in os.listdir(cur_dir), harness.SOCKET_TIMEOUT)
        self.assertTrue(moved, "new/: %s" % os.listdir(new_dir))
        # Leave the maildrop as the other tests expect it.
        c = self.login()
        self.assertTrue(ok(c.cmd("DELE %d" % count)))
        quit_session(self, c)
        self.assertNotIn(name + ":2,", os.listdir(cur_dir))

    # -- what reaches the log

    def test_log_never_holds_a_secret(self):
        plain = b64(b"\0alice\0secret")
        start = len(self.d.log)
        c, reply = self.auth("AUTH PLAIN " + plain, source=SOURCE_SECRETS)
        self.assertTrue(ok(reply), reply)
        quit_session(self, c)
        c, reply = self.auth("USER alice", "PASS secret", source=SOURCE_SECRETS)
        self.assertTrue(ok(reply), reply)
        quit_session(self, c)
        with self.d.connect(source=SOURCE_SECRETS) as c:
            self.assertTrue(err(c.login(ALICE, "wrong-secret-xyz")))
            self.assertTrue(ok(c.cmd("QUIT")))
        # A session's summary is the last line a worker writes for it: once
        # all three are out, so is everything logged about these logins.
        # ([IN-USE] retries end as user=- end=disconnect: not counted.)
        source = re.escape(SOURCE_SECRETS)
        logged_in = self.d.wait_log(r"session: client=%s user=alice .*end=quit$" % source, start, 2)
        failed = self.d.wait_log(r"session: client=%s user=- .*end=quit$" % source, start, 1)
        self.assertEqual((len(logged_in), len(failed)), (2, 1),
                         "summary lines missing\n" + self.d.diagnostics())
        log = self.d.log
        self.assertTrue(log, "the log file stays empty")
        # Distinctive strings only: the word "secret" may well be in a
        # legitimate message.
        for secret in ("PASS secret", plain, "wrong-secret-xyz", b64(b"secret")):
            self.assertNotIn(secret, log, "a password reached the log")

    def test_client_bytes_cannot_forge_log_lines(self):
        start = len(self.d.log)
        with self.d.connect(source=SOURCE_FORGERY) as c:
            c.send(b"XCMD \x1b[2J\rFAKE injected line")
            self.assertTrue(err(c.readline()))
            # A failed login logs the name it was tried with.
            c.cmd(b"USER evil\x1b\x07name\x7f")
            self.assertTrue(err(c.cmd("PASS x")))
            self.assertTrue(ok(c.cmd("QUIT")))
        self.assertIsNotNone(self.d.wait_session_end(SOURCE_FORGERY, start),
                             "no summary line for the session\n" + self.d.diagnostics())
        log = self.d.log[start:]
        for byte in ("\x1b", "\x07", "\x7f", "\r"):
            self.assertNotIn(byte, log, "raw control byte %r in the log" % byte)
        self.assertFalse([l for l in log.splitlines() if l.startswith("FAKE")],
                         "a client line started a log line")
        self.assertIn("evil", log, "the failed login was not logged")

    # -- curl as a real client

    def curl(self, path):
        url = "pop3://alice:secret@127.0.0.1:%d/%s" % (self.d.port, path)
        deadline = time.monotonic() + IN_USE_RETRY
        while True:  # the lock of the previous session may linger
            r = subprocess.run(["curl", "-s", "-S", "--max-time", "10", url],
                               capture_output=True, timeout=20)
            if (b"IN-USE" not in r.stderr and r.returncode == 0) or time.monotonic() >= deadline:
                return r
            time.sleep(0.1)

    def test_curl_retrieves_message_one(self):
        c = self.login()
        _, first = c.cmd_multi("RETR 1")
        quit_session(self, c)
        self.assertIn(first, REFERENCES.values())
        r = self.curl("1")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(r.stdout, first)

    def test_curl_lists_the_messages(self):
        c = self.login()
        sizes = list_sizes(self, c)
        quit_session(self, c)
        r = self.curl("")
        self.assertEqual(r.returncode, 0, r.stderr)
        listed = {int(n): int(s) for n, s in
                  (line.split() for line in r.stdout.decode().splitlines())}
        self.assertEqual(listed, sizes)


class ChangingMaildropTests(unittest.TestCase):
    """Each test deletes or delivers, so each gets a daemon of its own."""

    def setUp(self):
        self.d = Daemon(mail={ALICE: MESSAGES})
        self.d.start()

    def tearDown(self):
        self.d.cleanup()

    def on_disk(self):
        return harness.maildir_files(self.d.maildir(ALICE))

    def test_dele_hides_the_message_and_rset_restores_it(self):
        c = self.d.login(ALICE)
        self.assertTrue(ok(c.cmd("DELE 1")))
        self.assertTrue(err(c.cmd("RETR 1")))
        self.assertTrue(err(c.cmd("LIST 1")))
        self.assertTrue(err(c.cmd("DELE 1")), "deleted twice")
        self.assertEqual(c.cmd("STAT").split()[1], str(len(MESSAGES) - 1))
        self.assertTrue(ok(c.cmd("RSET")))
        self.assertEqual(c.cmd("STAT").split()[1], str(len(MESSAGES)))
        self.assertTrue(ok(c.cmd_multi("RETR 1")[0]))
        quit_session(self, c)
        self.assertEqual(len(self.on_disk()), len(MESSAGES))

    def test_quit_removes_deleted_messages_from_disk(self):
        c = self.d.login(ALICE)
        numbers = numbers_by_name(self, c)
        for name in ("lf", "longline"):
            self.assertTrue(ok(c.cmd("DELE %d" % numbers[name])))
        quit_session(self, c)
        left = sorted(retr_reference(d) for d in self.on_disk().values())
        want = sorted(REFERENCES[n] for n in MESSAGES if n not in ("lf", "longline"))
        self.assertEqual(left, want)
        c = self.d.login(ALICE)
        self.assertEqual(c.cmd("STAT").split()[1], str(len(MESSAGES) - 2))
        quit_session(self, c)

    def test_dropped_connection_deletes_nothing(self):
        start = len(self.d.log)
        c = self.d.login(ALICE)
        self.assertTrue(ok(c.cmd("DELE 1")))
        self.assertTrue(ok(c.cmd("DELE 2")))
        c.close()  # no QUIT: RFC 1939 says nothing is removed
        ended = self.d.wait_session_end(harness.LOOPBACK4, start, user=ALICE)
        self.assertIsNotNone(ended, "the dropped session never ended\n" + self.d.diagnostics())
        self.assertIn("end=disconnect", ended)
        self.assertIn(" deleted=0/0 ", ended)
        self.assertEqual(len(self.on_disk()), len(MESSAGES))
        c = self.d.login(ALICE)  # retries [IN-USE] while the server notices
        self.assertEqual(c.cmd("STAT").split()[1], str(len(MESSAGES)))
        quit_session(self, c)
        self.assertEqual(len(self.on_disk()), len(MESSAGES))

    def test_message_delivered_during_a_session_waits_for_the_next(self):
        c = self.d.login(ALICE)
        before = c.cmd("STAT")
        new = b"Subject: late\n\narrived during the session\n"
        self.d.deliver(ALICE, new)
        self.assertEqual(c.cmd("STAT"), before)
        n = len(MESSAGES) + 1
        self.assertTrue(err(c.cmd("LIST %d" % n)))
        self.assertTrue(err(c.cmd("RETR %d" % n)))
        self.assertEqual(len(list_sizes(self, c)), len(MESSAGES))
        quit_session(self, c)
        c = self.d.login(ALICE)
        self.assertEqual(c.cmd("STAT").split()[1], str(n))
        self.assertIn(retr_reference(new), retr_all(self, c).values())
        quit_session(self, c)


class WireFormTests(unittest.TestCase):
    """RETR and LIST against WIRE_CASES, byte strings worked out by hand
    from RFC 1939. Each case is the one message of a user of its own, so
    the expectation names no message number and needs no matching."""

    @classmethod
    def setUpClass(cls):
        cls.users = {"w%02d" % i: "pw%02d" % i for i in range(len(WIRE_CASES))}
        cls.user_of = dict(zip(WIRE_CASES, cls.users))
        mail = {cls.user_of[name]: {name: stored}
                for name, (stored, _, _) in WIRE_CASES.items()}
        cls.d = Daemon(users=cls.users, mail=mail)
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def test_retr_sends_the_hand_worked_bytes_and_list_their_size(self):
        for name, (stored, wire, size) in WIRE_CASES.items():
            with self.subTest(case=name):
                user = self.user_of[name]
                c = self.d.login(user, self.users[user], retry_in_use=IN_USE_RETRY)
                try:
                    self.assertEqual(c.cmd("STAT").split()[:3], ["+OK", "1", str(size)])
                    self.assertEqual(c.cmd("LIST 1"), "+OK 1 %d" % size)
                    status, listing = c.cmd_multi("LIST")
                    self.assertTrue(ok(status), status)
                    self.assertEqual(listing, b"1 %d\r\n" % size)
                    self.assertTrue(ok(c.cmd("RETR 1")))
                    got = c.read_multiline_raw()
                    self.assertEqual(len(got), len(wire), "RETR sent %d octets, not %d"
                                     % (len(got), len(wire)))
                    self.assertEqual(got, wire)
                    # The reply ended where the terminator said: nothing of
                    # the message is left to be taken as the next reply.
                    self.assertEqual(c.buf, b"")
                    self.assertEqual(c.cmd("NOOP"), "+OK")
                    quit_session(self, c)
                finally:
                    c.close()

    def test_retr_reference_agrees_with_the_hand_worked_bytes(self):
        # The other tests compare RETR with harness.retr_reference in bulk;
        # this holds that rule to the same hand-worked answers.
        for name, (stored, wire, size) in WIRE_CASES.items():
            with self.subTest(case=name):
                self.assertEqual(retr_reference(stored), unstuffed(wire))
                self.assertEqual(len(retr_reference(stored)), size)


class TimeoutTests(unittest.TestCase):
    """Short time-outs set on the command line."""

    TIMEOUT = 2
    # The daemon's clock is in milliseconds; this much earlier than
    # configured still counts as on time.
    CLOCK_SLACK = 0.1

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon(mail={ALICE: {"m": b"Subject: t\n\nx\n"}},
                       args=["--pop3.idle_timeout=%d" % cls.TIMEOUT,
                             "--pop3.login_timeout=%d" % cls.TIMEOUT])
        cls.d.start()

    @classmethod
    def tearDownClass(cls):
        cls.d.cleanup()

    def expect_timeout(self, c, began, source, log_start):
        """`began` was taken before the daemon could start the clock that
        times out, so a time-out on time is never seen early, however slow
        the machine; how late it may come is bounded only to keep a broken
        daemon from hanging the suite."""
        c.settimeout(self.TIMEOUT + harness.SOCKET_TIMEOUT)
        try:
            line = c.readline()
        except harness.ConnectionClosed:
            self.fail("closed without a -ERR line")
        except socket.timeout:
            self.fail("no time-out reply %d s after a %d s time-out"
                      % (harness.SOCKET_TIMEOUT, self.TIMEOUT))
        elapsed = time.monotonic() - began
        self.assertTrue(err(line), line)
        self.assertTrue(c.is_closed(), "still open after the time-out reply")
        self.assertGreaterEqual(elapsed, self.TIMEOUT - self.CLOCK_SLACK,
                                "timed out after %.2f s of %d s" % (elapsed, self.TIMEOUT))
        ended = self.d.wait_session_end(source, log_start)
        self.assertIsNotNone(ended, "no summary line\n" + self.d.diagnostics())
        self.assertIn("end=timeout", ended)

    def test_login_timeout_ends_an_idle_unauthenticated_session(self):
        source, log_start = "127.0.0.41", len(self.d.log)
        began = time.monotonic()
        with self.d.connect(source=source) as c:
            self.expect_timeout(c, began, source, log_start)

    def test_idle_timeout_ends_an_idle_session(self):
        source, log_start = "127.0.0.42", len(self.d.log)
        with self.d.login(ALICE, retry_in_use=IN_USE_RETRY, source=source) as c:
            began = time.monotonic()  # the NOOP restarts the idle clock
            self.assertTrue(ok(c.cmd("NOOP")))
            self.expect_timeout(c, began, source, log_start)


class FailureDelayTests(unittest.TestCase):
    """Unknown users and wrong passwords get the same answer after the same
    auth.failure_delay (one delay each, not none and not two), and a good
    login gets none. The delay is long so that a slow machine cannot make
    a right answer look wrong: each failure must take at least DELAY and
    less than 2 * DELAY, a good login less than DELAY."""

    DELAY = 2.0
    CLOCK_SLACK = 0.1

    def test_unknown_user_and_wrong_password_take_equal_time(self):
        with Daemon(settings={"auth.failure_delay": "%ds" % self.DELAY}) as d:
            def timed(user, password):
                with d.connect() as c:
                    self.assertTrue(ok(c.cmd("USER " + user)))
                    start = time.monotonic()
                    reply = c.cmd("PASS " + password)
                    return reply, time.monotonic() - start
            wrong, t_wrong = timed(ALICE, "wrong")
            unknown, t_unknown = timed("nosuchuser", "wrong")
            good, t_good = timed(ALICE, SECRET)
        sys.stderr.write("\n  failure delay %.1f s: wrong password %.3f s, unknown user %.3f s, "
                         "good login %.3f s\n" % (self.DELAY, t_wrong, t_unknown, t_good))
        self.assertTrue(err(wrong), wrong)
        self.assertEqual(wrong, unknown)
        for what, took in (("wrong password", t_wrong), ("unknown user", t_unknown)):
            self.assertGreaterEqual(took, self.DELAY - self.CLOCK_SLACK,
                                    "%s answered before the delay" % what)
            self.assertLess(took, 2 * self.DELAY, "%s delayed more than once" % what)
        self.assertTrue(ok(good), good)
        self.assertLess(t_good, self.DELAY, "a good login was delayed")


if __name__ == "__main__":
    sys.exit(harness.main())
