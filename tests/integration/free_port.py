"""A loopback port nothing listens on, below the kernel's ephemeral range: a
port the kernel hands out (bind to 0) can be taken by another test's client
socket before the server the test starts binds it.

A port that is free now can still be chosen by a test running alongside,
whose server has not bound it yet (a nats-server cluster, a daemon starting
up). So every port handed out is claimed in a registry directory
(O_EXCL: one claim per port) and no other caller gets it until the claim is
hours old. Run it to print one, or import free_port()."""
import os
import random
import socket
import tempfile
import time

REGISTRY = os.environ.get("SL_PORT_REGISTRY",
                          os.path.join(tempfile.gettempdir(), "sluice-test-ports"))
STALE_SECONDS = 4 * 3600


def ephemeral_range():
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            lo, hi = (int(x) for x in f.read().split())
            return lo, hi
    except (OSError, ValueError):
        return 32768, 60999


def candidates():
    lo, hi = ephemeral_range()
    ports = [p for p in range(20000, 32000) if not lo <= p <= hi]
    if not ports:  # the whole range is ephemeral: take what is above 1024
        ports = [p for p in range(10000, 65535) if not lo <= p <= hi]
    random.shuffle(ports)
    return ports


def claim(port):
    path = os.path.join(REGISTRY, str(port))
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
    except FileExistsError:
        try:
            if time.time() - os.stat(path).st_mtime < STALE_SECONDS:
                return False
            os.unlink(path)
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666)
        except OSError:
            return False
    os.write(fd, str(os.getpid()).encode())
    os.close(fd)
    return True


def free_port():
    os.makedirs(REGISTRY, mode=0o1777, exist_ok=True)
    try:
        os.chmod(REGISTRY, 0o1777)  # tests run as root and as the pg user
    except OSError:
        pass
    for port in candidates()[:2000]:
        s = socket.socket()
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        if claim(port):
            return port
    raise RuntimeError("no free port below the ephemeral range")


if __name__ == "__main__":
    print(free_port())
