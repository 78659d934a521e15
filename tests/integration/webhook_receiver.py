#!/usr/bin/env python3
"""A webhook endpoint for tests: records the alerts sluice POSTs.

    webhook_receiver.py PORTFILE OUTFILE [--fail-first N] [--fail-status CODE]

Binds 127.0.0.1 on a free port and writes the port number to PORTFILE (all at
once, through a rename, so a poller never reads half of it). Every POST body
that is answered 200 is appended to OUTFILE as one JSON line (as sent, so
numbers keep their digits; re-serialised compactly only when the body spans
lines; flushed at once), so OUTFILE holds exactly what was delivered and a
retried alert appears once. With --fail-first N the first N POSTs are answered
500 (or --fail-status CODE) and not recorded, to test retries. A body that is
not JSON is answered 400 and not recorded. Each request is logged on stderr:
"webhook_receiver: POST /path -> 500 (request 1)". Runs until killed.
Python 3 standard library only.
"""
import argparse
import http.server
import json
import os
import sys
import threading


def main():
    ap = argparse.ArgumentParser(description="record webhook POSTs as JSON lines")
    ap.add_argument("portfile")
    ap.add_argument("outfile")
    ap.add_argument("--fail-first", type=int, default=0, metavar="N",
                    help="answer the first N POSTs with an error")
    ap.add_argument("--fail-status", type=int, default=500, metavar="CODE",
                    help="the status those get (default 500)")
    args = ap.parse_args()

    lock = threading.Lock()
    state = {"requests": 0}
    out = open(args.outfile, "a", encoding="utf-8")

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def answer(self, status, text):
            body = (text + "\n").encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Connection", "close")
            self.end_headers()
            self.wfile.write(body)
            self.close_connection = True

        def do_POST(self):
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length > 0 else b""
            with lock:
                state["requests"] += 1
                n = state["requests"]
                if n <= args.fail_first:
                    status, text = args.fail_status, "failing on purpose"
                else:
                    try:
                        body = raw.decode("utf-8")
                        doc = json.loads(body)
                    except (UnicodeDecodeError, ValueError) as e:
                        status, text = 400, "body is not JSON: %s" % e
                    else:
                        body = body.strip()
                        if "\n" in body or "\r" in body:
                            body = json.dumps(doc, separators=(",", ":"),
                                              ensure_ascii=False)
                        out.write(body + "\n")
                        out.flush()
                        status, text = 200, "ok"
            sys.stderr.write("webhook_receiver: POST %s -> %d (request %d)\n"
                             % (self.path, status, n))
            sys.stderr.flush()
            self.answer(status, text)

        def do_GET(self):
            self.answer(405, "POST only")

        def log_message(self, fmt, *a):
            pass    # do_POST logs one line of its own

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    tmp = args.portfile + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.replace(tmp, args.portfile)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        out.close()


if __name__ == "__main__":
    main()
