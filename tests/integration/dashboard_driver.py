#!/usr/bin/env python3
"""Drive sluice's dashboard in headless Chromium through chromedriver's W3C
WebDriver HTTP API (Python 3 standard library only), for t_dashboard.sh.

    dashboard_driver.py URL TOKEN BATCH OUTDIR PIPELINE...

Loads URL, waits until the page shows every PIPELINE (a card each, with a
state word and its colour) and no batch (they show data values: the page
asks for the token), enters TOKEN in the page's token dialog, checks that
quarantined batch BATCH is then shown with its gate report, writes
OUTDIR/dashboard-quarantined.png, clicks Approve on it, confirms (the token
is not asked again), waits until the page
shows the batch committed and nothing held, and writes
OUTDIR/dashboard-approved.png. Prints "ok - ..." / "not ok - ..." lines
like the shell harness, and the screenshots' paths. Exit 0 when all passed.
Chromium runs with --no-sandbox: the tests run as root in CI.
"""
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from free_port import free_port  # tests/integration/free_port.py

ELEMENT = "element-6066-11e4-a52e-4f735466cecf"
FAILS = 0


def ok(cond, what, detail=""):
    global FAILS
    if cond:
        print("ok - dashboard: " + what)
    else:
        FAILS += 1
        print("not ok - dashboard: " + what + (("\n#   " + detail) if detail else ""))
    sys.stdout.flush()
    return cond




class WebDriver:
    def __init__(self, port):
        self.base = "http://127.0.0.1:%d" % port
        self.sid = None

    def call(self, method, path, body=None, timeout=60):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return json.loads(r.read().decode() or "{}").get("value")
        except urllib.error.HTTPError as e:
            raise RuntimeError("%s %s: HTTP %d %s" % (method, path, e.code, e.read()[:400]))

    def s(self, method, path, body=None):
        return self.call(method, "/session/%s%s" % (self.sid, path), body)

    def start(self, binary):
        caps = {"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": binary,
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu",
                         "--disable-dev-shm-usage", "--window-size=1400,1100",
                         "--no-first-run", "--no-default-browser-check",
                         "--user-data-dir=" + tempfile.mkdtemp(prefix="sluice-chromium-")],
            }}}}
        v = self.call("POST", "/session", caps, timeout=120)
        self.sid = v["sessionId"]

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def find(self, css):
        return self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]

    def click(self, css):
        self.s("POST", "/element/%s/click" % self.find(css), {})

    def type(self, css, text):
        self.s("POST", "/element/%s/value" % self.find(css), {"text": text})

    def screenshot(self, path):
        png = base64.b64decode(self.s("GET", "/screenshot"))
        with open(path, "wb") as f:
            f.write(png)
        return png

    def quit(self):
        if self.sid:
            try:
                self.call("DELETE", "/session/" + self.sid, timeout=20)
            except Exception:
                pass


def wait(fn, secs, step=0.2):
    deadline = time.time() + secs
    while True:
        v = fn()
        if v or time.time() > deadline:
            return v
        time.sleep(step)


PAGE_STATE = """
const cards = [...document.querySelectorAll('section[data-pipeline]')].map(c => {
  const b = c.querySelector('h3 .badge');
  return {name: c.dataset.pipeline, state: b ? b.textContent : null,
          colour: b ? getComputedStyle(b).backgroundColor : null,
          tables: [...c.querySelectorAll('tbody tr')].map(r => r.dataset.table)};
});
const held = [...document.querySelectorAll('#quarantine .held')].map(h => ({
  batch: h.dataset.batch, gates: [...h.querySelectorAll('.gate')].map(g => g.dataset.gate),
  approve: !!h.querySelector('button[data-action=approve]')}));
const rows = Object.fromEntries([...document.querySelectorAll('#batches tbody tr[data-batch]')]
  .map(r => [r.dataset.batch, r.dataset.state]));
return {title: document.title, cards, held, rows,
        modal: getComputedStyle(document.getElementById('modal')).display,
        flash: document.getElementById('flash').textContent};
"""


def main():
    url, token, batch, outdir = sys.argv[1:5]
    pipelines = sys.argv[5:]
    os.makedirs(outdir, exist_ok=True)
    binary = shutil.which("chromium") or "/usr/bin/chromium"
    port = free_port()
    log = open(os.path.join(outdir, "chromedriver.log"), "w")
    drv = subprocess.Popen(["chromedriver", "--port=%d" % port], stdout=log, stderr=log)
    wd = WebDriver(port)
    try:
        if not wait(lambda: _up(wd), 20):
            ok(False, "chromedriver starts")
            return 1
        wd.start(binary)
        wd.s("POST", "/url", {"url": url})
        st = wait(lambda: len(wd.js(PAGE_STATE)["cards"]) == len(pipelines) and
                  wd.js("return !!document.getElementById('signin')"), 20)
        st = wd.js(PAGE_STATE)
        ok(not st["held"] and not st["rows"], "without the token no batch is shown",
           json.dumps([st["held"], st["rows"]]))
        wd.click("#signin")
        ok(wait(lambda: wd.js(PAGE_STATE)["modal"] == "flex", 5), "the page asks for the token")
        wd.type("#token", token)
        wd.click("#confirm")
        st = wait(lambda: _ready(wd, pipelines, batch), 20)
        st = wd.js(PAGE_STATE)
        ok(st["title"] == "sluice", "the page loads", st["title"])
        want = os.environ.get("SL_EXPECT_VERSION")
        if want:
            shown = wd.js("return document.getElementById('footer').textContent")
            ok(shown == "sluice " + want, "the footer shows the version (sluice --version)",
               "%r != %r" % (shown, "sluice " + want))
        names = [c["name"] for c in st["cards"]]
        ok(names == pipelines, "shows the config's pipelines in order", "%s != %s" % (names, pipelines))
        by = {c["name"]: c for c in st["cards"]}
        states = {n: by[n]["state"] for n in by}
        ok(all(s in ("ok", "running", "quarantined", "failing", "stale", "never loaded")
               for s in states.values()), "each pipeline shows a state word", str(states))
        colours = {c["state"]: c["colour"] for c in st["cards"]}
        ok(len(set(colours.values())) == len(colours),
           "each state has its own colour", json.dumps(colours))
        held = [h for h in st["held"] if h["batch"] == batch]
        ok(held and held[0]["approve"], "quarantined batch %s shown with an Approve button" % batch,
           json.dumps(st["held"]))
        ok(held and "rules" in held[0]["gates"], "its gate report is shown (rules)",
           json.dumps(st["held"]))
        shot1 = os.path.join(outdir, "dashboard-quarantined.png")
        png = wd.screenshot(shot1)
        ok(png[:8] == b"\x89PNG\r\n\x1a\n", "screenshot written: " + shot1)

        wd.click('#quarantine button[data-action="approve"][data-batch="%s"]' % batch)
        ok(wait(lambda: wd.js(PAGE_STATE)["modal"] == "flex", 5),
           "Approve asks for confirmation")
        ok(not wd.js("return document.getElementById('token-row').offsetParent !== null"),
           "the token is not asked again")
        wd.type("#note", "approved in the browser test")
        wd.click("#confirm")
        st = wait(lambda: _approved(wd, batch), 20) or wd.js(PAGE_STATE)
        ok(st["rows"].get(batch) == "committed",
           "after approve the batch shows committed", json.dumps(st["rows"]))
        ok(not any(h["batch"] == batch for h in st["held"]), "nothing held any more",
           json.dumps(st["held"]))
        ok("approved" in st["flash"], "the page says it was approved", st["flash"])
        shot2 = os.path.join(outdir, "dashboard-approved.png")
        wd.screenshot(shot2)
        print("# screenshots: %s %s" % (shot1, shot2))
    except Exception as e:     # a WebDriver failure is a test failure, with its reason
        ok(False, "WebDriver session", repr(e))
    finally:
        wd.quit()
        drv.terminate()
        try:
            drv.wait(10)
        except subprocess.TimeoutExpired:
            drv.kill()
        log.close()
    return 1 if FAILS else 0


def _up(wd):
    try:
        return wd.call("GET", "/status", timeout=2).get("ready")
    except Exception:
        return False


def _ready(wd, pipelines, batch):
    st = wd.js(PAGE_STATE)
    return (len(st["cards"]) == len(pipelines) and
            any(h["batch"] == batch for h in st["held"])) and st


def _approved(wd, batch):
    st = wd.js(PAGE_STATE)
    return st["rows"].get(batch) == "committed" and st


if __name__ == "__main__":
    sys.exit(main())
