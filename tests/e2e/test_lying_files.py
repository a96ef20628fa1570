"""End-to-end tests of message files that are not the size the maildrop
listed: a ",W=" in the name that lies, a file rewritten in place after the
size was recorded. RETR must send the file as it is on disk, to its end,
framed correctly; the daemon logs the difference and corrects pop3d.index,
so the next session lists the true size; and a message the client got
less of than LIST promised is never removed at QUIT, DELE or not."""

import os
import re
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, retr_reference  # noqa: E402

ALICE = "alice"
# What a name's ",W=" claims for the long message, far below its real size.
LYING_W = 10


def lf_message(at_least, first="Subject: lying\n\n"):
    """(file bytes, wire size): LF lines, every seventh starting with a
    dot; the size is worked out line by line (each line's text plus CRLF,
    the stuffing dot not counted), not by the server's rule."""
    data, size, i = first.encode(), 0, 0
    for line in first.split("\n")[:-1]:
        size += len(line) + 2
    while len(data) < at_least:
        text = (".line %d" if i % 7 == 3 else "line %d") % i
        data += text.encode() + b"\n"
        size += len(text) + 2
        i += 1
    return data, size


def crlf_message(at_least):
    """A file that is its own wire form (CRLF lines, none starting with a
    dot): its size is its length."""
    data, i = b"Subject: plain\r\n\r\n", 0
    while len(data) < at_least:
        data += b"Line %d of a plain message.\r\n" % i
        i += 1
    return data


def list_sizes(client):
    status, body = client.cmd_multi("LIST")
    assert status.startswith("+OK"), status
    return {int(n): int(s) for n, s in (l.split() for l in body.decode().splitlines())}


class LyingFilesTest(unittest.TestCase):
    def start(self, messages):
        """A daemon whose alice has `messages` ({name: bytes}) in new/."""
        self.d = Daemon(mail={ALICE: messages})
        self.addCleanup(self.d.cleanup)
        self.d.start()
        return self.d

    def path_of(self, base):
        """The one file in alice's maildir whose name starts with `base`."""
        found = [p for p in harness.maildir_files(self.d.maildir(ALICE)) if
                 os.path.basename(p).startswith(base)]
        self.assertEqual(len(found), 1, found)
        return os.path.join(self.d.maildir(ALICE), found[0])

    def test_w_field_below_the_file_size_sends_the_whole_file(self):
        # 300 KiB, more than the daemon reads at a time (128 KiB), so a
        # RETR that stopped at the listed size would end after one chunk.
        data, size = lf_message(300 * 1024)
        self.assertGreater(size, LYING_W)
        base = "1700000100.M1P1.e2ehost,S=%d,W=%d" % (len(data), LYING_W)
        d = self.start({base: data})
        start = len(d.log)
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: LYING_W})
            status, body = c.cmd_multi("RETR 1")
            # The status line repeats what LIST said; the body is all of it.
            self.assertEqual(status, "+OK %d octets" % LYING_W)
            self.assertEqual(len(body), size)
            self.assertEqual(body, retr_reference(data))
            # The reply ended where the message did: the next command is
            # answered, not taken for message text.
            self.assertEqual(c.cmd("NOOP"), "+OK")
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        pattern = (r"^.*maildir %s: new/%s: size differs from the listing: listed %d, "
                   r"file %d octets; pop3d.index corrected$"
                   % (re.escape(d.maildir(ALICE)), re.escape(base), LYING_W, size))
        self.assertTrue(d.wait_log(pattern, start), d.diagnostics())
        self.assertTrue(d.wait_log(r"^.*message 1 size differs from the listing: listed %d, "
                                   r"sent %d octets: user=<alice>" % (LYING_W, size), start),
                        d.diagnostics())
        # The next session lists what the file holds, though its name
        # (now in cur/) still says W=10.
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: size})
            status, body = c.cmd_multi("RETR 1")
            self.assertEqual(status, "+OK %d octets" % size)
            self.assertEqual(body, retr_reference(data))
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        self.assertIn(",W=%d:2," % LYING_W, self.path_of(base))

    def test_top_reads_past_a_lying_w_field(self):
        # A header line longer than one read of the daemon's (128 KiB):
        # TOP stopping at the listed size would cut it.
        long_header = "X-Long: " + "h" * (200 * 1024)
        data, _ = lf_message(len(long_header) + 5000,
                             first="Subject: top\n%s\n\n" % long_header)
        base = "1700000200.M1P1.e2ehost,W=%d" % LYING_W
        d = self.start({base: data})
        with d.login(ALICE) as c:
            status, body = c.cmd_multi("TOP 1 3")
            self.assertTrue(status.startswith("+OK"), status)
            self.assertEqual(body, b"Subject: top\r\n" + long_header.encode() + b"\r\n\r\n"
                                   b"line 0\r\nline 1\r\nline 2\r\n")
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")

    def test_file_rewritten_shorter_is_kept_despite_dele(self):
        long_data, long_size = lf_message(5000)
        other = b"Subject: other\r\n\r\nsent whole\r\n"
        d = self.start({"long": long_data, "other": other})
        with d.login(ALICE) as c:
            # Measured at this login: the sizes are true.
            self.assertEqual(list_sizes(c), {1: long_size, 2: len(other)})
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        long_path = self.path_of(self._base_of(long_data))
        short = b"Subject: lying\r\n\r\ncut\r\n"
        start = len(d.log)
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: long_size, 2: len(other)})
            # Rewritten in place after this session listed it.
            with open(long_path, "r+b") as f:
                f.truncate(0)
                f.write(short)
            status, body = c.cmd_multi("RETR 1")
            self.assertEqual(status, "+OK %d octets" % long_size)
            self.assertEqual(body, short)  # what is there, properly ended
            self.assertEqual(c.cmd("DELE 1"), "+OK Marked to be deleted.")
            status, body = c.cmd_multi("RETR 2")
            self.assertEqual(body, other)
            self.assertEqual(c.cmd("DELE 2"), "+OK Marked to be deleted.")
            quit_reply = c.cmd("QUIT")
            self.assertTrue(quit_reply.startswith("-ERR"), quit_reply)
            self.assertIn("not removed", quit_reply)
        self.assertTrue(d.wait_session_end(harness.LOOPBACK4, start, user=ALICE),
                        d.diagnostics())
        files = harness.maildir_files(d.maildir(ALICE))
        # Message 1 is still there, as it is now; message 2 is gone.
        self.assertEqual(list(files.values()), [short], sorted(files))
        self.assertTrue(d.wait_log(r"^.*message 1 not removed: its RETR was cut short: "
                                   r"user=<alice>$", start), d.diagnostics())
        self.assertTrue(d.wait_log(r"^.*size differs from the listing: listed %d, file %d "
                                   r"octets; pop3d.index corrected$" % (long_size, len(short)),
                                   start), d.diagnostics())
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: len(short)})
            self.assertEqual(c.cmd("DELE 1"), "+OK Marked to be deleted.")
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        # Listed truly now, and never cut short in this session: DELE holds.
        self.assertEqual(harness.maildir_files(d.maildir(ALICE)), {})

    def test_normal_dele_and_quit_still_delete(self):
        data, size = lf_message(3000)
        kept = b"Subject: kept\r\n\r\nstays\r\n"
        d = self.start({"gone": data, "kept": kept})
        start = len(d.log)
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: size, 2: len(kept)})
            status, body = c.cmd_multi("RETR 1")
            self.assertEqual(body, retr_reference(data))
            self.assertEqual(c.cmd("DELE 1"), "+OK Marked to be deleted.")
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        self.assertTrue(d.wait_session_end(harness.LOOPBACK4, start, user=ALICE),
                        d.diagnostics())
        self.assertEqual(list(harness.maildir_files(d.maildir(ALICE)).values()), [kept])
        self.assertNotIn("size differs", d.log[start:])

    def test_plain_file_that_grew_is_not_sent_raw(self):
        # Large enough for sendfile, and its own wire form when measured.
        data = crlf_message(200 * 1024)
        d = self.start({"plain": data})
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: len(data)})
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        path = self.path_of(self._base_of(data))
        # Appended in place: a lone "." line, which sent raw would end the
        # reply early, and a last line without a newline.
        tail = b".\r\nX-Injected: yes\nlast"
        with open(path, "ab") as f:
            f.write(tail)
        grown = data + tail
        start = len(d.log)
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: len(data)})
            status, body = c.cmd_multi("RETR 1")
            self.assertEqual(status, "+OK %d octets" % len(data))
            self.assertEqual(body, retr_reference(grown))
            self.assertEqual(c.cmd("NOOP"), "+OK")
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        # ".": 1+2; "X-Injected: yes": 15+2; "last": 4+2.
        true_size = len(data) + 3 + 17 + 6
        self.assertTrue(d.wait_log(r"^.*size differs from the listing: listed %d, file %d "
                                   r"octets" % (len(data), true_size), start), d.diagnostics())
        with d.login(ALICE) as c:
            self.assertEqual(list_sizes(c), {1: true_size})
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")

    def _base_of(self, data):
        """The base name make_maildir gave the message with these bytes."""
        for rel, content in harness.maildir_files(self.d.maildir(ALICE)).items():
            if content == data:
                return os.path.basename(rel).split(":")[0]
        raise AssertionError("no message with these bytes")


class SystemUserLyingFilesTest(unittest.TestCase):
    """The same correction for a system user (auth.backend = "system"),
    whose maildrop a mail agent opens: the worker finds the size wrong
    while it sends, and must pass that on to the agent, which corrects
    pop3d.index as the user."""

    def test_a_size_found_wrong_reaches_the_agents_index(self):
        import test_system_users as su
        if not su.RUNNABLE:
            self.skipTest(su.SKIP_REASON)
        name = "p3tw" + su.TAG
        password = "Lying-pass-5"
        pw = su.create_user(SystemUserLyingFilesTest, name, password)
        self.addCleanup(su.remove_user, name)
        data, size = lf_message(20 * 1024)
        base = "1700000300.M1P1.e2ehost,S=%d,W=%d" % (len(data), LYING_W)
        su.fill_maildir(pw, {base: data})
        d = Daemon(users={}, settings={"auth.backend": "system",
                                       "auth.mail_location": "%h/Maildir"})
        self.addCleanup(d.cleanup)
        d.start()
        start = len(d.log)
        with d.connect() as c:
            self.assertTrue(c.login(name, password).startswith("+OK"))
            self.assertEqual(list_sizes(c), {1: LYING_W})
            status, body = c.cmd_multi("RETR 1")
            self.assertEqual(body, retr_reference(data))
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        maildir = os.path.join(pw.pw_dir, "Maildir")
        pattern = (r"^.*maildir %s: new/%s: size differs from the listing: listed %d, "
                   r"file %d octets; pop3d.index corrected$"
                   % (re.escape(maildir), re.escape(base), LYING_W, size))
        self.assertTrue(d.wait_log(pattern, start), d.diagnostics())
        # The next session's agent lists what the file holds.
        with d.connect() as c:
            self.assertTrue(c.login(name, password).startswith("+OK"))
            self.assertEqual(list_sizes(c), {1: size})
            self.assertEqual(c.cmd("QUIT"), "+OK Logging out.")
        # The index the agent wrote is the user's, not root's.
        st = os.stat(os.path.join(maildir, "pop3d.index"))
        self.assertEqual(st.st_uid, pw.pw_uid)


if __name__ == "__main__":
    sys.exit(harness.main())
