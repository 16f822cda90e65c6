#!/usr/bin/python3
"""modelarts_peer: the ModelArts task poller a competent Python engineer would write instead of
taskwatch, kept as the other side of scripts/bench-peer.sh.

What it does, like taskwatchd with discovery targets:
- lists every task of each dataset (the list API, every type, 100 a page, offset counted in
  items, de-duplicated by task_id), again every interval, and adds the new ones;
- polls each task (GET .../tasks/{task_id}) every interval, spread over the interval (the
  first round at once, the second at a random point of the next interval); keeps the last state; a status change is an event, a progress
  change updates last_change;
- POSTs a JSON webhook (the generic format's body, Standard Webhooks signature when a secret
  is given) on each status change, with a few retries;
- serves /metrics (modelarts_task_info, _status state set, _progress_ratio, _samples,
  _created_timestamp_seconds, _last_change_timestamp_seconds, _last_poll_timestamp_seconds,
  _up) with aiohttp.web, and prints "ready N" once every listed task was polled once.

How it was kept fair (not crippled):
- asyncio + aiohttp from Debian (python3-aiohttp 3.8), run with /usr/bin/python3; ONE
  ClientSession with TCPConnector(limit=N): N keep-alive TLS connections, as taskwatchd's
  max_connections; TLS verified against the given CA (hostname too), no verification shortcuts.
- N worker coroutines pull due tasks from one queue filled by one scheduler coroutine (a heap
  of due times): no coroutine, timer or asyncio.Task per task or per poll.
- Signing is Huawei's SDK-HMAC-SHA256 as the SDKs do it, checked against the SDK vectors
  (--self-test); per task the canonical URI is computed once and only the date changes.
- No cookie jar work (DummyCookieJar): the API sets none.
- Discovery lists every dataset again each interval, as taskwatchd does (the same requests
  and bytes on both sides).
- Bodies are read whole and parsed with json.loads; tasks are __slots__ objects; /metrics is
  written straight from the task table with precomputed label strings (no client library
  objects per series).
- What it does not do that taskwatchd does: no persistent state or outbox (a webhook that
  fails three times is lost), no rate limit, no backoff on throttling, no stall or gone
  events, no /api/v1/tasks. Each is work the daemon pays for and the peer does not.

Usage:
  modelarts_peer.py --endpoint URL --project-id P --dataset D [--dataset D2 ... |
                    --task-id T ...]
                    --ak-file F --sk-file F [--ca-file CA] [--interval 15]
                    [--connections 16] [--listen 127.0.0.1:0] [--webhook URL
                    [--webhook-ca CA] [--webhook-secret-file F]]
  modelarts_peer.py --self-test VECTORS.json
It prints "listening http://HOST:PORT" once /metrics is served and "ready N" after the first
round. SIGTERM/SIGINT stop it.
"""
import argparse
import asyncio
import base64
import hashlib
import hmac
import heapq
import json
import random
import signal
import ssl
import sys
import time
import uuid
from urllib.parse import quote, unquote, urlsplit

import aiohttp
import yarl
from aiohttp import web

STATUS_NAMES = ("queuing", "initializing", "running", "failed", "succeeded", "stopping",
                "stopped")  # API codes -1..5
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
TYPES = ("auto-label", "pre-label", "auto-grouping")


def status_name(code):
    if isinstance(code, int) and -1 <= code <= 5:
        return STATUS_NAMES[code + 1]
    return "unknown"


# --- SDK-HMAC-SHA256, as Huawei's SDK signer does it --------------------------------------

def sdk_date(t=None):
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(t))


def canonical_uri(path):
    segments = [quote(unquote(s), safe="~") for s in path.split("/")]
    uri = "/".join(segments)
    return uri if uri.endswith("/") else uri + "/"


def canonical_query(pairs):
    """pairs: [(key, value)] decoded, in caller order. Also the query string to send."""
    by_key = {}
    for k, v in pairs:
        by_key.setdefault(k, []).append(v)
    out = []
    for k in sorted(by_key):
        ek = quote(k, safe="~")
        for v in sorted(by_key[k]):
            out.append(ek + "=" + quote(v, safe="~"))
    return "&".join(out)


class Signer:
    def __init__(self, ak, sk):
        self.ak = ak
        self.sk = sk.encode()

    def sign(self, method, host, path, query_pairs, headers, body=b"", date=None):
        """Returns the headers to send: `headers` plus X-Sdk-Date and Authorization."""
        out = dict(headers)
        lower = {k.lower(): v.strip() for k, v in headers.items()}
        if "x-sdk-date" in lower:
            date = lower["x-sdk-date"]
        else:
            date = date or sdk_date()
            out["X-Sdk-Date"] = date
            lower["x-sdk-date"] = date
        lower["host"] = host
        names = sorted(lower)
        signed = ";".join(names)
        if lower.get("x-sdk-content-sha256") == "UNSIGNED-PAYLOAD":
            payload = "UNSIGNED-PAYLOAD"
        else:
            payload = hashlib.sha256(body).hexdigest()
        creq = "\n".join([method.upper(), canonical_uri(path), canonical_query(query_pairs),
                          "".join(f"{n}:{lower[n]}\n" for n in names), signed, payload])
        out["Authorization"] = self.authorization(date, creq, signed)
        return out

    def authorization(self, date, creq, signed):
        sts = "SDK-HMAC-SHA256\n" + date + "\n" + hashlib.sha256(creq.encode()).hexdigest()
        sig = hmac.new(self.sk, sts.encode(), hashlib.sha256).hexdigest()
        return f"SDK-HMAC-SHA256 Access={self.ak}, SignedHeaders={signed}, Signature={sig}"


def self_test(vectors_file):
    with open(vectors_file) as f:
        vectors = json.load(f)["vectors"]
    bad = 0
    for v in vectors:
        u = urlsplit(v["url"])
        s = Signer(v["ak"], v["sk"])
        got = s.sign(v["method"], u.netloc, v["path"], [tuple(p) for p in v["query"]],
                     v["headers"], v["body"].encode(), v["date"])
        if got["Authorization"] != v["expected"]["authorization"]:
            bad += 1
            print(f"self-test: {v['name']}: got {got['Authorization']}", file=sys.stderr)
    # The per-task fast path (Task.sign_get) must agree with the general signer.
    t = Task("p0", "d0", "t-1.x~", "https://h:1")
    s = Signer("AK", "SK")
    fast = t.sign_get(s, "h:1", "20240115T083000Z")
    slow = s.sign("GET", "h:1", t.path, [], {"Content-Type": "application/json",
                                             "X-Project-Id": "p0"}, b"", "20240115T083000Z")
    if fast != slow["Authorization"]:
        bad += 1
        print("self-test: the per-task GET signature differs from the general one",
              file=sys.stderr)
    print(f"self-test: {len(vectors) + 1 - bad} of {len(vectors) + 1} signatures match")
    return 0 if bad == 0 else 1


# --- Tasks -------------------------------------------------------------------------------

def label_value(s):
    return s.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Task:
    __slots__ = ("project_id", "dataset_id", "task_id", "path", "url", "canon", "labels",
                 "name", "status", "progress", "total", "annotated", "unconfirmed", "created",
                 "last_change", "last_poll", "up", "polled", "queued", "extra")

    def __init__(self, project_id, dataset_id, task_id, endpoint):
        self.project_id = project_id
        self.dataset_id = dataset_id
        self.task_id = task_id
        self.path = f"/v2/{project_id}/datasets/{dataset_id}/tasks/{task_id}"
        self.url = yarl.URL(endpoint + self.path, encoded=True)
        self.canon = canonical_uri(self.path)
        self.labels = f'dataset_id="{label_value(dataset_id)}",task_id="{label_value(task_id)}"'
        self.name = ""
        self.status = None
        self.progress = None
        self.total = self.annotated = self.unconfirmed = None
        self.created = None
        self.last_change = None
        self.last_poll = None
        self.up = False
        self.polled = False
        self.queued = False
        self.extra = None  # algorithm_type, resource_id

    def sign_get(self, signer, host, date):
        creq = (f"GET\n{self.canon}\n\ncontent-type:application/json\nhost:{host}\n"
                f"x-project-id:{self.project_id}\nx-sdk-date:{date}\n\n"
                f"content-type;host;x-project-id;x-sdk-date\n{EMPTY_SHA256}")
        return signer.authorization(date, creq, "content-type;host;x-project-id;x-sdk-date")


def parse_create_time(s):
    try:
        return float(time.mktime(time.strptime(s, "%Y-%m-%d %H:%M:%S"))) - time.timezone
    except (TypeError, ValueError):
        return None


class Peer:
    def __init__(self, args, signer):
        self.args = args
        self.signer = signer
        self.endpoint = args.endpoint.rstrip("/")
        self.host = urlsplit(self.endpoint).netloc
        self.interval = args.interval
        self.tasks = {}
        self.heap = []
        self.queue = asyncio.Queue()
        self.unpolled = 0  # tasks not yet polled once: "ready" when 0 after discovery
        self.discovered = False
        self.polls = 0
        self.failures = 0
        self.events = 0
        self.webhook_failures = 0
        self.ready = False
        self.date_second = -1
        self.date_text = ""
        self.background = set()

    def date(self):
        now = int(time.time())
        if now != self.date_second:
            self.date_second = now
            self.date_text = sdk_date(now)
        return self.date_text

    # --- discovery ---
    async def list_page(self, dataset, type_, offset):
        path = f"/v2/{self.args.project_id}/datasets/{dataset}/tasks"
        pairs = [("limit", "100"), ("offset", str(offset)), ("type", type_)]
        headers = self.signer.sign("GET", self.host, path, pairs,
                                   {"Content-Type": "application/json",
                                    "X-Project-Id": self.args.project_id}, b"", self.date())
        url = yarl.URL(self.endpoint + path + "?" + canonical_query(pairs), encoded=True)
        async with self.session.get(url, headers=headers) as r:
            body = await r.read()
            if r.status != 200:
                raise RuntimeError(f"list {dataset} {type_}: HTTP {r.status}: {body[:200]!r}")
        return json.loads(body)

    async def discover_once(self):
        found = 0
        for dataset in self.args.dataset:
            for type_ in TYPES:
                offset, seen = 0, 0
                while True:
                    page = await self.list_page(dataset, type_, offset)
                    items = page.get("tasks") or []
                    for item in items:
                        tid = item.get("task_id")
                        if tid and tid not in self.tasks:
                            t = Task(self.args.project_id, dataset, tid, self.endpoint)
                            t.name = item.get("task_name") or ""
                            self.tasks[tid] = t
                            self.unpolled += 1
                            self.enqueue(t)  # first poll at once, like the daemon
                            found += 1
                    seen += len(items)
                    offset += len(items)
                    if not items or len(items) < 100 or seen >= page.get("total_count", 0):
                        break
        return found

    async def discovery(self):
        if self.args.task_id:  # configured tasks: no listing
            for tid in self.args.task_id:
                t = Task(self.args.project_id, self.args.dataset[0], tid, self.endpoint)
                self.tasks[tid] = t
                self.unpolled += 1
                self.enqueue(t)
            self.discovered = True
            return
        first = True
        while True:
            try:
                await self.discover_once()
            except Exception as e:  # steady state: log and try again next interval
                print(f"peer: discovery failed: {e}", file=sys.stderr)
            if first:
                first = False
                self.discovered = True
                self.check_ready()
            await asyncio.sleep(self.interval)

    def check_ready(self):
        if not self.ready and self.discovered and self.unpolled == 0:
            self.ready = True
            print(f"ready {len(self.tasks)}", flush=True)

    # --- scheduling ---
    def enqueue(self, t):
        if not t.queued:
            t.queued = True
            self.queue.put_nowait(t)

    def schedule(self, t, due):
        heapq.heappush(self.heap, (due, id(t), t))

    async def scheduler(self):
        # Wakes when the earliest task is due (at most every 2 ms: due times that close are
        # handed out together) and at least every 50 ms to see tasks added meanwhile.
        loop = asyncio.get_running_loop()
        while True:
            now = loop.time()
            heap = self.heap
            while heap and heap[0][0] <= now + 0.002:
                due, _, t = heapq.heappop(heap)
                self.enqueue(t)
                heapq.heappush(heap, (due + self.interval, id(t), t))
            delay = heap[0][0] - now if heap else 0.05
            await asyncio.sleep(min(0.05, max(0.002, delay)))

    async def worker(self):
        loop = asyncio.get_running_loop()
        while True:
            t = await self.queue.get()
            t.queued = False
            first = not t.polled
            await self.poll(t)
            if first:
                self.unpolled -= 1
                # Spread: the second poll at a random point of the next interval, then every
                # interval; from the end of the first round on, polls come at a steady rate.
                self.schedule(t, loop.time() + self.interval * random.random())
                if not self.ready:
                    self.check_ready()

    async def poll(self, t):
        date = self.date()
        headers = {"Content-Type": "application/json", "X-Project-Id": t.project_id,
                   "X-Sdk-Date": date, "Authorization": t.sign_get(self.signer, self.host, date)}
        try:
            async with self.session.get(t.url, headers=headers) as r:
                body = await r.read()
                ok = r.status == 200
        except (aiohttp.ClientError, asyncio.TimeoutError, OSError) as e:
            ok, body = False, str(e).encode()
        t.polled = True
        self.polls += 1
        if not ok:
            self.failures += 1
            t.up = False
            return
        try:
            d = json.loads(body)
        except ValueError:
            self.failures += 1
            t.up = False
            return
        now = time.time()
        t.up = True
        t.last_poll = now
        status = d.get("status")
        progress = d.get("progress")
        if t.extra is None:
            t.name = d.get("task_name") or t.name
            t.created = parse_create_time(d.get("create_time"))
            t.extra = (str((d.get("config") or {}).get("algorithm_type") or ""),
                       str(d.get("resource_id") or ""))
        result = d.get("result") or {}
        t.total = d.get("total_sample_count", result.get("total_sample_count"))
        t.annotated = d.get("annotated_sample_count", result.get("annotated_sample_count"))
        t.unconfirmed = d.get("unconfirmed_sample_count",
                              result.get("unconfirmed_sample_count"))
        previous_status, previous_progress = t.status, t.progress
        if status != previous_status or progress != previous_progress:
            t.last_change = now
        t.status, t.progress = status, progress
        if previous_status is not None and status != previous_status:
            self.events += 1
            if self.args.webhook:
                self.spawn(self.send_webhook(t, previous_status, previous_progress, d, now))

    # --- webhook ---
    def spawn(self, coro):
        task = asyncio.get_running_loop().create_task(coro)
        self.background.add(task)
        task.add_done_callback(self.background.discard)

    async def send_webhook(self, t, prev_status, prev_progress, d, now):
        msg_id = "evt_" + uuid.uuid4().hex
        ratio = lambda p: None if p is None else p / 100
        current = {"status": status_name(d.get("status")), "status_code": d.get("status"),
                   "progress": ratio(d.get("progress"))}
        for k in ("code", "message", "error_code", "error_msg", "result"):
            if k in d:
                current[k] = d[k]
        body = json.dumps({
            "id": msg_id, "type": "task.status_changed",
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now)),
            "task": {"project_id": t.project_id, "dataset_id": t.dataset_id,
                     "task_id": t.task_id, "task_name": t.name, "labels": {}},
            "previous": {"status": status_name(prev_status), "status_code": prev_status,
                         "progress": ratio(prev_progress)},
            "current": current}).encode()
        for attempt in range(3):
            ts = str(int(time.time()))
            headers = {"Content-Type": "application/json", "webhook-id": msg_id,
                       "webhook-timestamp": ts}
            if self.hook_secret:
                mac = hmac.new(self.hook_secret, f"{msg_id}.{ts}.".encode() + body,
                               hashlib.sha256).digest()
                headers["webhook-signature"] = "v1," + base64.b64encode(mac).decode()
            try:
                async with self.hook_session.post(self.args.webhook, data=body,
                                                  headers=headers) as r:
                    await r.read()
                    if 200 <= r.status < 300:
                        return
            except (aiohttp.ClientError, asyncio.TimeoutError, OSError):
                pass
            await asyncio.sleep(0.5 * 2 ** attempt)
        self.webhook_failures += 1

    # --- /metrics ---
    async def metrics(self, request):
        out = []
        w = out.append
        tasks = list(self.tasks.values())
        w("# HELP modelarts_task_info Task metadata.\n# TYPE modelarts_task_info gauge\n")
        for t in tasks:
            if t.extra is not None:
                w(f'modelarts_task_info{{{t.labels},task_name="{label_value(t.name)}",'
                  f'resource_id="{label_value(t.extra[1])}",'
                  f'algorithm_type="{label_value(t.extra[0])}"}} 1\n')
        w("# HELP modelarts_task_status Task status (state set).\n"
          "# TYPE modelarts_task_status gauge\n")
        names = STATUS_NAMES + ("unknown",)
        for t in tasks:
            if t.status is None:
                continue
            current = status_name(t.status)
            for n in names:
                w(f'modelarts_task_status{{{t.labels},status="{n}"}} '
                  f'{1 if n == current else 0}\n')
        w("# HELP modelarts_task_progress_ratio Progress, 0 to 1.\n"
          "# TYPE modelarts_task_progress_ratio gauge\n")
        for t in tasks:
            if t.progress is not None:
                w(f"modelarts_task_progress_ratio{{{t.labels}}} {t.progress / 100}\n")
        w("# HELP modelarts_task_samples Sample counts.\n# TYPE modelarts_task_samples gauge\n")
        for t in tasks:
            for kind, v in (("total", t.total), ("annotated", t.annotated),
                            ("unconfirmed", t.unconfirmed)):
                if v is not None:
                    w(f'modelarts_task_samples{{{t.labels},kind="{kind}"}} {v}\n')
        for name, attr, help_ in (
                ("modelarts_task_created_timestamp_seconds", "created", "Creation time."),
                ("modelarts_task_last_change_timestamp_seconds", "last_change",
                 "Last status or progress change seen."),
                ("modelarts_task_last_poll_timestamp_seconds", "last_poll",
                 "Last successful poll.")):
            w(f"# HELP {name} {help_}\n# TYPE {name} gauge\n")
            for t in tasks:
                v = getattr(t, attr)
                if v is not None:
                    w(f"{name}{{{t.labels}}} {v:.3f}\n")
        w("# HELP modelarts_task_up Whether the last poll succeeded.\n"
          "# TYPE modelarts_task_up gauge\n")
        for t in tasks:
            if t.polled:
                w(f"modelarts_task_up{{{t.labels}}} {1 if t.up else 0}\n")
        for name, type_, help_, v in (
                ("peer_tasks", "gauge", "Watched tasks.", len(tasks)),
                ("peer_polls_total", "counter", "Polls made.", self.polls),
                ("peer_poll_failures_total", "counter", "Polls that failed.", self.failures),
                ("peer_events_total", "counter", "Status changes seen.", self.events),
                ("peer_webhook_failures_total", "counter", "Webhooks given up.",
                 self.webhook_failures)):
            w(f"# HELP {name} {help_}\n# TYPE {name} {type_}\n{name} {v}\n")
        return web.Response(body="".join(out).encode(),
                            headers={"Content-Type": "text/plain; version=0.0.4; charset=utf-8"})

    # --- wiring ---
    async def run(self):
        a = self.args
        ctx = ssl.create_default_context(cafile=a.ca_file) if a.ca_file else \
            ssl.create_default_context()
        connector = aiohttp.TCPConnector(limit=a.connections, ssl=ctx, keepalive_timeout=60)
        timeout = aiohttp.ClientTimeout(total=a.timeout)
        self.hook_secret = None
        if a.webhook_secret_file:
            secret = open(a.webhook_secret_file).read().strip()
            self.hook_secret = base64.b64decode(secret[6:]) if secret.startswith("whsec_") \
                else secret.encode()
        hook_ctx = ssl.create_default_context(cafile=a.webhook_ca) if a.webhook_ca else \
            ssl.create_default_context()
        # No cookies in this API: a DummyCookieJar saves the jar's work on every request.
        async with aiohttp.ClientSession(connector=connector, timeout=timeout,
                                         cookie_jar=aiohttp.DummyCookieJar()) as session, \
                aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=4, ssl=hook_ctx),
                                      timeout=timeout) as hook_session:
            self.session = session
            self.hook_session = hook_session
            app = web.Application()
            app.router.add_get("/metrics", self.metrics)
            runner = web.AppRunner(app, access_log=None)
            await runner.setup()
            host, _, port = a.listen.rpartition(":")
            site = web.TCPSite(runner, host or "127.0.0.1", int(port))
            await site.start()
            bound = site._server.sockets[0].getsockname()
            print(f"listening http://{bound[0]}:{bound[1]}", flush=True)
            stop = asyncio.Event()
            loop = asyncio.get_running_loop()
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, stop.set)
            jobs = [loop.create_task(self.discovery()), loop.create_task(self.scheduler())]
            jobs += [loop.create_task(self.worker()) for _ in range(a.connections)]
            await stop.wait()
            for j in jobs:
                j.cancel()
            await asyncio.gather(*jobs, return_exceptions=True)
            await runner.cleanup()


def main():
    p = argparse.ArgumentParser(description="A Python ModelArts task poller (benchmark peer).")
    p.add_argument("--self-test", metavar="VECTORS")
    p.add_argument("--endpoint")
    p.add_argument("--project-id")
    p.add_argument("--dataset", action="append", default=[])
    p.add_argument("--task-id", action="append", default=[],
                   help="watch these tasks of the (one) --dataset instead of listing")
    p.add_argument("--ak-file")
    p.add_argument("--sk-file")
    p.add_argument("--ca-file")
    p.add_argument("--interval", type=float, default=15.0)
    p.add_argument("--connections", type=int, default=16)
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--listen", default="127.0.0.1:0")
    p.add_argument("--webhook")
    p.add_argument("--webhook-ca")
    p.add_argument("--webhook-secret-file")
    a = p.parse_args()
    if a.self_test:
        sys.exit(self_test(a.self_test))
    missing = [n for n in ("endpoint", "project_id", "ak_file", "sk_file") if not getattr(a, n)]
    if missing or not a.dataset:
        p.error("needs --endpoint, --project-id, --ak-file, --sk-file and at least one --dataset"
                + (f" (missing: {', '.join(missing)})" if missing else ""))
    if a.interval <= 0 or a.connections < 1:
        p.error("--interval must be > 0 and --connections >= 1")
    try:
        ak = open(a.ak_file).read().strip()
        sk = open(a.sk_file).read().strip()
    except OSError as e:
        print(f"modelarts_peer: {e.filename}: {e.strerror}", file=sys.stderr)
        sys.exit(1)
    asyncio.run(Peer(a, Signer(ak, sk)).run())


if __name__ == "__main__":
    main()
