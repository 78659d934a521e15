"""A loopback port nothing listens on, below the kernel's ephemeral range: a
port the kernel hands out (bind to 0) can be taken by another test's client
socket before the server the test starts binds it. Run it to print one, or
import free_port()."""
import random
import socket


def free_port():
    for _ in range(1000):
        port = random.randrange(20000, 32000)
        s = socket.socket()
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            continue
        finally:
            s.close()
        return port
    raise RuntimeError("no free port below the ephemeral range")


if __name__ == "__main__":
    print(free_port())
