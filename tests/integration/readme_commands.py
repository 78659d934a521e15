#!/usr/bin/env python3
"""tests/integration/readme_commands.py: run every command line README.md
shows, the way t_readme_commands.sh describes (python3 standard library only).

Reads README.md at run time, so it covers what the README holds when it runs.
Everything the README leaves abstract (a config name, a placeholder, a batch
id written as an example) is mapped to a real value in one place: CONFIGS,
CONTEXT_OF_COMMAND, PLACEHOLDERS and EXPECT below. A command line that cannot
be instantiated fails naming its README line, so whoever wrote it adds a
mapping here.

Environment (set by t_readme_commands.sh): SLUICE_BIN, SL_SRCDIR, T_DIR
(scratch folder), SL_PG_URL (the test cluster), RC_DB_PREFIX (databases this
run creates; the caller drops them), PGHOST/PGPORT/PGUSER (psql).
"""
import json
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

from free_port import free_port  # tests/integration/free_port.py

BIN = os.environ["SLUICE_BIN"]
SRCDIR = os.environ["SL_SRCDIR"]
README = os.path.join(SRCDIR, "README.md")
SCRATCH = os.environ["T_DIR"]
PG_URL = os.environ["SL_PG_URL"]
DB_PREFIX = os.environ["RC_DB_PREFIX"]
TOOL = "tests/integration/readme_commands.py"

# ---------------------------------------------------------------------------
# The mapping: README words -> real things
# ---------------------------------------------------------------------------

# Each config name the README uses: the context it stands for and the folder,
# under that context's root, the command runs in (so the name resolves as the
# README means it). A context is one config built from the README's own
# example (see build_contexts) with a warehouse of its own.
CONFIGS = {
    "quarantine.yaml": ("orders", "."),
    "crm.yaml": ("crm", "."),
    "app.yaml": ("app", "."),
    "quickstart.yaml": ("quickstart", "build/quickstart"),
    "build/quickstart/quickstart.yaml": ("quickstart", "."),
    "crm_cdc.yaml": ("cdc", "."),
}
# CONFIG (the placeholder) stands for the context of its command (a command
# with subcommands: "cdc status").
CONTEXT_OF_COMMAND = {"reconcile": "crm", "replay": "app", "cdc status": "cdc", "cdc drop": "cdc"}
DEFAULT_CONTEXT = "orders"

# Placeholders of a synopsis, and the numbers an example writes in their place
# (`sluice approve quarantine.yaml 42`: 42 is a BATCH). Each maps to a
# function of (context, command word) giving the value; the ones that need
# state make it just before the command runs.
PLACEHOLDERS = {
    "CONFIG": lambda ctx, cmd: ctx.config_name,
    "PIPELINE": lambda ctx, cmd: ctx.pipeline,
    "P": lambda ctx, cmd: ctx.pipeline,
    "TABLE": lambda ctx, cmd: ctx.table,
    "T": lambda ctx, cmd: ctx.table,
    "BATCH": lambda ctx, cmd: ctx.batch_for(cmd),
    "SNAPSHOT": lambda ctx, cmd: ctx.snapshot_id(),
    "ID": lambda ctx, cmd: ctx.dead_letter_id(),
    "S": lambda ctx, cmd: "committed",
    "N": lambda ctx, cmd: "5",
    "TEXT": lambda ctx, cmd: "checked by t_readme_commands",
    "HOST:PORT": lambda ctx, cmd: "127.0.0.1:%d" % free_port(),
    # init: a folder of drops to start from, and a config file not there yet
    "SOURCE": lambda ctx, cmd: os.path.join(SRCDIR, "examples", "drops"),
    "FILE": lambda ctx, cmd: os.path.join(SCRATCH, "init-%d.yaml" % time.monotonic_ns()),
}
# positions whose example numbers are ids made for the command
ID_SLOTS = {"BATCH", "SNAPSHOT", "ID"}
# global options taking a value (before the command word)
GLOBAL_VALUE_OPTS = {"--log-format"}

# The exit status the README gives each command when what it acts on is
# fine, as the contexts arrange it ("Exit codes" table: 0 done; replay: 0
# when everything replayed loaded; reconcile: 0 every table in sync).
EXPECT = {
    None: 0,  # global options alone (--help)
    "init": 0, "check": 0, "run": 0, "daemon": 0, "status": 0, "batches": 0,
    "approve": 0, "reject": 0, "reconcile": 0, "rollback": 0,
    "snapshot": 0, "snapshots": 0, "restore": 0, "replay": 0,
    "cdc status": 0, "cdc drop": 0,
}

# make targets are checked with `make -n` (the target exists and its recipe
# parses) and never run here: run, test, bench, fuzz, soak, install and deb
# are run elsewhere (make test runs this test; bench, fuzz and soak take
# minutes; install and deb need root and packaging), and any other target
# would build or remove the tree this test is running from.
MAKE_NOT_RUN = {"run", "test", "bench", "fuzz", "soak", "install", "deb"}

# ---------------------------------------------------------------------------
# Reporting
# ---------------------------------------------------------------------------
PASSES = 0
FAILS = 0


def ok(msg):
    global PASSES
    PASSES += 1
    print("ok - " + msg, flush=True)


def not_ok(msg, detail=""):
    global FAILS
    FAILS += 1
    print("not ok - " + msg, flush=True)
    lines = detail.rstrip().splitlines()
    if len(lines) > 12:  # a usage message leads, a crash report ends
        lines = lines[:4] + ["..."] + lines[-8:]
    for line in lines:
        print("#   " + line, flush=True)


class Unmapped(Exception):
    """A README command line this test cannot instantiate."""


class SetupFailed(Exception):
    """Making the state a command acts on failed."""


# ---------------------------------------------------------------------------
# Extraction
# ---------------------------------------------------------------------------
SHELL_LANGS = {"sh", "bash", "console", "shell"}
CMD_START = re.compile(r"^(sluice|\./build/sluice|make) ")


def extract(text):
    """[(line number, command text, where)] of every command line README shows:
    lines of sh/bash/console blocks starting with sluice, ./build/sluice or
    make, and backticked `sluice ...` / `./build/sluice ...` / `make ...` in
    prose and tables (a span may run over a line break)."""
    out = []
    lines = text.split("\n")
    fence = None
    para, para_start = [], 0

    def flush():
        nonlocal para
        if para:
            joined = "\n".join(para)
            for m in re.finditer(r"`([^`]+)`", joined):
                span = " ".join(m.group(1).replace("\\|", "|").split())
                if CMD_START.match(span + " ") and span not in ("sluice", "make"):
                    out.append((para_start + joined[: m.start()].count("\n"), span, "inline"))
        para = []

    for n, line in enumerate(lines, 1):
        m = re.match(r"^\s*```+\s*([\w-]*)", line)
        if m:
            flush()
            fence = None if fence is not None else m.group(1).lower()
            continue
        if fence is not None:
            if fence in SHELL_LANGS:
                s = line.strip()
                if fence == "console" and s.startswith("$ "):
                    s = s[2:].strip()
                if CMD_START.match(s):
                    out.append((n, s, "block"))
            continue
        if not line.strip() or line.lstrip().startswith("|") or line.startswith("#"):
            flush()
            if line.strip():
                para, para_start = [line], n
                flush()
            continue
        if not para:
            para_start = n
        para.append(line)
    flush()
    return out


def command_key(words):
    """The command a synopsis is of: its first word, or its first two when
    the second is a subcommand (lower case, as in `cdc status CONFIG`)."""
    if len(words) > 1 and re.fullmatch(r"[a-z][a-z-]*", words[1]):
        return " ".join(words[:2])
    return words[0]


def parse_synopses(text):
    """{command: synopsis text} from the README's command table."""
    syn = {}
    on = False
    for line in text.split("\n"):
        if line.startswith("## "):
            on = line.startswith("## Commands")
            continue
        m = re.match(r"^\| `sluice ([^`]*)` \|", line)
        if on and m:
            s = m.group(1)
            syn[command_key(s.split())] = s
    return syn


class Synopsis:
    """A command's synopsis: its positional slots and its options."""

    def __init__(self, text):
        self.required = []     # required tokens after the command word(s)
        self.groups = []       # optional groups, each a list of tokens
        words = text.split()
        rest = " ".join(words[len(command_key(words).split()):])
        for m in re.finditer(r"\[([^\]]*)\]|(\S+)", rest):
            if m.group(1) is not None:
                self.groups.append(m.group(1).split())
            else:
                self.required.append(m.group(2))
        self.slots = [t for t in self.required if not t.startswith("-")]
        self.slots += [g[0] for g in self.groups if not g[0].startswith("-")]
        self.value_opts = {g[0]: g[1] for g in self.groups
                           if g[0].startswith("-") and len(g) > 1}
        self.value_opts.update({t: self.required[i + 1] for i, t in enumerate(self.required[:-1])
                                if t.startswith("-")})

    def slot(self, i):
        """The placeholder name of positional number i ('ID' for ID...)."""
        if i < len(self.slots):
            return self.slots[i].rstrip(".")
        if self.slots and self.slots[-1].endswith("..."):
            return self.slots[-1].rstrip(".")
        return None


def is_placeholder(tok):
    t = tok.rstrip(".")
    return bool(re.fullmatch(r"[A-Z][A-Z_]*(:[A-Z_]+)?", t)) and (len(t) > 1 or t in PLACEHOLDERS)


def template_forms(tokens):
    """A synopsis-like token list with [optional] groups -> its forms: without
    the optional parts, and with all of them (an a|b choice: a)."""
    text = " ".join(tokens)
    if "[" not in text:
        return [[first_alt(t) for t in tokens]]
    parts = list(re.finditer(r"\[([^\]]*)\]|(\S+)", text))
    minimal = [first_alt(m.group(2)) for m in parts if m.group(2) is not None]
    full = []
    for m in parts:
        full += [first_alt(t) for t in (m.group(1).split() if m.group(1) is not None else [m.group(2)])]
    return [minimal, full] if minimal != full else [minimal]


def first_alt(tok):
    return tok.split("|")[0] if "|" in tok and not tok.startswith("|") else tok


# ---------------------------------------------------------------------------
# Contexts: configs from the README's own examples, each with its warehouse
# ---------------------------------------------------------------------------


def yaml_blocks(text):
    """[(first line number, block text)] of the README's ```yaml blocks."""
    blocks, cur, start = [], None, 0
    for n, line in enumerate(text.split("\n"), 1):
        if re.match(r"^\s*```", line):
            if cur is None and re.match(r"^\s*```\s*yaml", line):
                cur, start = [], n + 1
            elif cur is not None:
                blocks.append((start, "\n".join(cur) + "\n"))
                cur = None
            continue
        if cur is not None:
            cur.append(line)
    return blocks


def find_block(blocks, what, pred):
    for start, b in blocks:
        if pred(b) and not re.search(r"^\s*\.\.\.\s*$", b, re.M):
            return start, b
    raise SetupFailed("README.md has no complete ```yaml block with %s; the %s context of %s "
                      "is built from it" % (what, what, TOOL))


def indent(line):
    return len(line) - len(line.lstrip())


def sub_block(text, key_re):
    """The line matching key_re and the lines indented deeper after it."""
    lines = text.split("\n")
    for i, line in enumerate(lines):
        if re.match(key_re, line):
            out = [line]
            for nxt in lines[i + 1:]:
                if nxt.strip() and indent(nxt) <= indent(line):
                    break
                out.append(nxt)
            return i, out
    return None, []


def drop_sub_block(text, key_re):
    i, block = sub_block(text, key_re)
    if i is None:
        return text
    lines = text.split("\n")
    return "\n".join(lines[:i] + lines[i + len(block):])


def point_connections(text, dest_url, source_url):
    """Every connection's url -> the test's: destinations to dest_url, the
    others (sources) to source_url; a destination with no connection gets
    one. Commented lines stay as they are."""
    dests = set(re.findall(r"^\s*destination:\s*([\w-]+)", text, re.M))

    def repl(m):
        name = m.group(2)
        return m.group(1) + '"%s"' % (dest_url if name in dests else source_url)
    text = re.sub(r'^(\s*([\w-]+):\s*\{\s*url:\s*)"[^"]*"', repl, text, flags=re.M)
    missing = [d for d in sorted(dests)
               if not re.search(r"^\s*%s:\s*\{\s*url:" % re.escape(d), text, re.M)]
    if missing:
        conns = "".join('  %s: { url: "%s" }\n' % (d, dest_url) for d in missing)
        if re.search(r"^connections:\s*$", text, re.M):
            text = re.sub(r"^connections:\s*\n", "connections:\n" + conns, text, count=1, flags=re.M)
        else:
            text = "connections:\n" + conns + text
    return text


def admin_address(text, port):
    """The daemon's admin address on a free port, so parallel tests never meet
    on the default 127.0.0.1:8765."""
    if re.search(r"^http:", text, re.M):
        return re.sub(r'^(http:.*listen:\s*)"[^"]*"', r'\g<1>"127.0.0.1:%d"' % port, text,
                      count=1, flags=re.M)
    return 'http: { listen: "127.0.0.1:%d" }\n' % port + text


def first_name_after(text, key):
    after = text.split(key, 1)[1] if key in text else ""
    m = re.search(r"name:\s*([^,}\s]+)", after)
    return m.group(1) if m else None


def run_quiet(argv, cwd, timeout=60):
    return subprocess.run(argv, cwd=cwd, capture_output=True, text=True, timeout=timeout)


def psql(db, sql):
    r = subprocess.run(["psql", "-qXAt", "-v", "ON_ERROR_STOP=1", "-d", db, "-c", sql],
                       capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        raise SetupFailed("psql %s: %s" % (db, r.stderr.strip()))
    return r.stdout.strip()


class Context:
    """One config built from the README, in a folder and a warehouse of its own."""

    def __init__(self, name, pass_name, root, text, config_name):
        self.name = name
        self.pass_name = pass_name
        self.root = root
        self.config_name = config_name  # what CONFIG becomes
        self.is_pg = pass_name == "postgresql"
        self.db = "%s_%s_%s" % (DB_PREFIX, pass_name[:2], name)
        self.dest_url = "%s/%s" % (PG_URL, self.db) if self.is_pg else "sqlite://warehouse.db"
        self.sqlite = os.path.join(root, os.path.dirname(config_name), "warehouse.db")
        self.admin_port = free_port()
        self.text = admin_address(text, self.admin_port)
        self.pipeline = first_name_after(self.text, "pipelines:")
        self.table = first_name_after(self.text, "tables:")
        self.next_id = 1000
        self.dead_letters = []
        self.dl_next = 0
        os.makedirs(root, exist_ok=True)
        if self.is_pg:
            psql("postgres", 'CREATE DATABASE "%s"' % self.db)

    def write(self, text=None):
        if text is not None:
            self.text = text
        for name, (ctx, where) in CONFIGS.items():
            if ctx == self.name:
                path = os.path.join(self.root, where, name)
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "w") as f:
                    f.write(self.text)
        path = os.path.join(self.root, self.config_name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(self.text)

    def sluice(self, *args, want=(0,)):
        r = run_quiet([BIN] + list(args), self.root)
        if r.returncode not in want:
            raise SetupFailed("sluice %s (in %s): exit %d\n%s" % (
                " ".join(args), self.root, r.returncode, r.stderr))
        return r

    def query(self, sql):
        """sql with {batches} / {dead_letter} for sluice's own tables."""
        if self.is_pg:
            return psql(self.db, sql.format(batches="_sluice.batches",
                                            dead_letter="_sluice.dead_letter"))
        r = subprocess.run(["sqlite3", "-batch", "-noheader", self.sqlite,
                            sql.format(batches='"_sluice_batches"',
                                       dead_letter='"_sluice_dead_letter"')],
                           capture_output=True, text=True, timeout=60)
        if r.returncode != 0:
            raise SetupFailed("sqlite3 %s: %s" % (self.sqlite, r.stderr.strip()))
        return r.stdout.strip()

    # -- drops (the files contexts) --
    def drop(self, rows):
        m = re.search(r"^\s*path:\s*([^\s#]+)", self.text, re.M)
        if not m:
            raise SetupFailed("context %s has no drop folder (path:)" % self.name)
        folder = os.path.join(self.root, os.path.dirname(self.config_name), m.group(1))
        os.makedirs(folder, exist_ok=True)
        name = "readme-%d.csv" % self.next_id
        tmp = os.path.join(folder, "." + name + ".tmp")
        with open(tmp, "w") as f:
            f.write("id,amount,updated_at,email,status\n")
            for i in rows:
                f.write("%d,12.50,2026-01-05 10:00:00,buyer%d@example.com,paid\n" % (i, i))
        past = time.time() - 10
        os.utime(tmp, (past, past))
        os.rename(tmp, os.path.join(folder, name))

    def fresh_ids(self, n):
        ids = list(range(self.next_id, self.next_id + n))
        self.next_id += n
        return ids

    def committed_batch(self):
        self.drop(self.fresh_ids(3))
        self.sluice("run", self.config_name)
        return self.query("SELECT max(id) FROM {batches} WHERE state = 'committed' "
                          "AND table_name = '%s'" % self.table)

    def quarantined_batch(self):
        a, b = self.fresh_ids(2)
        self.drop([a, a, b])  # a key twice: unique_key holds the batch
        self.sluice("run", self.config_name, want=(3,))
        return self.query("SELECT max(id) FROM {batches} WHERE state = 'quarantined' "
                          "AND table_name = '%s'" % self.table)

    def batch_for(self, cmd):
        if self.name not in ("orders", "quickstart"):
            raise Unmapped("no way to make a batch for %s in context %s; add one to "
                           "Context.batch_for in %s" % (cmd, self.name, TOOL))
        if cmd in ("approve", "reject"):
            if self.name != "orders":
                raise Unmapped("context %s has no gate to hold a batch; map the config "
                               "to the orders context in CONFIGS of %s" % (self.name, TOOL))
            return self.quarantined_batch()
        return self.committed_batch()

    def snapshot_id(self):
        r = self.sluice("snapshot", self.config_name, self.table, "--json")
        return str(json.loads(r.stdout)["id"])

    def dead_letter_id(self):
        if not self.dead_letters:
            raise Unmapped("context %s has no dead letters; ID values come from the app "
                           "context of %s" % (self.name, TOOL))
        i = self.dead_letters[self.dl_next % len(self.dead_letters)]
        self.dl_next += 1
        return i

    def before(self, cmd):
        """State a command acts on: a fresh drop for run."""
        if cmd == "run" and self.name == "orders":
            self.drop(self.fresh_ids(3))


def build_contexts(text, pass_name):
    blocks = yaml_blocks(text)
    root = os.path.join(SCRATCH, pass_name)
    ctxs = {}

    # orders: the first complete files config, with the gates of the
    # "Gates and quarantine" example on its table (quarantine.yaml)
    _, files = find_block(blocks, "a files pipeline (connections: and kind: files)",
                          lambda b: "connections:" in b and "kind: files" in b)
    _, gates = find_block(blocks, "gates: for a table",
                          lambda b: re.search(r"^\s*gates:\s*$", b, re.M) is not None)
    _, gate_lines = sub_block(gates, r"^\s*gates:\s*$")
    ti, table_lines = sub_block(files, r"^\s*- name:\s*%s\s*$" % re.escape(
        first_name_after(files, "tables:") or "?"))
    if ti is None:
        raise SetupFailed("the files config's table is not written as `- name: X` on a line "
                          "of its own; build_contexts in %s needs to learn it" % TOOL)
    key_indent = indent(table_lines[1]) if len(table_lines) > 1 else indent(table_lines[0]) + 2
    shift = key_indent - indent(gate_lines[0])
    moved = [(" " * shift + l) if l.strip() else l for l in gate_lines]
    lines = files.split("\n")
    at = ti + len(table_lines)
    while at > ti and not lines[at - 1].strip():
        at -= 1
    orders = "\n".join(lines[:at] + moved + lines[at:])
    c = Context("orders", pass_name, os.path.join(root, "orders"), orders, "orders.yaml")
    c.write(point_connections(c.text, c.dest_url, c.dest_url))
    ctxs["orders"] = c

    # crm: the PostgreSQL source example, its source a database of the test
    # cluster holding the tables the example names (setup_crm_source)
    _, crm = find_block(blocks, "a postgres source (kind: postgres)",
                        lambda b: "kind: postgres" in b and "connections:" in b)
    c = Context("crm", pass_name, os.path.join(root, "crm"), crm, "crm.yaml")
    c.write(point_connections(c.text, c.dest_url, "%s/%s_crm_source" % (PG_URL, DB_PREFIX)))
    ctxs["crm"] = c

    # app: the events example (http source), with a warehouse connection
    _, app = find_block(blocks, "an http source (kind: http)", lambda b: "kind: http" in b)
    c = Context("app", pass_name, os.path.join(root, "app"), app, "app.yaml")
    c.events_port = free_port()
    c.write(re.sub(r'^(\s*listen:\s*)"[^"]*"', r'\g<1>"127.0.0.1:%d"' % c.events_port,
                   point_connections(c.text, c.dest_url, c.dest_url), count=1, flags=re.M))
    ctxs["app"] = c

    # quickstart: examples/quickstart.yaml and its drops, as `make run` copies them
    with open(os.path.join(SRCDIR, "examples/quickstart.yaml")) as f:
        qs = f.read()
    c = Context("quickstart", pass_name, os.path.join(root, "quickstart"), qs,
                "build/quickstart/quickstart.yaml")
    shutil.copytree(os.path.join(SRCDIR, "examples/drops"),
                    os.path.join(c.root, "build/quickstart/drops"))
    c.write(point_connections(c.text, c.dest_url, c.dest_url))
    ctxs["quickstart"] = c

    # cdc: the change data capture example (its tables in the crm source
    # database), with the connections it names; the slot and publication
    # get this run's and this pass's names, as slots are the cluster's
    _, cdc = find_block(blocks, "a cdc source (cdc: and kind: cdc)",
                        lambda b: "cdc:" in b and "kind: cdc" in b)
    tag = "%s_%s" % (DB_PREFIX.rsplit("_", 1)[-1], pass_name[:2])
    cdc = re.sub(r"\b(slot|publication):\s*([a-z0-9_]+)", r"\1: \2_" + tag, cdc)
    src = re.search(r"connection:\s*([\w-]+)", cdc)
    dest = re.search(r"destination:\s*([\w-]+)", cdc)
    if not src or not dest:
        raise SetupFailed("the README's cdc example names no connection: or destination:; "
                          "build_contexts in %s needs to learn it" % TOOL)
    c = Context("cdc", pass_name, os.path.join(root, "cdc"), cdc, "crm_cdc.yaml")
    conns = 'connections:\n  %s: { url: "%s/%s_crm_source" }\n  %s: { url: "%s" }\n' % (
        src.group(1), PG_URL, DB_PREFIX, dest.group(1), c.dest_url)
    c.write(conns + c.text)
    ctxs["cdc"] = c
    return ctxs


def setup_crm_source():
    db = "%s_crm_source" % DB_PREFIX
    psql("postgres", 'CREATE DATABASE "%s"' % db)
    psql(db, """
        CREATE TABLE public.customers (id bigint PRIMARY KEY, name text, email text,
                                       updated_at timestamptz NOT NULL);
        INSERT INTO public.customers
          SELECT g, 'customer ' || g, 'c' || g || '@example.com', now() - interval '1 day' + g * interval '1 s'
          FROM generate_series(1, 50) g;
        CREATE TABLE public.plans (code text PRIMARY KEY, price numeric);
        INSERT INTO public.plans VALUES ('basic', 9.90), ('pro', 29.00);
        CREATE SCHEMA sales;
        CREATE TABLE sales.orders (id bigint PRIMARY KEY, customer bigint, total numeric);
        INSERT INTO sales.orders SELECT g, g % 50 + 1, g * 1.5 FROM generate_series(1, 20) g;""")


def setup_state(ctxs):
    """What the commands act on, made before any runs."""
    o = ctxs["orders"]
    o.committed_batch()
    ctxs["crm"].sluice("run", "crm.yaml")
    ctxs["cdc"].sluice("run", "crm_cdc.yaml")
    setup_dead_letters(ctxs["app"])


def setup_dead_letters(c):
    """Events posted to the app config's collector, some breaking its gate's
    rule (dead-lettered); then the cause fixed (the gate removed from the
    config), so each dead letter replays."""
    if not re.search(r"^\s*gates:", c.text, re.M):
        raise SetupFailed("the README's http example has no gates: to break; "
                          "setup_dead_letters in %s needs another cause" % TOOL)
    token = os.environ["SLUICE_TOKEN"]
    d = subprocess.Popen([BIN, "daemon", c.config_name], cwd=c.root,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_healthz(d, c.admin_port)
        id_path = event_path(c.text, "event_id")
        amount_path = event_path(c.text, "amount")
        body = ""
        for i in range(4):
            ev = {}
            put(ev, id_path, "readme-%s-%d" % (c.pass_name, i))
            put(ev, amount_path, -5 if i < 3 else 5)
            ev["ts"] = "2026-01-05T10:00:00Z"
            body += json.dumps(ev) + "\n"
        url = "http://127.0.0.1:%d/v1/events/%s" % (c.events_port, c.pipeline)
        req = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Authorization": "Bearer " + token})
        deadline = time.time() + 20
        while True:
            try:
                with urllib.request.urlopen(req, timeout=20) as r:
                    answer = json.loads(r.read())
                break
            except (urllib.error.URLError, ConnectionError) as e:
                if isinstance(e, urllib.error.HTTPError) or time.time() > deadline:
                    raise SetupFailed("POST %s: %s" % (url, e))
                time.sleep(0.1)
        if answer.get("dead_lettered") != 3:
            raise SetupFailed("POST %s: expected 3 dead-lettered events, got %s" % (url, answer))
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(20)
        except subprocess.TimeoutExpired:
            d.kill()
            d.wait()
    c.write(drop_sub_block(c.text, r"^\s*gates:"))
    ids = c.query("SELECT id FROM {dead_letter} WHERE pipeline = '%s' ORDER BY id" % c.pipeline)
    c.dead_letters = ids.split()
    if len(c.dead_letters) != 3:
        raise SetupFailed("expected 3 dead letters in the app warehouse, found %r" % ids)


def event_path(text, column):
    """The JSON path of a column of the http example (event_id:, paths:)."""
    if column == "event_id":
        m = re.search(r"^\s*event_id:\s*([\w.]+)", text, re.M)
    else:
        m = re.search(r"paths:.*\b%s:\s*([\w.]+)" % re.escape(column), text)
    return m.group(1) if m else column


def put(obj, path, value):
    keys = path.split(".")
    for k in keys[:-1]:
        obj = obj.setdefault(k, {})
    obj[keys[-1]] = value


def wait_healthz(proc, port, seconds=20):
    deadline = time.time() + seconds
    while time.time() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with urllib.request.urlopen("http://127.0.0.1:%d/healthz" % port, timeout=2) as r:
                if r.status == 200:
                    return True
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.05)
    raise SetupFailed("the daemon did not answer /healthz on 127.0.0.1:%d within %d s"
                      % (port, seconds))


# ---------------------------------------------------------------------------
# Instantiation and running
# ---------------------------------------------------------------------------
def split_command(text):
    """Tokens of one command (comments and anything after a pipe or ; cut)."""
    try:
        toks = shlex.split(text, comments=True)
    except ValueError:
        toks = text.split()
    for i, t in enumerate(toks):
        if t in ("|", "||", "&&", ";", ">", "2>", "<"):
            return toks[:i]
    return toks


def instantiate(tokens, synopses, ctxs):
    """README tokens (after the program) -> (context, cwd, argv after the
    program, command word). Raises Unmapped."""
    i = 0
    glob = []
    while i < len(tokens) and tokens[i].startswith("-"):
        glob.append(first_alt(tokens[i]))
        if tokens[i] in GLOBAL_VALUE_OPTS and i + 1 < len(tokens):
            glob.append(first_alt(tokens[i + 1]))
            i += 1
        i += 1
    if i == len(tokens):
        return ctxs[DEFAULT_CONTEXT], ctxs[DEFAULT_CONTEXT].root, glob, None
    cmd, rest = tokens[i], tokens[i + 1:]
    words = [cmd]
    if rest and "%s %s" % (cmd, rest[0]) in synopses:   # a subcommand: cdc status
        words.append(rest[0])
        cmd, rest = "%s %s" % (cmd, rest[0]), rest[1:]
    syn = Synopsis(synopses[cmd]) if cmd in synopses else None
    # a mention (`sluice approve`, `sluice batches --json`): the synopsis'
    # required arguments first
    # (a required option with its value, `init --from SOURCE`, when the
    # mention does not give it)
    if syn and (not rest or rest[0].startswith("-")):
        req, k = [], 0
        while k < len(syn.required):
            t = syn.required[k]
            if t.startswith("-"):
                given = t in rest
                if k + 1 < len(syn.required) and not syn.required[k + 1].startswith("-"):
                    if not given:
                        req += [t, syn.required[k + 1]]
                    k += 2
                    continue
                if not given:
                    req.append(t)
            else:
                req.append(t)
            k += 1
        rest = req + rest
    # the context: from the config the line names, else from the command
    ctx, cwd = None, None
    conf = rest[0] if rest else None
    if conf and conf in CONFIGS:
        ctx = ctxs[CONFIGS[conf][0]]
        cwd = os.path.join(ctx.root, CONFIGS[conf][1])
    elif conf and re.search(r"\.ya?ml$", conf):
        raise Unmapped('no config mapped for "%s"; add it to CONFIGS in %s' % (conf, TOOL))
    else:
        ctx = ctxs[CONTEXT_OF_COMMAND.get(cmd, DEFAULT_CONTEXT)]
        cwd = ctx.root
    out = []
    slot = 0
    j = 0
    while j < len(rest):
        t = rest[j]
        if t.startswith("-"):
            out.append(t)
            if syn and t in syn.value_opts and j + 1 < len(rest):
                j += 1
                out.append(value_of(rest[j], None, ctx, cmd))
            j += 1
            continue
        # beyond the synopsis' slots (None) a token stays as written, for
        # sluice to refuse
        name = syn.slot(slot) if syn else None
        out.append(value_of(t, name, ctx, cmd))
        slot += 1
        j += 1
    return ctx, cwd, glob + words + out, cmd


def value_of(tok, slot, ctx, cmd):
    if is_placeholder(tok):
        key = tok.rstrip(".")
        if key not in PLACEHOLDERS:
            raise Unmapped('no value for the placeholder %s; add it to PLACEHOLDERS in %s'
                           % (key, TOOL))
        return str(PLACEHOLDERS[key](ctx, cmd))
    if slot in ID_SLOTS and re.fullmatch(r"\d+", tok):
        return str(PLACEHOLDERS[slot](ctx, cmd))
    return tok


def refused(rc, err):
    return rc == 2 and ("usage:" in err or "unknown option" in err)


def crashed(rc, err):
    return rc < 0 or rc >= 128 or "AddressSanitizer" in err or "runtime error:" in err \
        or "LeakSanitizer" in err


def json_ok(out):
    try:
        json.loads(out)
        return True
    except ValueError:
        pass
    lines = [l for l in out.splitlines() if l.strip()]
    try:
        for l in lines:
            json.loads(l)
        return bool(lines)
    except ValueError:
        return False


def run_daemon(argv, cwd, ctx):
    """Start the daemon, wait for its admin address, stop it with SIGTERM:
    (exit status, or None when it would not come up or stop; its stderr).
    The log goes to a file: a pipe nobody reads while it runs could fill and
    stall it."""
    port = ctx.admin_port
    if "--listen" in argv:
        port = int(argv[argv.index("--listen") + 1].rsplit(":", 1)[1])
    log = os.path.join(SCRATCH, "daemon.err")
    with open(log, "w") as errf:
        d = subprocess.Popen([BIN] + argv, cwd=cwd, stdout=subprocess.DEVNULL, stderr=errf)
    problem = ""
    try:
        if wait_healthz(d, port):
            d.send_signal(signal.SIGTERM)
        d.wait(30)
        rc = d.returncode
    except (SetupFailed, subprocess.TimeoutExpired) as e:
        d.kill()
        d.wait()
        rc, problem = None, (str(e) if isinstance(e, SetupFailed) else
                             "did not stop within 30 s of SIGTERM")
    with open(log) as f:
        return rc, f.read() + problem


def run_line(n, text, synopses, ctxs, pass_name):
    toks = split_command(text)
    prog, args = toks[0], toks[1:]
    text = " ".join(toks)
    if prog == "make":
        if pass_name != "sqlite":
            return  # once is enough: it does not touch a warehouse
        target = args[0] if args else ""
        r = run_quiet(["make", "-n", "-C", SRCDIR] + args, SRCDIR)
        why = "" if target not in MAKE_NOT_RUN else ", not run here"
        if r.returncode == 0:
            ok("README line %d: %s (target exists: make -n%s)" % (n, text, why))
        else:
            not_ok("README line %d: %s: make -n refuses it" % (n, text), r.stderr)
        return
    forms = template_forms(args) if any(is_placeholder(t) or "[" in t for t in args) else [args]
    for form in forms:
        label = "README line %d: " % n
        try:
            ctx, cwd, argv, cmd = instantiate(form, synopses, ctxs)
            shown = "%s %s [%s]" % (prog, " ".join(shlex.quote(a) for a in argv), pass_name)
            label += shown
            if cmd is not None:
                ctx.before(cmd)
        except Unmapped as e:
            not_ok(label + "%s %s: cannot instantiate: %s" % (prog, " ".join(form), e))
            continue
        except (SetupFailed, subprocess.TimeoutExpired) as e:
            not_ok(label + "%s %s: could not make what it acts on" % (prog, " ".join(form)),
                   str(e))
            continue
        if cmd == "daemon":
            rc, err = run_daemon(argv, cwd, ctx)
            out = ""
        else:
            try:
                r = run_quiet([BIN] + argv, cwd)
                rc, err, out = r.returncode, r.stderr, r.stdout
            except subprocess.TimeoutExpired:
                not_ok(label + ": did not finish within 60 s")
                continue
        if rc is None:
            not_ok(label + ": did not run as a daemon", err)
        elif refused(rc, err):
            not_ok(label + ": refused as usage (exit 2)", err)
        elif crashed(rc, err):
            not_ok(label + ": crashed (exit %d)" % rc, err)
        elif cmd in EXPECT and rc != EXPECT[cmd]:
            not_ok(label + ": exit %d, the README says %d" % (rc, EXPECT[cmd]), err + out)
        elif "--json" in argv and not json_ok(out):
            not_ok(label + ": --json printed no JSON", out)
        else:
            ok(label)


def main():
    with open(README) as f:
        text = f.read()
    synopses = parse_synopses(text)
    commands = extract(text)
    if not synopses:
        not_ok("README.md has a command table under ## Commands")
    if not commands:
        not_ok("README.md shows command lines")
    for var in ("SLUICE_TOKEN", "SLUICE_ADMIN_TOKEN", "CRM_PASSWORD", "WH_PASSWORD", "PD_KEY"):
        os.environ.setdefault(var, "readme-test-" + var.lower())
    setup_crm_source()
    for pass_name in ("sqlite", "postgresql"):
        try:
            ctxs = build_contexts(text, pass_name)
            setup_state(ctxs)
        except (SetupFailed, subprocess.TimeoutExpired) as e:
            not_ok("set up the README's examples against %s" % pass_name, str(e))
            continue
        for n, cmd_text, _ in commands:
            run_line(n, cmd_text, synopses, ctxs, pass_name)
    print("%d passed, %d failed" % (PASSES, FAILS))
    return 0 if FAILS == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
