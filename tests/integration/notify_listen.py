#!/usr/bin/env python3
"""The service manager's end of sd_notify, for the tests: binds a unix
datagram socket at PATH (what NOTIFY_SOCKET names) and appends each
notification to OUT as one JSON line {"t": seconds since the epoch, "msg":
text}, until killed or SECONDS have passed (default 600).

With --probe URL, each READY=1 is answered by a GET of URL at once, and the
line says whether it answered ("probe": HTTP status, or the error): ready
must mean the admin server listens.

    notify_listen.py PATH OUT [--probe URL] [--seconds N]
"""
import json
import os
import socket
import sys
import time
import urllib.request


def main():
    args = sys.argv[1:]
    probe = None
    seconds = 600.0
    if "--probe" in args:
        i = args.index("--probe")
        probe = args[i + 1]
        del args[i:i + 2]
    if "--seconds" in args:
        i = args.index("--seconds")
        seconds = float(args[i + 1])
        del args[i:i + 2]
    path, out = args
    if os.path.exists(path):
        os.unlink(path)
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    os.chmod(path, 0o666)   # a daemon run as another user (the package test) may send
    s.settimeout(0.5)
    end = time.time() + seconds
    with open(out, "a", buffering=1) as f:
        while time.time() < end:
            try:
                data = s.recv(65536)
            except socket.timeout:
                continue
            rec = {"t": time.time(), "msg": data.decode("utf-8", "replace")}
            if probe and "READY=1" in rec["msg"].split("\n"):
                try:
                    with urllib.request.urlopen(probe, timeout=5) as r:
                        rec["probe"] = r.status
                except Exception as e:  # the line says why it did not answer
                    rec["probe"] = str(e)
            f.write(json.dumps(rec) + "\n")


if __name__ == "__main__":
    main()
