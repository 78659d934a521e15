#!/usr/bin/env python3
"""Writes the log benchmark's drops: N lines of a combined-format access log
(~200 bytes a line) and the same records already converted to CSV, as the
table sluice loads them into has them (ts in UTC, - as empty, lineno).

usage: gen_access.py LINES OUT.log OUT.csv
Deterministic (seeded), so every run measures the same bytes."""
import csv
import random
import sys

lines, out_log, out_csv = int(sys.argv[1]), sys.argv[2], sys.argv[3]
rnd = random.Random(2026)
methods = ["GET"] * 8 + ["POST", "HEAD"]
paths = ["/", "/index.html", "/api/v1/orders", "/api/v1/orders/{n}", "/static/app.{n}.js",
         "/img/logo.png", "/search?q=item+{n}", "/login", "/cart", "/checkout?step={n}"]
agents = ["Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Gecko/20100101 Firefox/120.0",
          "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko)"
          " Chrome/119.0 Safari/537.36",
          "curl/7.88.1", "-", "Googlebot/2.1 (+http://www.google.com/bot.html)"]
refs = ["-", "https://www.example.com/", "https://shop.example.com/cart", "-"]
statuses = [200] * 12 + [304, 301, 404, 500]
months = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
base = 1733011200  # 2024-12-01T00:00:00Z
with open(out_log, "w", buffering=1 << 20) as lf, open(out_csv, "w", newline="",
                                                          buffering=1 << 20) as cf:
    w = csv.writer(cf)
    w.writerow(["ts", "client", "ident", "user", "method", "path", "protocol", "status",
                "bytes", "referer", "user_agent", "lineno"])
    for i in range(1, lines + 1):
        t = base + i // 20
        d, s = divmod(t - base, 86400)
        day, hh, mm, ss = 1 + d % 28, s // 3600, s // 60 % 60, s % 60
        ip = f"10.{rnd.randrange(256)}.{rnd.randrange(256)}.{rnd.randrange(1, 255)}"
        user = "alice" if i % 97 == 0 else "-"
        m = rnd.choice(methods)
        p = rnd.choice(paths).replace("{n}", str(rnd.randrange(10000)))
        st = rnd.choice(statuses)
        size = "-" if st == 304 else str(rnd.randrange(100, 60000))
        ref, ua = rnd.choice(refs), rnd.choice(agents)
        lf.write(f'{ip} - {user} [{day:02d}/Dec/2024:{hh:02d}:{mm:02d}:{ss:02d} +0000] '
                 f'"{m} {p} HTTP/1.1" {st} {size} "{ref}" "{ua}"\n')
        w.writerow([f"2024-12-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}.000000Z", ip, "",
                    "" if user == "-" else user, m, p, "HTTP/1.1", st,
                    "" if size == "-" else size, "" if ref == "-" else ref,
                    "" if ua == "-" else ua, i])
