#!/usr/bin/env python3
"""Hostile HTTP clients for t_http_limits.sh, on raw sockets (Python 3
standard library only). Each command prints "name value" lines the shell
test checks.

    http_limits.py crowd ADMIN_PORT EVENTS_PORT TOKEN PIPELINE N TIMEOUT
        N idle connections to each port from 127.0.0.1; then from 127.0.0.2
        GET /healthz and POST an event; a request on a connection within
        127.0.0.1's share and on one past it; then whether the idle ones are
        closed after TIMEOUT seconds.
    http_limits.py drip PORT headers|body TIMEOUT TOKEN PIPELINE
        one request sent a byte every 0.2 s: seconds until the server closes
        it ("open" when it has not after 3 x TIMEOUT).
    http_limits.py raw PORT KIND TOKEN PIPELINE
        one request with ambiguous framing (KIND: two-lengths, length-and-chunked,
        two-chunked); prints its status line.
    http_limits.py bigpost PORT PATH SIZE N TOKEN [chunked]
        N parallel POSTs of SIZE bytes (TOKEN "-" for none), sent without
        waiting for 100-continue and stopped as soon as the answer comes;
        prints the statuses and the most any sent before its answer.
"""
import resource
import select
import socket
import sys
import threading
import time


def raise_nofile(n):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < n:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(n, hard), hard))


def connect(port, source="127.0.0.1", timeout=5):
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def closed_by_server(s):
    p = select.poll()
    p.register(s, select.POLLIN)
    if not p.poll(0):
        return False
    try:
        return s.recv(1) == b""
    except OSError:
        return True


def read_response(s, timeout=10):
    """The status line and headers (dict, lower-case names) of one answer."""
    s.settimeout(timeout)
    data = b""
    try:
        while b"\r\n\r\n" not in data:
            d = s.recv(65536)
            if not d:
                break
            data += d
    except OSError:
        pass
    if not data:
        return "none", {}
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").split("\r\n")
    hdrs = {}
    for line in head[1:]:
        k, _, v = line.partition(":")
        hdrs[k.strip().lower()] = v.strip()
    parts = head[0].split(" ")
    return parts[1] if len(parts) > 1 else head[0], hdrs


def request(port, req, source="127.0.0.1"):
    t0 = time.time()
    try:
        s = connect(port, source)
        s.sendall(req)
        status, hdrs = read_response(s)
        s.close()
    except OSError as e:
        return "error:%s" % e.__class__.__name__, {}, time.time() - t0
    return status, hdrs, time.time() - t0


def crowd(admin, events, token, pipeline, n, timeout):
    raise_nofile(2 * n + 200)
    socks, failed = [], 0
    for port in (admin, events):
        for _ in range(n):
            try:
                socks.append((port, connect(port, timeout=2)))
            except OSError:
                failed += 1
    time.sleep(1)
    open_now = [(p, s) for p, s in socks if not closed_by_server(s)]
    print("crowd_opened %d" % len(socks))
    print("crowd_failed_or_closed %d" % (failed + len(socks) - len(open_now)))
    st, _, secs = request(admin, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Connection: close\r\n\r\n", source="127.0.0.2")
    print("other_healthz %s %s" % (st, "prompt" if secs < 2 else "slow:%.1fs" % secs))
    body = b'{"event_id":"crowd-1"}'
    st, _, secs = request(events, b"POST /v1/events/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                          b"Authorization: Bearer %s\r\nContent-Length: %d\r\n"
                          b"Connection: close\r\n\r\n%s"
                          % (pipeline.encode(), token.encode(), len(body), body),
                          source="127.0.0.2")
    print("other_post %s %s" % (st, "prompt" if secs < 5 else "slow:%.1fs" % secs))
    # the oldest open connection is within the share, the newest past it
    mine = [s for p, s in open_now if p == admin]
    get = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    if mine:
        mine[-1].sendall(get)
        st, hdrs = read_response(mine[-1])
        print("noisy_past_share %s retry-after=%s" % (st, hdrs.get("retry-after", "none")))
        mine[0].sendall(get)
        st, _ = read_response(mine[0])
        print("noisy_within_share %s" % st)
        mine = mine[1:-1]
    else:
        print("noisy_past_share none")
        print("noisy_within_share none")
    rest = [s for p, s in open_now if p == events] + mine
    time.sleep(timeout + 2)
    print("idle_open_after_timeout %d" % sum(not closed_by_server(s) for s in rest))
    for _, s in socks:
        s.close()


def drip(port, mode, timeout, token, pipeline):
    body = b'{"event_id":"drip"}' + b" " * 200
    head = (b"POST /v1/events/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: %s\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
            % (pipeline.encode(), b"p" * 200, token.encode(), len(body)))
    s = connect(port)
    if mode == "body":
        s.sendall(head)
        feed = body
    else:
        feed = head + body
    t0 = time.time()
    for i in range(len(feed)):
        if time.time() - t0 > 3 * timeout:
            print("drip_%s open" % mode)
            return
        try:
            s.sendall(feed[i:i + 1])
        except OSError:
            break
        if closed_by_server(s):
            break
        time.sleep(0.2)
    print("drip_%s closed_after=%d" % (mode, round(time.time() - t0)))


def raw(port, kind, token, pipeline):
    body = b'{"event_id":"framing-%s"}' % kind.encode()
    head = (b"POST /v1/events/%s HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n"
            % (pipeline.encode(), token.encode()))
    chunked = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body)
    if kind == "two-lengths":
        req = head + b"Content-Length: %d\r\nContent-Length: %d\r\n\r\n%s" % (
            len(body), len(body) + 5, body + b"XXXXX")
    elif kind == "length-and-chunked":
        req = head + b"Content-Length: %d\r\nTransfer-Encoding: chunked\r\n\r\n%s" % (
            len(body), chunked)
    else:
        req = head + b"Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
    st, _, _ = request(port, req)
    print("%s %s" % (kind, st))


def bigpost(port, path, size, n, token, chunked):
    results = []

    def one():
        head = "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\n" % path
        if token != "-":
            head += "Authorization: Bearer %s\r\n" % token
        head += "Transfer-Encoding: chunked\r\n" if chunked else "Content-Length: %d\r\n" % size
        sent, status = 0, "none"
        try:
            s = connect(port, timeout=60)
            s.sendall((head + "\r\n").encode())
            block = b"x" * 65536
            try:
                while sent < size:
                    r, w, _ = select.select([s], [s], [], 30)
                    if r:
                        break
                    k = min(len(block), size - sent)
                    s.sendall(b"%x\r\n%s\r\n" % (k, block[:k]) if chunked else block[:k])
                    sent += k
                if sent >= size and chunked:
                    s.sendall(b"0\r\n\r\n")
            except OSError:
                pass    # answered and closed while we sent: the answer is still to read
            status, _ = read_response(s, 60)
            s.close()
        except OSError as e:
            status = "error:%s" % e.__class__.__name__
        results.append((status, sent))

    threads = [threading.Thread(target=one) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print("statuses %s" % " ".join(sorted(set(st for st, _ in results))))
    print("most_sent_before_answer_mb %d" % (max(sent for _, sent in results) >> 20))


def main(argv):
    cmd = argv[1]
    if cmd == "crowd":
        crowd(int(argv[2]), int(argv[3]), argv[4], argv[5], int(argv[6]), float(argv[7]))
    elif cmd == "drip":
        drip(int(argv[2]), argv[3], float(argv[4]), argv[5], argv[6])
    elif cmd == "raw":
        raw(int(argv[2]), argv[3], argv[4], argv[5])
    elif cmd == "bigpost":
        bigpost(int(argv[2]), argv[3], int(argv[4]), int(argv[5]), argv[6],
                len(argv) > 7 and argv[7] == "chunked")
    else:
        raise SystemExit("unknown command " + cmd)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
