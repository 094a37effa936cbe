#!/usr/bin/env python3
"""Renders a `superglue rank --report` page in headless Chromium, saves a screenshot and prints
what the page looked like once its script had run, as JSON on stdout.

    python3 Tools/report/screenshot.py report.html shot.png [--width 1280] [--height 2200] [--measure]

Needs Debian's `chromium` package (`apt-get install chromium`; $CHROMIUM names another binary).
Without it the script prints a line starting with "skip:" and exits with status 77, the
conventional "skipped" status, so callers (the Swift test) can tell it from a failure.

The JSON holds:
  screenshot, screenshot_bytes     the PNG written
  parsed_ms                        page load and parse time up to the page's script (navigation start
                                   to script start, from the page's own `data-parsed-ms`)
  ready_ms                         the script's own time: parse the rows' JSON, draw the first rows
  thumbnails, plots, table_rows    <img class="thumb">, <img class="plot"> and rendered table rows in the
                                   DOM after the script ran (the table is virtualised: only the rows in
                                   view exist, whatever the CSV's length)
  external_requests                URLs the DOM refers to outside data: URIs and relative links
  with --measure, also (through a wrapper page that loads the report in an iframe and forces a
  layout after each step):
  load_ms                          iframe load event, from setting its src
  scroll_ms                        jump the table to its middle row (window.rankingReport.scrollToRow)
  sort_ms, filter_ms               sort by the image column (a header click), filter with "1"
Timings are single runs on whatever machine this is: compare them within one run.
"""
import argparse
import html.parser
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77


def find_chromium():
    for name in [os.environ.get("CHROMIUM"), "chromium", "chromium-browser", "google-chrome", "google-chrome-stable"]:
        if name and shutil.which(name):
            return shutil.which(name)
    return None


def chromium_command(binary, profile, width, height):
    # --no-sandbox: containers and root (CI) cannot create Chromium's sandbox.
    return [binary, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
            "--disable-extensions", "--disable-background-networking", f"--user-data-dir={profile}",
            f"--window-size={width},{height}"]


class DOMSummary(html.parser.HTMLParser):
    """Counts what the report's script produced."""

    def __init__(self):
        super().__init__()
        self.attributes = {}
        self.thumbnails = self.plots = self.table_rows = 0
        self.external = []
        self._in_tbody = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "html":
            self.attributes = a
        if tag == "img":
            classes = (a.get("class") or "").split()
            self.thumbnails += "thumb" in classes
            self.plots += "plot" in classes
        if tag == "tbody" and a.get("id") == "tbody":
            self._in_tbody = True
        if tag == "tr" and self._in_tbody:
            self.table_rows += 1
        for key in ("src", "href"):
            value = a.get(key) or ""
            if "://" in value.split("?")[0][:12] or value.startswith("//"):
                self.external.append(value[:80])

    def handle_endtag(self, tag):
        if tag == "tbody":
            self._in_tbody = False


def run(command, timeout):
    return subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True)


MEASURE_PAGE = """<!DOCTYPE html><html><head><meta charset="utf-8"></head><body>
<iframe id="f" style="width:1200px;height:900px"></iframe><pre id="out">pending</pre>
<script>
var f = document.getElementById("f"), t0 = performance.now();
f.onload = function () {
  var result = {load_ms: performance.now() - t0};
  try {
    var w = f.contentWindow, d = f.contentDocument, page = w.rankingReport;
    var t = performance.now();
    result.rows_after_scroll = page.scrollToRow(Math.floor(page.rowCount() / 2));
    d.body.offsetHeight;
    result.scroll_ms = performance.now() - t;
    result.row_after_scroll = (d.querySelector("#tbody tr td:nth-child(2)") || {}).textContent;
    t = performance.now();
    d.querySelector("th[data-column='1']").click();
    d.body.offsetHeight;
    result.sort_ms = performance.now() - t;
    var filter = d.getElementById("filter");
    t = performance.now();
    filter.value = "1";
    filter.dispatchEvent(new w.Event("input"));
    d.body.offsetHeight;
    result.filter_ms = performance.now() - t;
    result.shown_after_filter = d.getElementById("shown").textContent;
  } catch (e) { result.error = String(e); }
  document.getElementById("out").textContent = JSON.stringify(result);
};
f.src = REPORT_URL;
</script></body></html>"""


def measure(binary, report_url, width, height, timeout):
    folder = tempfile.mkdtemp(prefix="report-measure-")
    try:
        page = pathlib.Path(folder) / "measure.html"
        page.write_text(MEASURE_PAGE.replace("REPORT_URL", json.dumps(report_url)), encoding="utf-8")
        # File pages are separate origins; this flag lets the wrapper reach into the report's iframe.
        command = chromium_command(binary, pathlib.Path(folder) / "profile", width, height) + [
            "--allow-file-access-from-files", "--dump-dom", page.as_uri()]
        done = run(command, timeout)
        start = done.stdout.find('<pre id="out">')
        if start < 0:
            return {"measure_error": "no output from the measuring page: " + done.stderr[-400:]}
        text = done.stdout[start + len('<pre id="out">'):done.stdout.find("</pre>", start)]
        try:
            return json.loads(html.unescape(text))
        except ValueError:
            return {"measure_error": text[:400]}
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("report", type=pathlib.Path)
    parser.add_argument("screenshot", type=pathlib.Path)
    parser.add_argument("--width", type=int, default=1280)
    parser.add_argument("--height", type=int, default=2200)
    parser.add_argument("--timeout", type=float, default=120)
    parser.add_argument("--measure", action="store_true", help="also time scrolling, sorting and filtering the table")
    args = parser.parse_args()

    binary = find_chromium()
    if binary is None:
        print("skip: chromium is not installed (apt-get install chromium, or set CHROMIUM)")
        return SKIP
    if not args.report.is_file():
        print(f"error: {args.report} does not exist", file=sys.stderr)
        return 1
    report_url = args.report.resolve().as_uri()
    shot = args.screenshot.resolve()
    shot.unlink(missing_ok=True)
    profile = tempfile.mkdtemp(prefix="report-shot-")
    try:
        started = time.monotonic()
        done = run(chromium_command(binary, pathlib.Path(profile) / "a", args.width, args.height)
                   + [f"--screenshot={shot}", report_url], args.timeout)
        screenshot_seconds = time.monotonic() - started
        if not shot.is_file():
            print(f"error: chromium wrote no screenshot (status {done.returncode}): {done.stderr[-800:]}", file=sys.stderr)
            return 1
        dom = run(chromium_command(binary, pathlib.Path(profile) / "b", args.width, args.height)
                  + ["--dump-dom", report_url], args.timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)
    summary = DOMSummary()
    summary.feed(dom.stdout)
    result = {
        "chromium": binary,
        "screenshot": str(shot),
        "screenshot_bytes": shot.stat().st_size,
        "screenshot_seconds": round(screenshot_seconds, 2),
        "parsed_ms": float(summary.attributes.get("data-parsed-ms", "nan")),
        "ready_ms": float(summary.attributes.get("data-ready-ms", "nan")),
        "thumbnails": summary.thumbnails,
        "plots": summary.plots,
        "table_rows": summary.table_rows,
        "external_requests": summary.external,
    }
    if args.measure:
        result.update(measure(binary, report_url, args.width, args.height, args.timeout))
    print(json.dumps(result))
    return 0 if "data-ready-ms" in summary.attributes else 1


if __name__ == "__main__":
    sys.exit(main())
