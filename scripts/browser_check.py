#!/usr/bin/env python3
"""Opens a heptaview recording in Rerun's web viewer, in headless Chromium,
and checks with pixel statistics that every camera panel and the top-down
view show something, and that the browser console has no errors.

Usage: python scripts/browser_check.py RECORDING.rrd [--screenshot PNG]
           [--regions PNG] [--viewport WxH] [--frameset N] [--last-frameset N]
           [--timeout S] [--let-requests-fail]
       python scripts/browser_check.py --image SCREENSHOT.png [--regions PNG]
       python scripts/browser_check.py --serve RECORDING.rrd [--port P]

What it starts (all on 127.0.0.1, all stopped at the end, process group by
process group, also on a timeout or SIGTERM):
- an HTTP server (a thread of this process) serving the .rrd with CORS headers;
- `rerun --serve-web --bind 127.0.0.1 --web-viewer-port 0 URL_OF_RRD` from
  .deps/venv: the web viewer bundled in the Rerun package (given a URL it
  can open itself, it starts no gRPC proxy);
- Debian's `chromium`, headless, WebGL in software (ANGLE on SwiftShader),
  every host but 127.0.0.1 unresolvable, driven through the DevTools protocol.

It opens `http://127.0.0.1:P/?url=<rrd url>&renderer=webgl` in a small window
(the viewer takes data in between frames, and a software-rendered frame costs
about its pixels), waits until the .rrd has been sent and the viewer's
`frameset` timeline has stopped growing, grows the window to --viewport,
moves the time cursor to frame set N (default: the middle of the drive) and
takes a screenshot once the picture has settled. Time and timeline are read
and set through the viewer's own JavaScript API (`WebHandle`:
get_timeline_time_range, set_time_for_timeline, ...; the same calls as the
`@rerun-io/web-viewer` package). (A `#when=frameset@N` fragment on the .rrd
URL or on the page was not honoured by Rerun 0.36.3 for an .rrd over HTTP:
the cursor stayed at the end.)

The checks are statistics of rectangles of that screenshot, never a golden
image. PANELS lists the rectangles, measured on the layout of
io/src/sinks/rerun_layout.rs for the seven AV2 ring cameras:
- a camera panel shows its image: the share of the rectangle's pixels that
  differ from its most common colour (`content`) and the spread of its grey
  levels (`std`) are both high; an empty view is flat black (0.0 and 0.0),
  with at most a few box outlines;
- the top-down view shows the drive: enough coloured pixels (`colour`:
  corridor, tracks; the grid and the background are grey or dark).
Console: console.error and failed console.assert calls, uncaught exceptions
and unhandled rejections (collected by the page itself, see CATCH_ERRORS)
and error-level DevTools log entries (failed requests and the like) fail the
check. The page asks other hosts for web fonts and usage analytics; the
resolver makes those hosts unresolvable, and this script answers such
requests itself with an empty 204 (listed as `stubbed_requests`), so that the
console shows the viewer's own errors, not this machine's lack of internet;
--let-requests-fail lets them fail instead (and the check with them).

Prints one JSON object (timings, frame set range, per-panel statistics,
console errors, failures) and exits 0 when every check passes, 1 when one
fails (each failure names its panel), 2 on a setup error (a tool missing, a
process that does not start, a timeout); the screenshot is written even then.

--image checks a screenshot taken before (no browser), to re-measure PANELS
after the layout changes; --regions draws the rectangles onto the screenshot.
--serve only serves the recording in the web viewer and prints the address
to open in a browser (until Ctrl-C).
"""

import argparse
import base64
import http.server
import io
import json
import os
import queue
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request

import numpy as np
import websocket
from PIL import Image, ImageDraw

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RERUN = os.path.join(ROOT, ".deps", "venv", "bin", "rerun")

# The viewport the screenshot is taken at, and the one PANELS was measured at.
VIEWPORT = (960, 540)

# Panel -> (kind, left, top, right, bottom): where each panel's picture lies
# in a screenshot at VIEWPORT, in pixels, a few pixels inside its edges, at
# the default layout of io/src/sinks/rerun_layout.rs for the seven AV2 ring
# cameras. A camera's rectangle covers its image (letterboxed inside its
# view: its aspect ratio decides where), not the whole view. At another
# viewport the rectangles are scaled, which is only roughly right (title bars
# keep their height). The one place to update when the blueprint changes:
# look at the --regions image, or re-measure on --image SCREENSHOT.
PANELS = {
    "ring_front_left": ("camera", 4, 77, 146, 183),
    "ring_front_center": ("camera", 201, 56, 312, 204),
    "ring_front_right": ("camera", 366, 77, 508, 183),
    "ring_side_left": ("camera", 88, 237, 168, 295),
    "ring_side_right": ("camera", 345, 237, 425, 295),
    "ring_rear_left": ("camera", 88, 328, 168, 387),
    "ring_rear_right": ("camera", 345, 328, 425, 387),
    "top_down": ("top_down", 518, 56, 956, 388),
}

# Bounds of the statistics (0-255 grey levels, fractions of a region's pixels).
CAMERA_MIN_CONTENT = 0.35
CAMERA_MIN_STD = 12.0
TOP_DOWN_MIN_COLOUR = 0.002
# A pixel is "coloured" when max(R,G,B) - min(R,G,B) exceeds this.
COLOUR_CHROMA = 48
# A pixel is "content" when a channel differs this much from the region's mode.
CONTENT_DELTA = 20


class SetupError(Exception):
    """A tool missing, a process that did not start, a timeout: exit 2."""


def log(message):
    print(f"browser_check: {message}", file=sys.stderr, flush=True)


# --- the recording over HTTP, with CORS ------------------------------------


class RecordingServer(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, path, port=0):
        self.path = path
        self.size = os.path.getsize(path)
        self.sent_complete = threading.Event()
        super().__init__(("127.0.0.1", port), RecordingHandler)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server_address[1]}/{os.path.basename(self.path)}"


class RecordingHandler(http.server.BaseHTTPRequestHandler):
    def cors(self):
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")

    def do_OPTIONS(self):
        self.send_response(204)
        self.cors()
        self.end_headers()

    def do_HEAD(self):
        self.do_GET(body=False)

    def do_GET(self, body=True):
        if urllib.parse.urlparse(self.path).path != "/" + os.path.basename(self.server.path):
            self.send_response(404)
            self.cors()
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.cors()
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(self.server.size))
        self.end_headers()
        if not body:
            return
        with open(self.server.path, "rb") as file:
            shutil.copyfileobj(file, self.wfile)
        self.wfile.flush()
        self.server.sent_complete.set()

    def log_message(self, *args):
        pass


# --- processes ---------------------------------------------------------------


class Processes:
    """Children started in their own process groups, killed group by group."""

    def __init__(self):
        self.children = []

    def start(self, args, **kwargs):
        try:
            child = subprocess.Popen(args, start_new_session=True, **kwargs)
        except FileNotFoundError as error:
            raise SetupError(f"{args[0]} not found ({error}): run scripts/setup.sh") from error
        self.children.append(child)
        return child

    def stop_all(self):
        for child in reversed(self.children):
            stop_group(child)


def stop_group(child):
    if child.poll() is not None:
        return
    for sig, wait_s in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
        try:
            os.killpg(child.pid, sig)
        except ProcessLookupError:
            return
        try:
            child.wait(timeout=wait_s)
            return
        except subprocess.TimeoutExpired:
            continue


def read_lines_until(stream, pattern, deadline, what, sink=None):
    """Reads `stream` line by line (in a thread) until `pattern` matches."""
    found = queue.Queue()

    def reader():
        for raw in iter(stream.readline, b""):
            line = raw.decode("utf-8", "replace")
            if sink is not None:
                sink.append(line.rstrip())
            match = re.search(pattern, line)
            if match:
                found.put(match)
        found.put(None)

    threading.Thread(target=reader, daemon=True).start()
    try:
        match = found.get(timeout=max(0.1, deadline - time.monotonic()))
    except queue.Empty:
        match = None
    if match is None:
        tail = "\n".join((sink or [])[-10:])
        raise SetupError(f"{what} did not start{': ' + tail if tail else ''}")
    return match


# --- the DevTools protocol -----------------------------------------------------


class DevTools:
    """One page's DevTools websocket: commands, and the events we collect."""

    def __init__(self, ws_url, on_event=None):
        self.ws = websocket.create_connection(ws_url, timeout=30, suppress_origin=True)
        self.next_id = 0
        self.replies = {}
        self.events = []
        self.lock = threading.Condition()
        self.send_lock = threading.Lock()
        self.forgotten = set()
        self.closed = False
        # Called on the reader thread with each event; what it returns true
        # for is kept for take_events (the viewer logs thousands of debug lines).
        self.on_event = on_event or (lambda event: True)
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        try:
            while True:
                message = json.loads(self.ws.recv())
                if "id" not in message:
                    if self.on_event(message):
                        with self.lock:
                            self.events.append(message)
                    continue
                with self.lock:
                    if message["id"] in self.forgotten:
                        self.forgotten.discard(message["id"])
                    else:
                        self.replies[message["id"]] = message
                    self.lock.notify_all()
        except Exception:  # the socket closes when the browser goes
            with self.lock:
                self.closed = True
                self.lock.notify_all()

    def send(self, method, _forget=True, **params):
        """A command whose reply nobody waits for (unless `call` does)."""
        with self.lock:
            self.next_id += 1
            ident = self.next_id
            if _forget:
                self.forgotten.add(ident)
        with self.send_lock:
            self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        return ident

    def call(self, method, timeout=60, **params):
        ident = self.send(method, _forget=False, **params)
        deadline = time.monotonic() + timeout
        with self.lock:
            while ident not in self.replies:
                if self.closed:
                    raise SetupError(f"the browser closed the DevTools connection during {method}")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise SetupError(f"DevTools {method} got no reply in {timeout} s")
                self.lock.wait(left)
            reply = self.replies.pop(ident)
        if "error" in reply:
            raise SetupError(f"DevTools {method}: {reply['error']}")
        return reply.get("result", {})

    def evaluate(self, expression):
        result = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in result:
            return None
        return result.get("result", {}).get("value")

    def take_events(self):
        with self.lock:
            events, self.events = self.events, []
        return events

    def close(self):
        try:
            self.ws.close()
        except Exception:
            pass


# Console errors and uncaught exceptions, collected by the page itself. (The
# DevTools Runtime domain would report them as Runtime.consoleAPICalled and
# Runtime.exceptionThrown, but it relays every console call, and the viewer
# logs thousands of debug lines while it loads: with it enabled, loading took
# three times as long on two cores.) Browser-level errors (a failed request,
# a blocked script) still come as DevTools Log.entryAdded events.
CATCH_ERRORS = """(() => {
    const errors = [];
    window.__browser_check_errors = errors;
    const text = (args) => Array.from(args, (arg) =>
        arg instanceof Error ? (arg.stack || String(arg)) : String(arg)).join(" ");
    const error = console.error.bind(console);
    console.error = function (...args) {
        errors.push("console.error: " + text(args));
        return error(...args);
    };
    const assert = console.assert.bind(console);
    console.assert = function (condition, ...args) {
        if (!condition) errors.push("console.assert: " + text(args));
        return assert(condition, ...args);
    };
    window.addEventListener("error", (event) => errors.push(
        "exception: " + (event.error ? text([event.error]) : event.message)));
    window.addEventListener("unhandledrejection", (event) => errors.push(
        "unhandled rejection: " + text([event.reason])));
})();"""


def console_error(event):
    """`kind: text` of an event that is a console error, else None."""
    method, params = event["method"], event.get("params", {})
    if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
        text = " ".join(
            str(arg.get("value", arg.get("description", ""))) for arg in params.get("args", [])
        )
        return f"console.{params['type']}: {text}"[:500]
    if method == "Runtime.exceptionThrown":
        details = params.get("exceptionDetails", {})
        text = details.get("exception", {}).get("description") or details.get("text", "")
        return f"exception: {text}"[:500]
    if method == "Log.entryAdded":
        entry = params.get("entry", {})
        if entry.get("level") == "error":
            text = entry.get("text", "") + (f" ({entry['url']})" if entry.get("url") else "")
            return f"log.{entry.get('source', 'other')}: {text}"[:500]
    return None


def is_local(url):
    parsed = urllib.parse.urlparse(url)
    return parsed.scheme not in ("http", "https", "ws", "wss") or parsed.hostname in (
        "127.0.0.1",
        "localhost",
    )


class PageWatch:
    """The page's console errors, and its requests to other hosts.

    The page asks for web fonts, usage analytics and an examples manifest;
    this machine has no internet and the resolver rule makes every other host
    unresolvable. A failed request is itself a console error (and the viewer
    logs the failed analytics fetch as one), so requests to other hosts are
    answered here instead, with an empty 204, and listed as `stubbed_requests`:
    what remains in the console is the viewer's own."""

    def __init__(self, stub_requests=True):
        self.stub_requests = stub_requests
        self.devtools = None
        self.stubbed = set()
        self.lock = threading.Lock()

    def __call__(self, event):
        if event["method"] == "Fetch.requestPaused":
            params = event["params"]
            url = params["request"]["url"]
            if is_local(url) or not self.stub_requests:
                self.devtools.send("Fetch.continueRequest", requestId=params["requestId"])
            else:
                with self.lock:
                    self.stubbed.add(urllib.parse.urlparse(url).hostname)
                self.devtools.send(
                    "Fetch.fulfillRequest",
                    requestId=params["requestId"],
                    responseCode=204,
                    responseHeaders=[{"name": "Access-Control-Allow-Origin", "value": "*"}],
                )
            return False
        return console_error(event) is not None

    def errors(self):
        page = self.devtools.evaluate("window.__browser_check_errors || []") or []
        logged = [console_error(event) for event in self.devtools.take_events()]
        return [str(error)[:500] for error in page] + logged

    def stubbed_hosts(self):
        with self.lock:
            return sorted(h for h in self.stubbed if h)


# --- pixel statistics ----------------------------------------------------------


def scaled(rect, size):
    """`rect` (pixels at VIEWPORT) at an image of `size` (width, height)."""
    (width, height), (ref_width, ref_height) = size, VIEWPORT
    left, top, right, bottom = rect
    return (
        round(left * width / ref_width),
        round(top * height / ref_height),
        round(right * width / ref_width),
        round(bottom * height / ref_height),
    )


def region_pixels(image, rect):
    left, top, right, bottom = scaled(rect, (image.shape[1], image.shape[0]))
    return image[top:bottom, left:right]


def region_stats(pixels):
    flat = pixels.reshape(-1, 3).astype(np.int16)
    grey = flat @ np.array([299, 587, 114]) / 1000.0
    # The most common colour, quantised to 8 levels a channel.
    keys = (flat[:, 0] >> 5) * 64 + (flat[:, 1] >> 5) * 8 + (flat[:, 2] >> 5)
    mode_key = np.bincount(keys, minlength=512).argmax()
    mode = flat[keys == mode_key].mean(axis=0)
    content = (np.abs(flat - mode).max(axis=1) > CONTENT_DELTA).mean()
    chroma = flat.max(axis=1) - flat.min(axis=1)
    return {
        "std": round(float(grey.std()), 2),
        "content": round(float(content), 4),
        "colour": round(float((chroma > COLOUR_CHROMA).mean()), 4),
        "pixels": int(flat.shape[0]),
    }


def check_panels(image):
    panels, failures = {}, []
    for name, (kind, *rect) in PANELS.items():
        stats = region_stats(region_pixels(image, rect))
        if kind == "camera":
            ok = stats["content"] >= CAMERA_MIN_CONTENT and stats["std"] >= CAMERA_MIN_STD
            bound = f"content >= {CAMERA_MIN_CONTENT} and std >= {CAMERA_MIN_STD}"
        else:
            ok = stats["colour"] >= TOP_DOWN_MIN_COLOUR
            bound = f"colour >= {TOP_DOWN_MIN_COLOUR}"
        panels[name] = {"kind": kind, **stats, "ok": ok}
        if not ok:
            failures.append(
                f"panel {name} ({kind}) shows no content: "
                f"content {stats['content']}, std {stats['std']}, colour {stats['colour']} "
                f"(needs {bound})"
            )
    return panels, failures


def draw_regions(png_bytes, path):
    image = Image.open(io.BytesIO(png_bytes)).convert("RGB")
    draw = ImageDraw.Draw(image)
    for name, (_, *rect) in PANELS.items():
        left, top, right, bottom = scaled(rect, image.size)
        box = (left, top, right - 1, bottom - 1)
        draw.rectangle(box, outline=(255, 0, 255))
        draw.text((box[0] + 2, box[1] + 1), name, fill=(255, 0, 255))
    image.save(path)


# --- the browser session -------------------------------------------------------


def chromium_binary():
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    raise SetupError("chromium is not installed: run scripts/setup.sh")


def start_viewer(processes, rrd_url, deadline, output, port=0):
    viewer = processes.start(
        [RERUN, "--serve-web", "--bind", "127.0.0.1", "--web-viewer-port", str(port), rrd_url],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={**os.environ, "RUST_LOG": "info", "BROWSER": "true"},
    )
    match = read_lines_until(
        viewer.stderr,
        r"Hosting a web-viewer at http://[0-9.]+:(\d+)",
        deadline,
        "rerun --serve-web",
        output,
    )
    return int(match.group(1))


def start_browser(processes, profile, viewport, deadline, output, watch):
    width, height = viewport
    args = [
        chromium_binary(),
        "--headless=new",
        "--use-gl=angle",
        "--use-angle=swiftshader",
        "--enable-unsafe-swiftshader",
        "--ignore-gpu-blocklist",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
        f"--window-size={width},{height}",
        "--force-device-scale-factor=1",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-extensions",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--mute-audio",
        "about:blank",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        args.insert(1, "--no-sandbox")  # Chromium's sandbox refuses to run as root
    browser = processes.start(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    match = read_lines_until(
        browser.stderr, r"DevTools listening on (ws://\S+)", deadline, "chromium", output
    )
    port = urllib.parse.urlparse(match.group(1)).port
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=10) as reply:
        targets = json.load(reply)
    pages = [t for t in targets if t.get("type") == "page"]
    if not pages:
        raise SetupError(f"chromium has no page to drive: {targets}")
    devtools = DevTools(pages[0]["webSocketDebuggerUrl"], on_event=watch)
    watch.devtools = devtools
    return devtools


def wait_for(condition, deadline, what, interval=0.5):
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise SetupError(f"timed out waiting for {what}")
        time.sleep(interval)


def screenshot(devtools):
    data = devtools.call("Page.captureScreenshot", format="png")["data"]
    return base64.b64decode(data)


def run_check(args, processes, result):
    deadline = time.monotonic() + args.timeout
    started = time.monotonic()
    viewer_log, browser_log = [], []

    server = RecordingServer(args.recording)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = start_viewer(processes, server.url, deadline, viewer_log)
        page_url = f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode(
            {"url": server.url, "renderer": "webgl", "theme": args.theme}
        )
        result["page"] = page_url
        with tempfile.TemporaryDirectory(prefix="browser-check-") as profile:
            watch = PageWatch(stub_requests=not args.let_requests_fail)
            devtools = start_browser(
                processes, profile, args.viewport, deadline, browser_log, watch
            )
            try:
                return drive_page(args, devtools, watch, server, page_url, deadline, started, result)
            except SetupError:
                keep_evidence(args, devtools, watch, result)
                raise
            finally:
                devtools.close()
                processes.stop_all()  # before the profile folder goes
    finally:
        server.shutdown()
        server.server_close()


def keep_evidence(args, devtools, watch, result):
    """On a timeout: what the page showed and said, for whoever reads the log."""
    result["stubbed_requests"] = watch.stubbed_hosts()
    try:
        result["console_errors"] = watch.errors()
        if args.screenshot:
            with open(args.screenshot, "wb") as file:
                file.write(screenshot(devtools))
            result["screenshot"] = args.screenshot
    except (SetupError, OSError, websocket.WebSocketException):
        pass  # the browser is gone too


# The viewer's page keeps its WebHandle in a local variable until its start()
# promise resolves, which it does not do here; the handle is found among the
# page's objects by its prototype instead (the page's own `window._handle`
# when it is set).
FIND_HANDLE = """function () {
    if (this.length) { window._handle = this[0]; }
    return this.length;
}"""


def find_handle(devtools):
    if devtools.evaluate("typeof window._handle") == "object":
        return True
    if devtools.evaluate("typeof wasm_bindgen === 'function' && !!wasm_bindgen.WebHandle") is not True:
        return False
    prototype = devtools.call("Runtime.evaluate", expression="wasm_bindgen.WebHandle.prototype")
    objects = devtools.call(
        "Runtime.queryObjects", prototypeObjectId=prototype["result"]["objectId"]
    )
    found = devtools.call(
        "Runtime.callFunctionOn",
        objectId=objects["objects"]["objectId"],
        functionDeclaration=FIND_HANDLE,
        returnByValue=True,
    )
    return found["result"].get("value", 0) > 0


def handle_call(devtools, method, *args):
    arguments = ", ".join(json.dumps(a) for a in args)
    return devtools.evaluate(f"window._handle.{method}({arguments})")


def set_viewport(devtools, size):
    width, height = size
    devtools.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=height,
        deviceScaleFactor=1,
        mobile=False,
    )


def drive_page(args, devtools, watch, server, page_url, deadline, started, result):
    devtools.call("Page.addScriptToEvaluateOnNewDocument", source=CATCH_ERRORS)
    devtools.call("Log.enable")
    devtools.call("Page.enable")
    devtools.call("Fetch.enable", patterns=[{"urlPattern": "*"}])
    # The viewer takes data in between frames, and a frame in software WebGL
    # costs about its pixels: it loads in a small window, then grows.
    set_viewport(devtools, args.load_viewport or args.viewport)
    # The viewer follows the system's colour scheme (its `theme` query alone
    # is overridden by that); dark is Rerun's usual look.
    devtools.call(
        "Emulation.setEmulatedMedia",
        features=[{"name": "prefers-color-scheme", "value": args.theme}],
    )
    devtools.call("Page.navigate", url=page_url)

    wait_for(lambda: find_handle(devtools), deadline, "the viewer to start", interval=1.0)
    result["viewer_started_s"] = round(time.monotonic() - started, 1)
    recording = wait_for(
        lambda: handle_call(devtools, "get_active_recording_id"),
        deadline,
        "the viewer to open the recording",
    )
    result["recording_id"] = recording
    result["recording_open_s"] = round(time.monotonic() - started, 1)
    wait_for(server.sent_complete.is_set, deadline, "the viewer to fetch the .rrd")
    result["fetched_s"] = round(time.monotonic() - started, 1)

    # Ingestion goes on after the download (the viewer takes data in between
    # frames); done when the frameset timeline has stopped growing for a while.
    last, stable_since, progress = None, time.monotonic(), []
    result["load_progress"] = progress
    while True:
        current = handle_call(devtools, "get_timeline_time_range", recording, "frameset")
        current = [current["min"], current["max"]] if current else None
        if current != last:
            last, stable_since = current, time.monotonic()
            progress.append([round(stable_since - started, 1), current])
        elif current and time.monotonic() - stable_since >= args.settle:
            if current[1] >= max(args.frameset or 0, args.last_frameset or 0):
                break
        if time.monotonic() > deadline:
            raise SetupError(f"timed out waiting for the recording to load (frame sets {last})")
        time.sleep(0.5)
    result["loaded_s"] = round(time.monotonic() - started, 1)
    result["frameset_range"] = last
    frameset = args.frameset if args.frameset is not None else (last[0] + last[1]) // 2
    result["frameset"] = frameset

    set_viewport(devtools, args.viewport)
    handle_call(devtools, "set_playing", recording, False)
    handle_call(devtools, "set_active_timeline", recording, "frameset")
    handle_call(devtools, "set_time_for_timeline", recording, "frameset", frameset)
    wait_for(
        lambda: handle_call(devtools, "get_time_for_timeline", recording, "frameset") == frameset,
        deadline,
        f"the time cursor to reach frame set {frameset}",
    )

    # The picture has settled when two screenshots a second apart are equal
    # (or after a few tries: something may keep it moving).
    previous = None
    for _ in range(args.settle_shots):
        time.sleep(1.0)
        png = screenshot(devtools)
        if png == previous:
            break
        previous = png
    result["screenshot_s"] = round(time.monotonic() - started, 1)
    if args.screenshot:
        with open(args.screenshot, "wb") as file:
            file.write(png)
        result["screenshot"] = args.screenshot
    if args.regions:
        draw_regions(png, args.regions)
        result["regions"] = args.regions

    image = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"))
    result["viewport"] = [int(image.shape[1]), int(image.shape[0])]
    panels, failures = check_panels(image)
    result["panels"] = panels

    errors = watch.errors()
    result["console_errors"] = errors
    result["stubbed_requests"] = watch.stubbed_hosts()
    if errors:
        failures.append(f"the browser console has {len(errors)} error(s); the first: {errors[0]}")
    result["failures"] = failures
    return not failures


def serve(args, processes):
    """--serve: the recording in Rerun's web viewer for a person's browser."""
    server = RecordingServer(args.recording, args.rrd_port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        port = start_viewer(processes, server.url, time.monotonic() + 60, [], args.port)
        page = f"http://127.0.0.1:{port}/?" + urllib.parse.urlencode({"url": server.url})
        print(f"Rerun's web viewer with {args.recording}: open {page}", flush=True)
        print("(Ctrl-C stops it)", flush=True)
        while all(child.poll() is None for child in processes.children):
            time.sleep(1)
        return 2
    except KeyboardInterrupt:
        return 0
    finally:
        server.shutdown()
        server.server_close()


def parse_viewport(text):
    match = re.fullmatch(r"(\d+)x(\d+)", text)
    if not match:
        raise argparse.ArgumentTypeError("expected WxH, e.g. 640x360")
    return int(match.group(1)), int(match.group(2))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("recording", nargs="?", help="the .rrd to open")
    parser.add_argument(
        "--image", help="check this screenshot instead (no browser; to tune PANELS)"
    )
    parser.add_argument("--screenshot", help="write the screenshot (PNG) here")
    parser.add_argument("--regions", help="write the screenshot with the panel regions drawn")
    parser.add_argument(
        "--serve",
        action="store_true",
        help="only serve the recording in the web viewer and print its address (for a person)",
    )
    parser.add_argument("--port", type=int, default=0, help="--serve: the viewer's port")
    parser.add_argument("--rrd-port", type=int, default=0, help="--serve: the .rrd's port")
    parser.add_argument(
        "--viewport", type=parse_viewport, default=VIEWPORT, help="WxH of the screenshot"
    )
    parser.add_argument(
        "--load-viewport",
        type=parse_viewport,
        default=(320, 180),
        help="WxH while the recording loads",
    )
    parser.add_argument("--frameset", type=int, help="frame set to show (default: mid-drive)")
    parser.add_argument(
        "--last-frameset", type=int, help="wait for the recording to reach this frame set"
    )
    parser.add_argument("--timeout", type=float, default=240.0, help="seconds for everything")
    parser.add_argument(
        "--settle", type=float, default=3.0, help="seconds the timeline must stop growing"
    )
    parser.add_argument(
        "--let-requests-fail",
        action="store_true",
        help="do not answer requests to other hosts: they fail, and the console check with them",
    )
    parser.add_argument("--theme", default="dark", choices=["dark", "light"])
    parser.add_argument("--settle-shots", type=int, default=8, help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.image:
        # Only the pixel checks, on a screenshot taken before.
        with open(args.image, "rb") as file:
            png = file.read()
        if args.regions:
            draw_regions(png, args.regions)
        panels, failures = check_panels(np.asarray(Image.open(io.BytesIO(png)).convert("RGB")))
        print(json.dumps({"image": args.image, "ok": not failures, "panels": panels,
                          "failures": failures}, indent=2))
        return 0 if not failures else 1

    result = {"recording": args.recording, "ok": False}
    if not args.recording or not os.path.isfile(args.recording):
        result["error"] = f"no such file: {args.recording}"
        print(json.dumps(result, indent=2))
        return 2
    if not os.access(RERUN, os.X_OK):
        result["error"] = f"{RERUN} is missing: run scripts/setup.sh"
        print(json.dumps(result, indent=2))
        return 2

    # A SIGTERM (a test runner giving up) still stops what we started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))
    processes = Processes()
    if args.serve:
        try:
            return serve(args, processes)
        except SetupError as error:
            log(str(error))
            return 2
        finally:
            processes.stop_all()
    code = 2
    try:
        ok = run_check(args, processes, result)
        result["ok"] = ok
        code = 0 if ok else 1
    except SetupError as error:
        result["error"] = str(error)
    finally:
        processes.stop_all()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    result["check_cpu_s"] = round(usage.ru_utime + usage.ru_stime, 1)
    print(json.dumps(result, indent=2))
    return code


if __name__ == "__main__":
    sys.exit(main())
