"""A real GlusterFS volume for the end-to-end suites: one glusterd of the
test's own (its working directory in a temp dir, listening on 127.0.0.2
only), a volume replicated over two bricks in that temp dir, and any number
of FUSE mounts of it. Each mount is its own GlusterFS client with its own
caches, as separate hosts would have: a directory changed through one mount
shows its new modification time through another only when that mount's
attribute cache expires (about a second), while a listing shows the change
at once. That is the behaviour pop3d's shared-storage mode is for.

GlusterFS refuses 127.0.0.1 and "localhost" as brick hosts, so the volume
lives on 127.0.0.2, still loopback. glusterd's own port is the protocol's
24007 (the bricks find their glusterd there, whatever glusterd.vol says);
the bricks take ports from a high range of this module's. Everything is
stopped by PID (and the mounts unmounted) when the volume is closed.

Needs root, /dev/fuse and Debian's glusterfs-server and glusterfs-client;
missing() says which of these the machine lacks.
"""

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time

HOST = "127.0.0.2"
GLUSTERD_PORT = 24007
BRICK_PORTS = (35100, 35199)


def missing():
    """Why a volume cannot be made here, or None."""
    if os.geteuid() != 0:
        return "GlusterFS needs root (glusterd, FUSE mounts)"
    if not os.path.exists("/dev/fuse"):
        return "/dev/fuse is missing (GlusterFS mounts over FUSE)"
    for tool in ("glusterd", "gluster", "mount.glusterfs"):
        if shutil.which(tool) is None and not os.path.exists("/usr/sbin/" + tool) \
                and not os.path.exists("/sbin/" + tool):
            return "%s is not installed (Debian packages glusterfs-server, glusterfs-client)" % tool
    with socket.socket() as s:
        try:
            s.bind((HOST, GLUSTERD_PORT))
        except OSError:
            return "port %s:%d is taken (another glusterd?)" % (HOST, GLUSTERD_PORT)
    return None


def _run(*cmd, timeout=60):
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                       timeout=timeout)
    if r.returncode != 0:
        raise RuntimeError("%s failed (%d): %s %s" % (" ".join(cmd), r.returncode,
                                                       r.stdout, r.stderr))
    return r.stdout


class GlusterVolume:
    """with GlusterVolume(mounts=3) as v: v.mounts[i] is the i-th mount."""

    def __init__(self, mounts=2, name=None):
        self.dir = tempfile.mkdtemp(prefix="pop3d-gluster-")
        # The daemons under test run unprivileged and reach the mounts
        # through this folder.
        os.chmod(self.dir, 0o755)
        self.name = name or "p3v%d" % (os.getpid() % 100000)
        self.wanted_mounts = mounts
        self.mounts = []
        self.glusterd = None
        self.started = False

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def start(self):
        work = os.path.join(self.dir, "glusterd")
        os.makedirs(work)
        vol = os.path.join(self.dir, "glusterd.vol")
        with open(vol, "w") as f:
            f.write("""volume management
    type mgmt/glusterd
    option working-directory %s
    option transport-type socket
    option transport.socket.listen-port %d
    option transport.socket.bind-address %s
    option ping-timeout 0
    option event-threads 1
    option base-port %d
    option max-port %d
end-volume
""" % (work, GLUSTERD_PORT, HOST, BRICK_PORTS[0], BRICK_PORTS[1]))
        self.log = open(os.path.join(self.dir, "glusterd.out"), "wb")
        self.glusterd = subprocess.Popen(
            ["glusterd", "-N", "-f", vol, "-l", os.path.join(self.dir, "glusterd.log")],
            stdin=subprocess.DEVNULL, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            r = subprocess.run(["gluster", "--mode=script", "pool", "list"], capture_output=True,
                               text=True, timeout=30)
            if r.returncode == 0:
                break
            if self.glusterd.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("glusterd did not come up: %s" % self.diagnostics())
            time.sleep(0.2)
        bricks = []
        for i in (1, 2):
            b = os.path.join(self.dir, "brick%d" % i)
            os.makedirs(b)
            bricks.append("%s:%s" % (HOST, b))
        _run("gluster", "--mode=script", "volume", "create", self.name, "replica", "2",
             *bricks, "force")
        _run("gluster", "--mode=script", "volume", "start", self.name)
        self.started = True
        for i in range(self.wanted_mounts):
            m = os.path.join(self.dir, "mount%d" % i)
            os.makedirs(m)
            _run("mount", "-t", "glusterfs", "%s:/%s" % (HOST, self.name), m)
            self.mounts.append(m)

    def brick_pids(self):
        pids = []
        for run_dir in ("/var/run/gluster/vols/%s" % self.name,
                        "/var/run/gluster/shd/%s" % self.name):
            for name in os.listdir(run_dir) if os.path.isdir(run_dir) else []:
                if name.endswith(".pid"):
                    try:
                        with open(os.path.join(run_dir, name)) as f:
                            pids.append(int(f.read().strip()))
                    except (OSError, ValueError):
                        pass
        return pids

    def diagnostics(self):
        try:
            with open(os.path.join(self.dir, "glusterd.log"), errors="replace") as f:
                return f.read()[-3000:]
        except OSError:
            return "(no glusterd log)"

    def close(self):
        for m in reversed(self.mounts):
            subprocess.run(["umount", "-l", m], capture_output=True, timeout=30)
        self.mounts = []
        if self.started:
            subprocess.run(["gluster", "--mode=script", "volume", "stop", self.name, "force"],
                           capture_output=True, timeout=60)
            subprocess.run(["gluster", "--mode=script", "volume", "delete", self.name],
                           capture_output=True, timeout=60)
            self.started = False
        # The bricks and the self-heal daemon are glusterd's children in
        # name only (they daemonize): stop them by their pid files too.
        for pid in self.brick_pids():
            try:
                os.kill(pid, signal.SIGKILL)
            except OSError:
                pass
        if self.glusterd is not None:
            if self.glusterd.poll() is None:
                self.glusterd.terminate()
                try:
                    self.glusterd.wait(10)
                except subprocess.TimeoutExpired:
                    self.glusterd.kill()
                    self.glusterd.wait()
            self.log.close()
            self.glusterd = None
        shutil.rmtree(self.dir, ignore_errors=True)
