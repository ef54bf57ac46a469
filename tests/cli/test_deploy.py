#!/usr/bin/env python3
"""The daemon as a service manager and an administrator run it: readiness
and shutdown notifications (NOTIFY_SOCKET), socket activation (LISTEN_FDS,
LISTEN_FDNAMES) and --fd, --print-capabilities, the seccomp filter and
no_new_privs, syslog priorities on the journal's stream, and (as root) a
daemon without privilege whose sockets a group of other users can reach.

Usage: test_deploy.py path/to/vhost-device-vsock     (TAP on stdout)
"""
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

DAEMON = os.path.realpath(sys.argv[1])
TIMEOUT = 10
NOBODY, NOGROUP = 65534, 65534
SOCK_GROUP = 4242  # the group of the socket files in the non-root case
results = []


def check(name, ok, detail=""):
    results.append((name, ok, detail))


def recv_exact(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise EOFError("connection closed")
        data += chunk
    return data


def vhost_user_features(path):
    """GET_FEATURES over the vhost-user socket at path: served or not."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(TIMEOUT)
        s.connect(path)
        s.sendall(struct.pack("<III", 1, 1, 0))
        request, flags, size = struct.unpack("<III", recv_exact(s, 12))
        (features,) = struct.unpack("<Q", recv_exact(s, size))
        return request == 1 and flags & 0x4 and features


class Daemon:
    """The daemon with a notification socket of its own.  fds: listening
    sockets it inherits as 3, 4, ... (socket activation, --fd)."""

    def __init__(self, workdir, args, env=None, fds=(), wrapper=()):
        self.notify_path = os.path.join(workdir, "notify")
        self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.notify.bind(self.notify_path)
        os.chmod(self.notify_path, 0o777)
        self.log_path = os.path.join(workdir, "daemon.log")
        full_env = dict(os.environ, NOTIFY_SOCKET=self.notify_path, **(env or {}))
        sources = [s.fileno() for s in fds]

        def move_fds():  # in the child: sources to 3, 4, ...
            high = [os.dup(fd) for fd in sources]
            for i, fd in enumerate(high):
                os.dup2(fd, 3 + i)

        # sh -c exec: LISTEN_PID must be the daemon's pid.
        cmd = list(wrapper) + ["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', DAEMON] + args
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=full_env, stderr=log, preexec_fn=move_fds,
                                         pass_fds=tuple(range(3, 3 + len(sources))))

    def messages(self, want, timeout=TIMEOUT):
        """Notifications until one holds want (or the daemon exits)."""
        got = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.notify.settimeout(0.1)
            try:
                msg = self.notify.recv(4096).decode()
            except socket.timeout:
                if self.proc.poll() is not None:
                    break
                continue
            got.append(msg)
            if want in msg.split("\n"):
                break
        return got

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(TIMEOUT)

    def log(self):
        with open(self.log_path, encoding="utf-8", errors="replace") as f:
            return f.read()

    def close(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.notify.close()


def listener(path, kind=socket.SOCK_STREAM):
    s = socket.socket(socket.AF_UNIX, kind)
    s.bind(path)
    s.listen(8)
    return s


def proc_status(pid):
    fields = {}
    with open(f"/proc/{pid}/status", encoding="utf-8") as f:
        for line in f:
            key, _, value = line.partition(":")
            fields[key] = value.strip()
    return fields


def test_capabilities(_):
    out = subprocess.run([DAEMON, "--print-capabilities", "--guest-cid", "bad"],
                         capture_output=True, text=True, timeout=TIMEOUT)
    try:
        caps = json.loads(out.stdout)
    except ValueError:
        caps = None
    check("--print-capabilities: the schema's object, exit 0",
          out.returncode == 0 and caps == {"type": "vsock", "features": []}, out.stdout + out.stderr)


def test_ready_status_stopping(d):
    args = ["--vm", f"guest-cid=3,socket={d}/v3.sock,uds-path={d}/vm3.vsock",
            "--vm", f"guest-cid=4,socket={d}/v4.sock,uds-path={d}/vm4.vsock"]
    daemon = Daemon(d, args)
    try:
        got = daemon.messages("READY=1")
        ready = got and "READY=1" in got[-1].split("\n")
        check("READY=1 with STATUS naming the VMs served",
              ready and "STATUS=serving 2 VM(s)" in got[-1].split("\n"), f"{got} {daemon.log()}")
        # Ready means every socket already accepts connections.
        check("at READY=1 every vhost-user socket serves",
              ready and vhost_user_features(f"{d}/v3.sock") and
              vhost_user_features(f"{d}/v4.sock"), daemon.log())
        status = proc_status(daemon.proc.pid)
        check("seccomp filter and no_new_privs by default",
              status.get("Seccomp") == "2" and status.get("NoNewPrivs") == "1", str(status))
        daemon.proc.send_signal(signal.SIGTERM)
        got = daemon.messages("STOPPING=1")
        rc = daemon.proc.wait(TIMEOUT)
        check("SIGTERM: STOPPING=1, exit 0",
              got and "STOPPING=1" in got[-1].split("\n") and rc == 0, f"{got} rc={rc}")
    finally:
        daemon.close()


def test_seccomp_modes(d):
    for mode, want in (("none", "0"), ("log", "2")):
        daemon = Daemon(d, ["--socket", f"{d}/s.sock", "--uds-path", f"{d}/u.vsock",
                            "--seccomp", mode])
        try:
            ready = daemon.messages("READY=1")
            status = proc_status(daemon.proc.pid)
            check(f"--seccomp {mode}: Seccomp: {want}",
                  ready and status.get("Seccomp") == want and daemon.stop() == 0,
                  f"{status.get('Seccomp')} {daemon.log()}")
        finally:
            daemon.close()
        os.unlink(daemon.notify_path)


def test_socket_activation(d):
    vhost, uds = listener(f"{d}/v3.sock"), listener(f"{d}/vm3.vsock")
    seq = listener(f"{d}/vm3.vsock_seqpacket", socket.SOCK_SEQPACKET)
    files = ("v3.sock", "vm3.vsock", "vm3.vsock_seqpacket")
    inodes = [os.stat(f"{d}/{f}").st_ino for f in files]
    env = {"LISTEN_FDS": "3", "LISTEN_FDNAMES": "vm3.vsock:v3.sock:vm3.vsock_seqpacket"}
    daemon = Daemon(d, ["--socket", f"{d}/v3.sock", "--uds-path", f"{d}/vm3.vsock"], env,
                    fds=(uds, vhost, seq))
    try:
        ready = daemon.messages("READY=1")
        check("socket activation: matched by name, served",
              ready and vhost_user_features(f"{d}/v3.sock"), daemon.log())
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as c:
            c.settimeout(TIMEOUT)
            c.connect(f"{d}/vm3.vsock")
            c.sendall(b"HELLO\n")
            # Not a CONNECT line: the daemon reads it and closes the connection.
            closed = c.recv(64) == b""
        check("socket activation: the uds-path listener is the daemon's", closed)
        with socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET) as c:
            c.settimeout(TIMEOUT)
            c.connect(f"{d}/vm3.vsock_seqpacket")
            c.sendall(b"CONNECT 5\nmore")  # not the line alone: closed
            closed = c.recv(64) == b""
        check("socket activation: the seqpacket listener is the daemon's", closed)
        rc = daemon.stop()
        kept = [os.stat(f"{d}/{f}").st_ino for f in files] == inodes
        check("socket activation: inherited socket files are left to their owner",
              rc == 0 and kept, f"rc={rc} {daemon.log()}")
    finally:
        daemon.close()
        vhost.close()
        uds.close()
        seq.close()
    for f in files + ("notify",):
        os.unlink(f"{d}/{f}")


def test_activation_errors(d):
    os.mkdir(f"{d}/elsewhere")
    one_vm = ["--socket", f"{d}/v3.sock", "--uds-path", f"{d}/vm3.vsock"]
    two_vms = ["--vm", f"guest-cid=3,socket={d}/v3.sock,uds-path={d}/vm3.vsock",
               "--vm", f"guest-cid=4,socket={d}/elsewhere/v3.sock,uds-path={d}/vm4.vsock"]
    # (what, LISTEN_FDNAMES, sockets passed, daemon arguments, the reason it gives)
    cases = [
        ("a name no VM socket has", "other.sock", [f"{d}/v3.sock"], one_vm,
         "fd 3 'other.sock' names no VM socket (the names are the file names of the "
         "sockets and uds-paths: v3.sock, vm3.vsock, vm3.vsock_seqpacket); set "
         "FileDescriptorName= in the socket unit"),
        ("no names at all", None, [f"{d}/v3.sock"], one_vm,
         "fd 3 'unknown' names no VM socket"),
        # A stale file at the configured path: same file system, another file.
        ("a socket bound to another path", "v3.sock", [f"{d}/elsewhere/v3.sock"], one_vm,
         f"fd 3 'v3.sock' is bound to {d}/elsewhere/v3.sock, not to {d}/v3.sock"),
        ("one VM socket given twice", "v3.sock:v3.sock",
         [f"{d}/v3.sock", f"{d}/elsewhere/v3.sock"], one_vm,
         f"fd 4 'v3.sock': {d}/v3.sock already has a listener (fd 3)"),
        ("a name two VM sockets have", "v3.sock", [f"{d}/v3.sock"], two_vms,
         f"fd 3 'v3.sock' names both {d}/v3.sock and {d}/elsewhere/v3.sock"),
        ("a stream socket for the seqpacket listener", "vm3.vsock_seqpacket",
         [f"{d}/vm3.vsock_seqpacket"], one_vm,
         f"{d}/vm3.vsock_seqpacket: not a listening Unix seqpacket socket"),
    ]
    for what, names, paths, args, message in cases:
        socks = [listener(p) for p in paths]
        stale = f"{d}/v3.sock" not in paths
        if stale:
            open(f"{d}/v3.sock", "wb").close()
        env = {"LISTEN_FDS": str(len(socks))}
        if names:
            env["LISTEN_FDNAMES"] = names
        daemon = Daemon(d, args, env, fds=socks)
        try:
            rc = daemon.proc.wait(TIMEOUT)
            ours = {"notify", "daemon.log", "elsewhere", "v3.sock"} | {os.path.basename(p)
                                                                     for p in paths}
            left = sorted(set(os.listdir(d)) - ours)
            check(f"socket activation, {what}: exit 1, the reason, nothing created",
                  rc == 1 and message in daemon.log() and not left,
                  f"rc={rc} left={left} {daemon.log()}")
        finally:
            daemon.close()
            for s in socks:
                s.close()
        for p in paths + ([f"{d}/v3.sock"] if stale else []):
            os.unlink(p)
        os.unlink(f"{d}/notify")


def test_fd(d):
    vhost = listener(f"{d}/inherited.sock")
    daemon = Daemon(d, ["--fd", "3", "--uds-path", f"{d}/u.vsock"], fds=(vhost,))
    try:
        ready = daemon.messages("READY=1")
        check("--fd: the inherited listener is served",
              ready and vhost_user_features(f"{d}/inherited.sock"), daemon.log())
        check("--fd: exit 0, the inherited socket file left",
              daemon.stop() == 0 and os.path.exists(f"{d}/inherited.sock"), daemon.log())
    finally:
        daemon.close()
        vhost.close()
    for f in ("inherited.sock", "notify"):
        os.unlink(f"{d}/{f}")


def test_journal_stream(d):
    # JOURNAL_STREAM names the daemon's stderr: the log file's dev:inode.
    log = os.path.join(d, "daemon.log")
    open(log, "wb").close()
    st = os.stat(log)
    daemon = Daemon(d, ["--socket", f"{d}/s.sock", "--uds-path", f"{d}/u.vsock",
                        "--log-level", "info"],
                    {"JOURNAL_STREAM": f"{st.st_dev}:{st.st_ino}"})
    try:
        daemon.messages("READY=1")
        daemon.stop()
        lines = daemon.log().splitlines()
        check("on the journal's stream: syslog priorities, no timestamps",
              lines and all(line.startswith("<6>INFO ") for line in lines), daemon.log())
    finally:
        daemon.close()
    os.unlink(f"{d}/notify")


def connect_as(uid, groups, path):
    """Connects to path as uid with these supplementary groups: 0, or errno."""
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            os.setgroups(groups)
            os.setgid(uid)
            os.setuid(uid)
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.connect(path)
        except OSError as e:
            code = e.errno or 255
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)


def test_non_root(d):
    if os.geteuid() != 0:
        check("# SKIP non-root operation: needs root to switch users", True)
        return
    os.chown(d, NOBODY, NOGROUP)
    os.chmod(d, 0o755)
    wrapper = ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}",
               f"--groups={SOCK_GROUP}", "--"]
    args = ["--vm", f"guest-cid=3,socket={d}/v3.sock,uds-path={d}/vm3.vsock",
            "--vm", f"guest-cid=4,socket={d}/v4.sock,uds-path={d}/vm4.vsock,socket-mode=0600",
            "--socket-group", str(SOCK_GROUP)]
    daemon = Daemon(d, args, wrapper=wrapper)
    try:
        ready = daemon.messages("READY=1")
        st = {n: os.stat(f"{d}/{n}") for n in ("v3.sock", "vm3.vsock", "v4.sock", "vm4.vsock")}
        check("non-root: sockets owned by the daemon's user and the socket group",
              ready and all(s.st_uid == NOBODY and s.st_gid == SOCK_GROUP for s in st.values()),
              f"{[(n, s.st_uid, s.st_gid) for n, s in st.items()]} {daemon.log()}")
        modes = {n: oct(s.st_mode & 0o777) for n, s in st.items()}
        check("socket mode: 0660 with a socket group, a VM's own socket-mode wins",
              modes == {"v3.sock": "0o660", "vm3.vsock": "0o660", "v4.sock": "0o600",
                        "vm4.vsock": "0o600"}, str(modes))
        check("non-root: a user of the socket group connects",
              connect_as(4001, [SOCK_GROUP], f"{d}/vm3.vsock") == 0 and
              connect_as(4001, [SOCK_GROUP], f"{d}/v3.sock") == 0)
        check("non-root: other users are refused",
              connect_as(4002, [], f"{d}/vm3.vsock") == 13 and
              connect_as(4001, [SOCK_GROUP], f"{d}/vm4.vsock") == 13)
        check("non-root: the daemon serves and stops cleanly",
              vhost_user_features(f"{d}/v4.sock") and daemon.stop() == 0 and
              sorted(os.listdir(d)) == ["daemon.log", "notify"], daemon.log())
    finally:
        daemon.close()


def main():
    tests = [test_capabilities, test_ready_status_stopping, test_seccomp_modes,
             test_socket_activation, test_activation_errors, test_fd, test_journal_stream,
             test_non_root]
    for t in tests:
        with tempfile.TemporaryDirectory() as d:
            try:
                t(d)
            except Exception as e:  # a test that broke is a failure, with its reason
                check(t.__name__, False, f"{type(e).__name__}: {e}")
    print(f"1..{len(results)}")
    for i, (name, ok, detail) in enumerate(results, 1):
        skip = name.startswith("# SKIP")
        print(f"{'ok' if ok else 'not ok'} {i} {name}")
        if not ok and not skip:
            for line in detail.splitlines()[:40]:
                print(f"# {line}")
    return 0 if all(ok for _, ok, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
