#!/usr/bin/env python3
"""tests/integration/event_client.py: post events to a sluice collector the way
real clients do (python3 standard library only).

  event_client.py load URL --events N --clients C [--per-request K]
                  [--repeat-rate R] [--token T] [--prefix P] [--acked FILE]
                  [--seed S] [--deadline SECONDS] [--cafile PEM]

Events P-0 .. P-(N-1) are split between C client threads; each thread posts
its events in NDJSON requests of 1..K events. A request that gets no answer
(connection refused or reset: the daemon was killed) or a 503 is sent again,
unchanged, until it is answered 2xx, as a retrying client would. With
--repeat-rate R a request that was answered 200 is sent once more with
probability R (a client that retried although its first try had landed).
Each id whose request was answered 200 is appended to --acked (flushed at
once), so a test can check that nothing acknowledged is lost. Prints one
JSON line of counts at the end; exit 1 when a request was refused (4xx/5xx
other than 503) or the deadline passed.
"""
import argparse
import http.client
import json
import random
import ssl
import sys
import threading
import time
import urllib.parse


def event(prefix, i):
    # the same id always carries the same payload: a retry is byte-identical
    return json.dumps({"event_id": "%s-%d" % (prefix, i), "type": "order.placed",
                       "user_id": i % 997, "order": {"total": "%d.%02d" % (i % 500, i % 100)},
                       "ts": "2024-05-01T12:%02d:%02dZ" % (i % 60, (i * 7) % 60)},
                      separators=(",", ":"))


class Client(threading.Thread):
    def __init__(self, args, ids, url, stats, lock, ackf, seed):
        super().__init__(daemon=True)
        self.args, self.ids, self.url = args, ids, url
        self.stats, self.lock, self.ackf = stats, lock, ackf
        self.rng = random.Random(seed)
        self.conn = None

    def connect(self):
        u = self.url
        if u.scheme == "https":
            ctx = ssl.create_default_context(cafile=self.args.cafile)
            ctx.check_hostname = False
            return http.client.HTTPSConnection(u.hostname, u.port, timeout=30, context=ctx)
        return http.client.HTTPConnection(u.hostname, u.port, timeout=30)

    def post(self, body):
        """Send until answered 2xx; returns (status, reply)."""
        headers = {"Content-Type": "application/x-ndjson"}
        if self.args.token:
            headers["Authorization"] = "Bearer " + self.args.token
        while True:
            if time.time() > self.args.stop_at:
                raise TimeoutError("deadline passed")
            try:
                if self.conn is None:
                    self.conn = self.connect()
                self.conn.request("POST", self.url.path, body=body, headers=headers)
                r = self.conn.getresponse()
                reply = r.read()
                if r.status == 503:
                    self.count("retried_503")
                    time.sleep(0.2)
                    continue
                return r.status, reply
            except (ConnectionError, http.client.HTTPException, OSError):
                self.count("retried_unanswered")
                if self.conn is not None:
                    self.conn.close()
                self.conn = None
                time.sleep(0.1)

    def count(self, k, n=1):
        with self.lock:
            self.stats[k] = self.stats.get(k, 0) + n

    def run(self):
        try:
            i = 0
            while i < len(self.ids):
                k = self.rng.randint(1, self.args.per_request)
                chunk = self.ids[i:i + k]
                i += k
                body = "\n".join(event(self.args.prefix, n) for n in chunk).encode()
                tries = 2 if self.rng.random() < self.args.repeat_rate else 1
                for _ in range(tries):
                    status, reply = self.post(body)
                    if status != 200:
                        self.count("refused")
                        sys.stderr.write("refused %d: %s\n" % (status, reply[:300]))
                        continue
                    self.count("requests")
                    self.count("events_acked", len(chunk))
                    if self.ackf:
                        with self.lock:
                            self.ackf.write("".join("%s-%d\n" % (self.args.prefix, n)
                                                    for n in chunk))
                            self.ackf.flush()
                if tries == 2:
                    self.count("repeated_requests")
        except TimeoutError:
            self.count("timed_out")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("mode", choices=["load"])
    ap.add_argument("url")
    ap.add_argument("--events", type=int, required=True)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--per-request", type=int, default=50)
    ap.add_argument("--repeat-rate", type=float, default=0.0)
    ap.add_argument("--token", default="")
    ap.add_argument("--prefix", default="e")
    ap.add_argument("--acked")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--deadline", type=float, default=240)
    ap.add_argument("--cafile")
    args = ap.parse_args()
    args.stop_at = time.time() + args.deadline
    url = urllib.parse.urlsplit(args.url)
    stats, lock = {}, threading.Lock()
    ackf = open(args.acked, "a") if args.acked else None
    ids = list(range(args.events))
    clients = [Client(args, ids[c::args.clients], url, stats, lock, ackf, args.seed * 1000 + c)
               for c in range(args.clients)]
    t0 = time.time()
    for c in clients:
        c.start()
    for c in clients:
        c.join()
    stats["seconds"] = round(time.time() - t0, 2)
    print(json.dumps(stats, sort_keys=True))
    if ackf:
        ackf.close()
    sys.exit(1 if stats.get("refused") or stats.get("timed_out") else 0)


if __name__ == "__main__":
    main()
