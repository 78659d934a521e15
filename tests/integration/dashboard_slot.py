#!/usr/bin/env python3
"""Check a cdc pipeline's slot line on sluice's dashboard in headless
Chromium, for t_cdc_ops.sh (WebDriver as dashboard_driver.py drives it).

    dashboard_slot.py URL PIPELINE SLOT OVER OUTDIR

Loads URL and waits until the card of PIPELINE shows the line of SLOT with
the WAL it keeps, marked over its limits as OVER says ("retained lag": both
alerting; "" none), then writes OUTDIR/dashboard-slot.png. Prints "ok - ..."
/ "not ok - ..." lines like the shell harness. Exit 0 when all passed.
"""
import json
import os
import shutil
import subprocess
import sys

from dashboard_driver import WebDriver, wait, _up  # tests/integration/dashboard_driver.py
from free_port import free_port

FAILS = 0


def ok(cond, what, detail=""):
    global FAILS
    if not cond:
        FAILS += 1
    print(("ok - " if cond else "not ok - ") + "dashboard: " + what +
          ("" if cond or not detail else "\n#   " + detail))
    sys.stdout.flush()
    return cond


SLOT_LINE = """
const card = document.querySelector('section[data-pipeline="' + arguments[0] + '"]');
const line = card && card.querySelector('.slot[data-slot]');
return line ? {slot: line.dataset.slot, over: line.dataset.over, text: line.textContent,
               retained: line.dataset.retained, colour: getComputedStyle(line).color} : null;
"""


def main():
    url, pipeline, slot, over, outdir = sys.argv[1:6]
    os.makedirs(outdir, exist_ok=True)
    port = free_port()
    log = open(os.path.join(outdir, "chromedriver-slot.log"), "w")
    drv = subprocess.Popen(["chromedriver", "--port=%d" % port], stdout=log, stderr=log)
    wd = WebDriver(port)
    try:
        if not ok(wait(lambda: _up(wd), 20), "chromedriver starts"):
            return 1
        wd.start(shutil.which("chromium") or "/usr/bin/chromium")
        wd.s("POST", "/url", {"url": url})
        line = wait(lambda: (lambda l: l if l and l["over"] == over else None)(
            wd.js(SLOT_LINE, pipeline)), 20) or wd.js(SLOT_LINE, pipeline)
        ok(line is not None and line["slot"] == slot,
           "the card of %s shows slot %s" % (pipeline, slot), json.dumps(line))
        ok(line is not None and line["over"] == over,
           "the slot is marked over %r" % over, json.dumps(line))
        ok(line is not None and "keeps " in line["text"] and " of WAL" in line["text"]
           and "not confirmed" in line["text"] and "lag " in line["text"],
           "it says the WAL kept, not confirmed, and the lag: %s" % (line or {}).get("text"),
           json.dumps(line))
        shot = os.path.join(outdir, "dashboard-slot.png")
        wd.screenshot(shot)
        ok(os.path.getsize(shot) > 0, "screenshot written: " + shot)
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


if __name__ == "__main__":
    sys.exit(main())
