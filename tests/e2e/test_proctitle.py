"""End-to-end tests of process titles (issue 17): `ps` shows what each pop3d
process does, "pop3d: master", "pop3d: worker [idle]", "pop3d: worker
[alice 127.0.0.1 TRANSACTION]"; general.verbose_proctitle = false keeps the
user and address out of them; the kernel's short name stays "pop3d", which
is what pidof, pkill -x and logrotate scripts look for."""

import os
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import Daemon, wait_for  # noqa: E402

WAIT = 10.0


def title(pid):
    """What ps shows as the command line of `pid` ("" once it is gone)."""
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            raw = f.read()
    except OSError:
        return ""
    return raw.split(b"\0")[0].decode("latin-1")


def comm(pid):
    with open("/proc/%d/comm" % pid) as f:
        return f.read().strip()


def worker_titles(d):
    return sorted(title(pid) for pid in d.workers())


class ProcTitleTests(unittest.TestCase):
    def titles_become(self, d, wanted):
        """Waits until some worker shows `wanted`; fails with every title."""
        ok = wait_for(lambda: wanted in worker_titles(d), WAIT)
        self.assertTrue(ok, "no worker shows %r: %r\n%s"
                        % (wanted, worker_titles(d), d.diagnostics()))

    def test_titles_follow_the_session(self):
        with Daemon(mail={"alice": {"m1": b"Subject: x\r\n\r\nbody\r\n"}}) as d:
            self.assertEqual("pop3d: master", title(d.pid))
            self.assertEqual("pop3d", comm(d.pid))
            self.assertTrue(wait_for(lambda: d.workers() and all(
                t == "pop3d: worker [idle]" for t in worker_titles(d)), WAIT),
                "workers not idle at start: %r" % worker_titles(d))
            client = d.connect()
            self.titles_become(d, "pop3d: worker [127.0.0.1 AUTHORIZATION]")
            self.assertEqual(["+OK"], [client.cmd("USER alice")[:3]])
            self.assertTrue(client.cmd("PASS " + d.users["alice"]).startswith("+OK"))
            self.titles_become(d, "pop3d: worker [alice 127.0.0.1 TRANSACTION]")
            busy = [pid for pid in d.workers()
                    if title(pid) == "pop3d: worker [alice 127.0.0.1 TRANSACTION]"]
            self.assertEqual(1, len(busy), worker_titles(d))
            self.assertEqual("pop3d", comm(busy[0]))
            self.assertTrue(client.cmd("QUIT").startswith("+OK"))
            client.close()
            self.assertTrue(wait_for(lambda: title(busy[0]) == "pop3d: worker [idle]", WAIT),
                            "the worker still shows %r after QUIT" % title(busy[0]))

    def test_stats_process_says_what_it_is(self):
        stats_port = harness.free_port()
        with Daemon(settings={"stats.listen": "127.0.0.1:%d" % stats_port}) as d:
            self.assertTrue(wait_for(lambda: "pop3d: stats" in worker_titles(d), WAIT),
                            "no stats process among %r" % worker_titles(d))
            stats = [pid for pid in d.workers() if title(pid) == "pop3d: stats"]
            self.assertEqual(1, len(stats))
            self.assertEqual("pop3d", comm(stats[0]))

    def test_quiet_titles_show_neither_user_nor_address(self):
        with Daemon(settings={"general.verbose_proctitle": False}) as d:
            client = d.login("alice")
            self.titles_become(d, "pop3d: worker [TRANSACTION]")
            for t in worker_titles(d) + [title(d.pid)]:
                self.assertNotIn("alice", t)
                self.assertNotIn("127.0.0.1", t)
            client.cmd("QUIT")
            client.close()


if __name__ == "__main__":
    sys.exit(harness.main())
