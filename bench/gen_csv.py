#!/usr/bin/env python3
"""Writes the benchmark drop: N rows of orders-like CSV (~130 bytes a row).

usage: gen_csv.py ROWS OUT.csv
Deterministic (seeded), so every run measures the same bytes."""
import random
import sys

rows, out = int(sys.argv[1]), sys.argv[2]
rnd = random.Random(2026)
statuses = ["placed", "paid", "shipped", "delivered", "cancelled", "refunded"]
words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
         "india", "juliet", "kilo", "lima", "mike", "november", "oscar", "papa"]
with open(out, "w", buffering=1 << 20) as f:
    f.write("id,customer,email,amount,status,created_at,updated_at,note\n")
    for i in range(1, rows + 1):
        c = rnd.randrange(100000)
        day = 1 + i % 28
        sec = i % 86400
        hh, mm, ss = sec // 3600, sec // 60 % 60, sec % 60
        note = " ".join(rnd.choice(words) for _ in range(4))
        if i % 50 == 0:
            note = '"' + note + ', with ""quotes""' + '"'
        f.write(f"{i},Customer {c},user{c}@example.com,{rnd.randrange(1, 10**6) / 100:.2f},"
                f"{statuses[i % 6]},2026-10-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}Z,"
                f"2026-11-{day:02d}T{hh:02d}:{mm:02d}:{ss:02d}.{i % 1000:03d}Z,{note}\n")
