#!/usr/bin/env python3
"""Hostile HTTP clients for t_http_limits.sh, on raw sockets (Python 3
standard library only). Each command prints "name value" lines the shell
test checks.

    http_limits.py crowd ADMIN_PORT EVENTS_PORT TOKEN PIPELINE N TIMEOUT
        N idle connections to each port from 127.0.0.1; then from 127.0.0.2
        GET /healthz and POST an event; a request on a connection within
        127.0.0.1's share and on one past it; then whether the idle ones are
        closed after TIMEOUT seconds.
    http_limits.py totalcap PORT CAP KIND TOKEN PIPELINE
        against a server whose max_connections is CAP (and whose per-client
        share is over 3): CAP connections from 127.0.0.2-4, then CAP more
        (MHD's headroom) one from each of 127.0.0.10 on, then 3 past that;
        KIND "healthz" sends GET /healthz, "post" an event. Prints whether
        those past the headroom are answered, what those past CAP and one
        within it get, and what a fresh client gets once all have closed.
    http_limits.py drip PORT METHOD PATH headers|body TIMEOUT TOKEN
        one request sent a byte every 0.2 s: seconds until the server closes
        it ("open" when it has not after 3 x TIMEOUT, "answered STATUS" when
        the server answers instead of closing).
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


def answered(s, wait):
    """The status of an answer that came on s within `wait` seconds, or
    None (nothing came, or the server closed without a word)."""
    p = select.poll()
    p.register(s, select.POLLIN)
    if not p.poll(int(wait * 1000)):
        return None
    try:
        d = s.recv(65536, socket.MSG_PEEK)
    except OSError:
        return None
    if not d:
        return None
    line = d.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
    return line[1] if len(line) > 1 else line[0]


def totalcap(port, cap, kind, token, pipeline):
    raise_nofile(4 * cap + 200)

    def req(n):
        if kind == "healthz":
            return b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
        body = b'{"event_id":"totalcap-%d"}' % n
        return (b"POST /v1/events/%s HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n%s"
                % (pipeline.encode(), token.encode(), len(body), body))

    # within the cap: 3 a client address, under its share
    within = [connect(port, "127.0.0.%d" % (2 + i // 3)) for i in range(cap)]
    time.sleep(0.5)
    # past the cap, each from an address of its own: the total is what is over
    over = [connect(port, "127.0.0.%d" % (10 + i)) for i in range(cap)]
    time.sleep(0.5)
    # past MHD's limit (twice the cap): refused, so no answer
    beyond = [connect(port, "127.0.0.%d" % (10 + cap + i)) for i in range(3)]
    for s in beyond:
        s.sendall(req(0))
    time.sleep(2)
    print("beyond_headroom_answered %d of %d"
          % (sum(answered(s, 0) is not None for s in beyond), len(beyond)))
    for s in beyond:
        s.close()

    statuses, retry, closed, msg = set(), set(), 0, ""
    for i, s in enumerate(over):
        s.sendall(req(100 + i))
        # the whole answer, then the server's close (within 5 s)
        s.settimeout(5)
        data = b""
        try:
            while True:
                d = s.recv(65536)
                if not d:
                    closed += 1
                    break
                data += d
        except OSError:
            pass
        head, _, body = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        first = lines[0].split(" ")
        statuses.add(first[1] if len(first) > 1 else "none")
        hdrs = dict((k.strip().lower(), v.strip())
                    for k, _, v in (line.partition(":") for line in lines[1:]))
        retry.add(hdrs.get("retry-after", "none"))
        if not msg:
            msg = body.decode("latin-1", "replace").strip()
    print("over_total %s retry-after=%s" % (",".join(sorted(statuses)), ",".join(sorted(retry))))
    print("over_total_closed %d of %d" % (closed, len(over)))
    print("over_total_body %s" % msg)
    within[0].sendall(req(1))
    st, _ = read_response(within[0])
    print("within_total %s" % st)
    for s in over + within:
        s.close()

    # a fresh client, once all have closed: the server counts them down
    t0, st = time.time(), "none"
    while time.time() - t0 < 5:
        st, _, _ = request(port, req(2).replace(b"\r\n\r\n", b"\r\nConnection: close\r\n\r\n", 1),
                           source="127.0.0.%d" % (20 + cap))
        if st == "200":
            break
        time.sleep(0.2)
    print("fresh_after_close %s after=%.1fs" % (st, time.time() - t0))


def drip(port, method, path, mode, timeout, token):
    body = b'{"event_id":"drip"}' + b" " * 200
    head = (b"%s %s HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: %s\r\n"
            b"Authorization: Bearer %s\r\nContent-Length: %d\r\n\r\n"
            % (method.encode(), path.encode(), b"p" * 200, token.encode(), len(body)))
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
        st = answered(s, 0)
        if st is not None:
            # an answer is no timeout: the request was taken early
            print("drip_%s answered %s" % (mode, st))
            return
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
    elif cmd == "totalcap":
        totalcap(int(argv[2]), int(argv[3]), argv[4], argv[5], argv[6])
    elif cmd == "drip":
        drip(int(argv[2]), argv[3], argv[4], argv[5], float(argv[6]), argv[7])
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
