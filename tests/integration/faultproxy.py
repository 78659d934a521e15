#!/usr/bin/env python3
"""faultproxy.py: a loopback TCP proxy for fault tests, between sluice and
PostgreSQL, that cuts connections when told to.

  faultproxy.py serve --target HOST:PORT --state FILE
      listens on a free loopback port for clients and on another for control
      commands; writes "PROXY_PORT CONTROL_PORT" to FILE once both listen.
      SIGUSR1 cuts every connection now.
  faultproxy.py ctl CONTROL_PORT COMMAND [ARGS...]
      sends one command and prints the one-line JSON answer.

Commands (one line each; every fault is one-shot and replaces the armed one):
  cut                      cut every open connection now
  bytes N                  cut every connection once N more bytes have passed
                           (both directions, all connections)
  query PREFIX K WHEN [N]  on the K-th (1-based) client message carrying SQL
                           (simple Query, or Parse) that starts with PREFIX
                           (case-insensitive), cut that connection:
                             before  the message is not forwarded
                             reply   the message is forwarded; the server's
                                     answer is swallowed (for COMMIT: committed,
                                     and the client never learns it)
                             c2s     after N more bytes from the client
                                     (mid-COPY FROM STDIN)
                             s2c     after N more bytes from the server
                                     (mid-COPY TO STDOUT)
  disarm                   forget the armed fault
  reset                    disarm, and zero the counters below
  stats                    {"conns", "open", "cuts", "fired", "armed", "c2s", "s2c",
                           "queries": {first word of each SQL message: count}}

A cut aborts both sockets at once: the client sees its connection lost, the
server sees its client gone (an open transaction rolls back). Client bytes
are parsed as the PostgreSQL frontend protocol (the untyped startup
messages first, then type byte + length), at any split of the stream.
"""
import asyncio
import json
import os
import signal
import socket
import sys

SSL_REQUEST, GSSENC_REQUEST = 80877103, 80877104


class Frontend:
    """Incremental parser of the client->server stream. feed() returns, for
    each SQL-carrying message whose first bytes are known, (start, end, sql):
    offsets in the chunk fed (start may be negative: it began in an earlier
    chunk; end is None when the message goes on in a later chunk)."""

    HEAD = 256

    def __init__(self):
        self.untyped = True     # startup, SSLRequest, GSSENCRequest have no type byte
        self.hdr = bytearray()
        self.typ = None
        self.left = 0           # body bytes still to come
        self.body = bytearray()  # the first HEAD bytes of the body
        self.start = 0          # where the current message started, in the stream
        self.base = 0           # where the chunk being fed starts, in the stream
        self.reported = False

    def _sql(self):
        b = bytes(self.body)
        if self.typ == b"P":    # Parse: statement name, then the query
            b = b.split(b"\0", 1)[1] if b"\0" in b else b""
        return b.split(b"\0", 1)[0].decode("utf-8", "replace")

    def feed(self, data):
        out = []
        i, n = 0, len(data)
        while i < n:
            if self.left == 0 and self.typ is None:
                if not self.hdr:
                    self.start = self.base + i
                need = (4 if self.untyped else 5) - len(self.hdr)
                take = min(need, n - i)
                self.hdr += data[i:i + take]
                i += take
                if len(self.hdr) < (4 if self.untyped else 5):
                    continue
                if self.untyped:
                    self.typ = b""
                    self.left = int.from_bytes(self.hdr[0:4], "big") - 4
                else:
                    self.typ = bytes(self.hdr[0:1])
                    self.left = int.from_bytes(self.hdr[1:5], "big") - 4
                self.body = bytearray()
                self.reported = False
                self.hdr = bytearray()
            take = min(self.left, n - i)
            if len(self.body) < self.HEAD:
                self.body += data[i:i + min(take, self.HEAD - len(self.body))]
            i += take
            self.left -= take
            done = self.left == 0
            sql_msg = self.typ in (b"Q", b"P")
            if sql_msg and not self.reported and (done or len(self.body) >= self.HEAD):
                self.reported = True
                out.append((self.start - self.base, i if done else None, self._sql()))
            elif sql_msg and self.reported and done:
                out.append((None, i, None))     # the end of one reported earlier
            if done:
                if self.untyped:
                    code = int.from_bytes(self.body[0:4], "big") if len(self.body) >= 4 else 0
                    # after SSL/GSS negotiation (refused: 'N'), the startup follows
                    self.untyped = code in (SSL_REQUEST, GSSENC_REQUEST)
                self.typ = None
        self.base += n
        return out


class Conn:
    def __init__(self, proxy, cw, sw):
        self.proxy, self.cw, self.sw = proxy, cw, sw
        self.fe = Frontend()
        self.after = None       # armed on this connection: ["reply"], ["c2s", n], ["s2c", n]
        self.pending = None     # armed, once the matched message has been sent whole
        self.n = 0
        self.dead = False

    def cut(self):
        if self.dead:
            return
        self.dead = True
        for w in (self.cw, self.sw):
            try:
                w.transport.abort()
            except Exception:
                pass
        self.proxy.conns.discard(self)
        self.proxy.cuts += 1

    def _close(self):
        if self.dead:
            return
        self.dead = True
        for w in (self.cw, self.sw):
            try:
                w.close()
            except Exception:
                pass
        self.proxy.conns.discard(self)

    def _match(self, data):
        """Feeds the parser; returns (cut_at or None, offset where an 'after'
        fault armed in this chunk starts counting)."""
        p = self.proxy
        count_from = 0
        for start, end, sql in self.fe.feed(data):
            if sql is None:                 # a reported message ends here
                if self.pending is not None:
                    self.after = [self.pending, self.n]
                    self.pending = None
                    count_from = end
                continue
            word = (sql.split() or [""])[0].upper()
            p.words[word] = p.words.get(word, 0) + 1
            f = p.fault
            if not f or f["kind"] != "query" or not sql.lstrip().upper().startswith(f["prefix"]):
                continue
            f["seen"] += 1
            if f["seen"] < f["k"]:
                continue
            p.fault = None
            p.fired += 1
            self.n = f["n"]
            if f["when"] == "before":
                return max(start, 0), 0
            if end is None:
                self.pending = f["when"]
            else:
                self.after = [f["when"], self.n]
                count_from = end
        return None, count_from

    async def _finish(self, w, data, cut_at):
        if cut_at > 0:
            w.write(data[:cut_at])
            try:
                await w.drain()
            except Exception:
                pass
        if self.proxy.global_cut:
            self.proxy.global_cut = False
            self.proxy.cut_all()
        self.cut()

    async def c2s(self, reader):
        p = self.proxy
        while not self.dead:
            data = await reader.read(65536)
            if not data:
                break
            cut_at, count_from = self._match(data)
            if cut_at is None and self.after and self.after[0] == "c2s":
                room = len(data) - count_from
                if room > self.after[1]:
                    cut_at = count_from + self.after[1]
                else:
                    self.after[1] -= room
            if cut_at is None:
                cut_at = p.count_bytes(len(data))
            if cut_at is not None:
                await self._finish(self.sw, data, cut_at)
                return
            p.c2s += len(data)
            self.sw.write(data)
            await self.sw.drain()
        self._close()

    async def s2c(self, reader):
        p = self.proxy
        while not self.dead:
            data = await reader.read(65536)
            if not data:
                break
            cut_at = None
            if self.after and self.after[0] == "reply":
                cut_at = 0
            elif self.after and self.after[0] == "s2c":
                if len(data) > self.after[1]:
                    cut_at = self.after[1]
                else:
                    self.after[1] -= len(data)
            if cut_at is None:
                cut_at = p.count_bytes(len(data))
            if cut_at is not None:
                await self._finish(self.cw, data, cut_at)
                return
            p.s2c += len(data)
            self.cw.write(data)
            await self.cw.drain()
        self._close()


class Proxy:
    def __init__(self, target):
        self.host, port = target.rsplit(":", 1)
        self.port = int(port)
        self.conns = set()
        self.fault = None
        self.global_cut = False
        self.reset()

    def reset(self):
        self.accepted = self.cuts = self.fired = self.c2s = self.s2c = 0
        self.words = {}         # first word of each SQL message -> how many

    def count_bytes(self, n):
        """The 'bytes N' fault: where in a chunk of n bytes to cut, or None."""
        f = self.fault
        if not f or f["kind"] != "bytes":
            return None
        if n <= f["n"]:
            f["n"] -= n
            return None
        self.fault = None
        self.fired += 1
        self.global_cut = True
        return f["n"]

    def cut_all(self):
        for c in list(self.conns):
            c.cut()

    async def client(self, cr, cw):
        try:
            sr, sw = await asyncio.open_connection(self.host, self.port)
        except OSError:
            cw.transport.abort()
            return
        for w in (cw, sw):
            w.transport.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.accepted += 1
        c = Conn(self, cw, sw)
        self.conns.add(c)
        await asyncio.gather(c.c2s(cr), c.s2c(sr), return_exceptions=True)
        c._close()

    def command(self, line):
        a = line.split()
        if not a:
            return {"error": "empty command"}
        if a[0] == "cut":
            n = len(self.conns)
            self.cut_all()
            return {"cut": n}
        if a[0] == "bytes" and len(a) == 2:
            self.fault = {"kind": "bytes", "n": int(a[1])}
            return {"armed": self.fault}
        if a[0] == "query" and len(a) in (4, 5) and a[3] in ("before", "reply", "c2s", "s2c"):
            self.fault = {"kind": "query", "prefix": a[1].upper(), "k": int(a[2]), "when": a[3],
                          "n": int(a[4]) if len(a) == 5 else 0, "seen": 0}
            return {"armed": self.fault}
        if a[0] == "disarm":
            self.fault = None
            return {"armed": None}
        if a[0] == "reset":
            self.fault = None
            self.reset()
            return {"reset": True}
        if a[0] == "stats":
            return {"conns": self.accepted, "open": len(self.conns), "cuts": self.cuts,
                    "fired": self.fired, "armed": self.fault, "c2s": self.c2s,
                    "s2c": self.s2c, "queries": self.words}
        return {"error": "unknown command: " + line.strip()}

    async def control(self, r, w):
        while True:
            line = await r.readline()
            if not line:
                break
            w.write((json.dumps(self.command(line.decode())) + "\n").encode())
            await w.drain()
        w.close()


async def serve(target, state):
    p = Proxy(target)
    srv = await asyncio.start_server(p.client, "127.0.0.1", 0)
    ctl = await asyncio.start_server(p.control, "127.0.0.1", 0)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, p.cut_all)
    ports = (srv.sockets[0].getsockname()[1], ctl.sockets[0].getsockname()[1])
    tmp = state + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d %d\n" % ports)
    os.rename(tmp, state)
    await asyncio.gather(srv.serve_forever(), ctl.serve_forever())


def ctl(port, words):
    with socket.create_connection(("127.0.0.1", int(port)), timeout=10) as s:
        s.sendall((" ".join(words) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(4096)
            if not chunk:
                break
            buf += chunk
    sys.stdout.write(buf.decode())
    return 0 if buf and b'"error"' not in buf else 1


def main(argv):
    if len(argv) >= 2 and argv[1] == "serve":
        args = dict(zip(argv[2::2], argv[3::2]))
        asyncio.run(serve(args["--target"], args["--state"]))
        return 0
    if len(argv) >= 4 and argv[1] == "ctl":
        return ctl(argv[2], argv[3:])
    sys.stderr.write(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
