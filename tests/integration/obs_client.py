#!/usr/bin/env python3
"""A client for `sluice daemon`'s admin HTTP server, for the integration tests.

    obs_client.py metrics URL SELECTOR...        value of each sample, or "absent"
    obs_client.py wait-metric URL SELECTOR OP N SECONDS
    obs_client.py req METHOD URL [--token T] [--data JSON]   prints "STATUS BODY"
    obs_client.py state URL PIPELINE TABLE [FIELD]            a table's field (default state)
    obs_client.py wait-state URL PIPELINE TABLE STATE SECONDS
    obs_client.py wait-alert FILE EVENT STATUS PIPELINE TABLE SECONDS
                                       (TABLE "" matches an alert of no table)

/metrics is parsed as the Prometheus text exposition format 0.0.4, strictly:
every sample belongs to a family declared once by # TYPE before its samples,
a family's samples are contiguous, names, labels, escapes and values are
well formed, no sample appears twice, counters are not negative, and each
histogram's buckets are cumulative with +Inf equal to _count. A malformed
exposition exits 2 naming the line. SELECTOR is a sample as written in the
exposition: name{label="value",...} (the label set must match exactly).
Python 3 standard library only.
"""
import json
import math
import operator
import re
import sys
import time
import urllib.error
import urllib.request

NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
LABEL = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")
TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class ExpositionError(Exception):
    pass


def parse_value(text, where):
    if text in ("+Inf", "Inf"):
        return math.inf
    if text == "-Inf":
        return -math.inf
    if text == "NaN":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise ExpositionError("%s: value %r is not a number" % (where, text))


def parse_sample(line, where):
    """name{labels} value [timestamp] -> (name, labels dict, value)"""
    m = NAME.match(line)
    if not m:
        raise ExpositionError("%s: no metric name" % where)
    name, i, labels = m.group(0), m.end(), {}
    if i < len(line) and line[i] == "{":
        i += 1
        while True:
            if line[i] == "}":
                i += 1
                break
            lm = LABEL.match(line, i)
            if not lm:
                raise ExpositionError("%s: bad label name at column %d" % (where, i + 1))
            lname, i = lm.group(0), lm.end()
            if line[i:i + 2] != '="':
                raise ExpositionError("%s: expected =\" after label %s" % (where, lname))
            i += 2
            val = []
            while True:
                if i >= len(line):
                    raise ExpositionError("%s: unterminated label value" % where)
                c = line[i]
                if c == "\\":
                    nxt = line[i + 1:i + 2]
                    if nxt not in ("\\", '"', "n"):
                        raise ExpositionError("%s: bad escape \\%s" % (where, nxt))
                    val.append("\n" if nxt == "n" else nxt)
                    i += 2
                elif c == '"':
                    i += 1
                    break
                else:
                    val.append(c)
                    i += 1
            if lname in labels:
                raise ExpositionError("%s: label %s twice" % (where, lname))
            labels[lname] = "".join(val)
            if line[i] == ",":
                i += 1
            elif line[i] != "}":
                raise ExpositionError("%s: expected , or } at column %d" % (where, i + 1))
    rest = line[i:]
    if not rest.startswith(" "):
        raise ExpositionError("%s: expected a space before the value" % where)
    parts = rest.split()
    if len(parts) not in (1, 2):
        raise ExpositionError("%s: expected value [timestamp]" % where)
    value = parse_value(parts[0], where)
    if len(parts) == 2 and not re.fullmatch(r"-?[0-9]+", parts[1]):
        raise ExpositionError("%s: bad timestamp %r" % (where, parts[1]))
    return name, labels, value


def family_of(name, types):
    if name in types:
        return name
    for suffix in ("_bucket", "_sum", "_count"):
        if name.endswith(suffix) and types.get(name[:-len(suffix)]) in ("histogram", "summary"):
            return name[:-len(suffix)]
    return None


def parse(text):
    """-> {(name, frozenset(labels)): value}, {family: type}"""
    if text and not text.endswith("\n"):
        raise ExpositionError("the exposition does not end with a newline")
    types, helps, samples, seen_families, current = {}, {}, {}, set(), None
    for n, line in enumerate(text.split("\n")[:-1] if text else [], 1):
        where = "line %d" % n
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                fam = parts[2]
                if not NAME.fullmatch(fam):
                    raise ExpositionError("%s: bad family name %r" % (where, fam))
                if parts[1] == "TYPE":
                    t = parts[3] if len(parts) > 3 else ""
                    if t not in TYPES:
                        raise ExpositionError("%s: unknown type %r" % (where, t))
                    if fam in types:
                        raise ExpositionError("%s: second TYPE for %s" % (where, fam))
                    if fam in seen_families:
                        raise ExpositionError("%s: TYPE of %s after its samples" % (where, fam))
                    types[fam] = t
                else:
                    if fam in helps:
                        raise ExpositionError("%s: second HELP for %s" % (where, fam))
                    helps[fam] = parts[3] if len(parts) > 3 else ""
            continue
        name, labels, value = parse_sample(line, where)
        fam = family_of(name, types)
        if fam is None:
            raise ExpositionError("%s: sample %s has no # TYPE" % (where, name))
        if fam != current:
            if fam in seen_families:
                raise ExpositionError("%s: samples of %s are not together" % (where, fam))
            seen_families.add(fam)
            current = fam
        key = (name, frozenset(labels.items()))
        if key in samples:
            raise ExpositionError("%s: duplicate sample %s%s" % (where, name, labels))
        if types[fam] == "counter" and value < 0:
            raise ExpositionError("%s: counter %s is negative" % (where, name))
        samples[key] = value
    # histograms: cumulative buckets, +Inf == _count
    for fam, t in types.items():
        if t != "histogram":
            continue
        series = {}
        for (name, lab), v in samples.items():
            if name == fam + "_bucket":
                d = dict(lab)
                le = d.pop("le", None)
                if le is None:
                    raise ExpositionError("%s_bucket without le" % fam)
                series.setdefault(frozenset(d.items()), []).append((parse_value(le, "le"), v))
        for lab, buckets in series.items():
            buckets.sort()
            if buckets[-1][0] != math.inf:
                raise ExpositionError("%s%s: no +Inf bucket" % (fam, dict(lab)))
            for (_, a), (_, b) in zip(buckets, buckets[1:]):
                if b < a:
                    raise ExpositionError("%s%s: buckets not cumulative" % (fam, dict(lab)))
            count = samples.get((fam + "_count", lab))
            if count != buckets[-1][1]:
                raise ExpositionError("%s%s: +Inf bucket %s != _count %s"
                                      % (fam, dict(lab), buckets[-1][1], count))
            if (fam + "_sum", lab) not in samples:
                raise ExpositionError("%s%s: no _sum" % (fam, dict(lab)))
    return samples, types


def selector_key(sel):
    name, labels, _ = parse_sample(sel + " 0", "selector")
    return (name, frozenset(labels.items()))


def http(method, url, token=None, data=None, timeout=10):
    req = urllib.request.Request(url, method=method,
                                 data=data.encode() if data is not None else None)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def scrape(url):
    status, body = http("GET", url)
    if status != 200:
        raise ExpositionError("GET %s: HTTP %d" % (url, status))
    return parse(body)[0]


def fmt(v):
    if v is None:
        return "absent"
    return str(int(v)) if float(v).is_integer() else repr(v)


def table_of(doc, pipeline, table):
    for p in doc["pipelines"]:
        for t in p["tables"]:
            if t["pipeline"] == pipeline and t["table"] == table:
                return t
    return None


OPS = {"==": operator.eq, ">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}


def main(argv):
    cmd = argv[1]
    try:
        if cmd == "metrics":
            samples = scrape(argv[2])
            for sel in argv[3:]:
                print(fmt(samples.get(selector_key(sel))))
        elif cmd == "wait-metric":
            url, sel, op, want, secs = argv[2], argv[3], argv[4], float(argv[5]), float(argv[6])
            key, deadline, v = selector_key(sel), time.time() + secs, None
            while True:
                v = scrape(url).get(key)
                if v is not None and OPS[op](v, want):
                    print(fmt(v))
                    return 0
                if time.time() > deadline:
                    print(fmt(v))
                    return 1
                time.sleep(0.2)
        elif cmd == "req":
            method, url, token, data = argv[2], argv[3], None, None
            rest = argv[4:]
            while rest:
                if rest[0] == "--token":
                    token, rest = rest[1], rest[2:]
                elif rest[0] == "--data":
                    data, rest = rest[1], rest[2:]
                else:
                    raise SystemExit("unknown option " + rest[0])
            status, body = http(method, url, token, data, timeout=60)
            print(status, body.strip().replace("\n", " "))
        elif cmd == "state":
            field = argv[5] if len(argv) > 5 else "state"
            t = table_of(json.loads(http("GET", argv[2] + "/api/status")[1]), argv[3], argv[4])
            v = None if t is None else t.get(field)
            print("absent" if t is None else json.dumps(v) if not isinstance(v, str) else v)
        elif cmd == "wait-state":
            url, p, tb, want, secs = argv[2], argv[3], argv[4], argv[5], float(argv[6])
            deadline = time.time() + secs
            while True:
                t = table_of(json.loads(http("GET", url + "/api/status")[1]), p, tb)
                got = t and t["state"]
                if got == want or time.time() > deadline:
                    print(got)
                    return 0 if got == want else 1
                time.sleep(0.2)
        elif cmd == "wait-alert":
            path, event, status, p, tb, secs = argv[2:8]
            tb = tb or None     # "": an alert about a pipeline (a cdc slot), no table
            deadline = time.time() + float(secs)
            while True:
                try:
                    with open(path) as f:
                        for line in f:
                            a = json.loads(line)
                            if (a.get("event"), a.get("status"), a.get("pipeline"),
                                    a.get("table")) == (event, status, p, tb):
                                print(line.strip())
                                return 0
                except FileNotFoundError:
                    pass
                if time.time() > deadline:
                    return 1
                time.sleep(0.2)
        else:
            raise SystemExit("unknown command " + cmd)
    except ExpositionError as e:
        print("malformed exposition: %s" % e)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
