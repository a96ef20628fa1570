#!/usr/bin/env python3
"""Maildirs on shared storage (mailstore.shared_storage): two pop3d nodes,
each on its own FUSE mount of one real GlusterFS volume (replicated over two
bricks), so each has its own client and attribute cache, as separate hosts
would.

Shown: mail delivered through one node's mount is served by the next login
through the other, at once, although that node's cache still reports the
folder's old modification time; a maildrop open through one node is
[IN-USE] through the other; a QUIT through one node is seen by the other.
Needs root, /dev/fuse and Debian's glusterfs-server and glusterfs-client."""

import os
import sys
import time
import unittest

import gluster_peer
import harness
from harness import Daemon

ALICE, SECRET = "alice", "secret"
WHY_NOT = gluster_peer.missing()


def chown_tree(path, uid, gid):
    for root, dirs, files in os.walk(path):
        os.chown(root, uid, gid)
        for name in files:
            os.chown(os.path.join(root, name), uid, gid)


@unittest.skipIf(WHY_NOT is not None, WHY_NOT or "")
class TwoNodesOneVolume(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        cls.volume = gluster_peer.GlusterVolume(mounts=2)
        cls.addClassCleanup(cls.volume.close)
        cls.volume.start()
        cls.nodes = []
        for mount in cls.volume.mounts:
            d = Daemon(users={ALICE: SECRET}, settings={
                "auth.mail_location": os.path.join(mount, "mail", "%u", "Maildir")})
            cls.addClassCleanup(d.cleanup)
            cls.nodes.append(d)
        first = cls.nodes[0]
        cls.maildir = [os.path.join(m, "mail", ALICE, "Maildir") for m in cls.volume.mounts]
        harness.make_maildir(cls.maildir[0], {"m1": b"Subject: one\r\n\r\nfirst\r\n"})
        chown_tree(os.path.join(cls.volume.mounts[0], "mail"), first.uid, first.gid)
        for d in cls.nodes:
            d.start()

    def deliver_through(self, node, name, body):
        """An MTA on `node`'s host: tmp/, then a rename into new/."""
        d = self.nodes[node]
        path = harness.make_maildir(self.maildir[node], {name: body})[name]
        os.chown(path, d.uid, d.gid)
        return path

    def settle(self):
        """Folder times a minute old, through node 0's mount, and both
        mounts' caches given time to see them: a local disk's index would
        now trust them."""
        past = time.time() - 60
        for folder in ("cur", "new"):
            os.utime(os.path.join(self.maildir[0], folder), (past, past))
        time.sleep(2)  # longer than GlusterFS's 1 s attribute cache

    def uidls(self, node):
        c = self.nodes[node].login(ALICE, SECRET)
        try:
            status, body = c.cmd_multi("UIDL")
            self.assertTrue(status.startswith("+OK"), status)
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
            return [line.split()[1] for line in body.decode().splitlines()]
        finally:
            c.close()

    def test_mail_delivered_through_one_node_is_served_through_the_other(self):
        # Node 0 lists folders that had settled, and its index records
        # their times (a local disk's next login would list nothing). The
        # first login may move new/ mail to cur/, which makes both fresh:
        # settle, and list once more.
        for _ in range(2):
            self.settle()
            before = self.uidls(0)
        # Node 1's delivery; node 0's cache still shows new/'s old time.
        path = self.deliver_through(1, "fresh", b"Subject: two\r\n\r\nsecond\r\n")
        name = os.path.basename(path)
        after = self.uidls(0)
        new = [u for u in after if u not in before]
        self.assertEqual(len(after), len(before) + 1, (before, after))
        self.assertEqual(len(new), 1, (before, after))
        self.assertTrue(name.startswith(new[0]), (name, new))

    def test_a_maildrop_open_through_one_node_is_in_use_through_the_other(self):
        holder = self.nodes[0].login(ALICE, SECRET)
        try:
            with self.nodes[1].connect() as c:
                reply = c.login(ALICE, SECRET)
                self.assertTrue(reply.startswith("-ERR [IN-USE]"), reply)
        finally:
            holder.cmd("QUIT")
            holder.close()
        # Free again once the holder has quit.
        self.assertTrue(self.uidls(1))

    def test_a_quit_through_one_node_is_seen_through_the_other(self):
        self.deliver_through(0, "gone", b"Subject: to delete\r\n\r\nx\r\n")
        uidls = self.uidls(1)
        c = self.nodes[1].login(ALICE, SECRET)
        try:
            n = len(uidls)
            self.assertTrue(c.cmd("DELE %d" % n).startswith("+OK"))
            self.assertTrue(c.cmd("QUIT").startswith("+OK"))
        finally:
            c.close()
        self.assertEqual(self.uidls(0), uidls[:-1])


if __name__ == "__main__":
    if WHY_NOT is not None:
        print("test_shared_storage: skipped: " + WHY_NOT)
    sys.exit(harness.main())
