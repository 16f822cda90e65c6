#!/usr/bin/python3
"""Side by side: taskwatchd and the Python peer an operator would write instead
(scripts/peer/modelarts_peer.py, asyncio + aiohttp), one after the other against the same
modelarts-sim, the same tasks and the same settings: discovery of every dataset's tasks with
the list API, one poll of each task per interval, N = 16 keep-alive TLS connections, AK/SK
signing on every request, a webhook on each status change.

Regimes (REGIMES, default "fast latency fleet"):
  fast     2,000 tasks, 1 s interval, no server latency
  latency  10,000 tasks, 15 s, 30-100 ms of latency per request (uniform, each answer alone;
           16 connections cannot make 667 polls/s then: both sides run saturated)
  fleet    100,000 tasks, 60 s
For each side it starts the side, waits until the simulator served every task once (the first
round: an event, not a sleep; the peer also prints "ready"), lets a settle time pass, then
measures a window: polls/s (the simulator's get_task count) against the rate asked (tasks /
interval), CPU-seconds per 1,000 polls (utime+stime from /proc/PID/stat over the window), RSS
at the end and RSS per task above an idle instance of the same side watching one task,
/metrics scrape time (3 scrapes after the window, polling still on; median), and the latency
from a status change made in the simulator (PATCH /sim/tasks/ID during the window, timed just
before the PATCH: a --static simulator's model clock stands still) to the webhook's arrival at
the receiver (tests/support/webhook_receiver.py), p50 and p99. Then the bare client: build/bin/http_client_bench
--baseline at the same concurrency against an unauthenticated simulator with the same latency
and write settings (CPU-s per 1,000 requests of the project's client and of a bare Beast loop).

Environment: REGIMES, SIDES ("daemon peer"), WINDOW (seconds, all regimes, rounded to whole
intervals; default 20 / 30 / 60), SCALE (multiplies the task counts, e.g. 0.1 while
developing), CONNECTIONS (16), SPLIT=1 (modelarts-sim --split-writes: head and body in
separate writes), CHANGES (status changes per window, 30), BIN (build/bin), KEEP=1 (keep the
work folder), PERF=DIR (perf record -g and perf stat of syscalls and context switches of
each side over its window, into DIR/REGIME-SIDE.data and .stat; PERF_FREQ: samples per second,
default 999).
Needs build/bin/taskwatchd, modelarts-sim, http_client_bench, openssl, /usr/bin/python3 with
python3-aiohttp. Uses both cores: run nothing else beside it.
"""
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_webhook import (BIN, ROOT, SECRET, Receiver, Sim, cpu_seconds, die,  # noqa: E402
                           free_port, wait_for)

PEER = os.path.join(ROOT, "scripts", "peer", "modelarts_peer.py")
SCALE = float(os.environ.get("SCALE", "1"))
CONNECTIONS = int(os.environ.get("CONNECTIONS", "16"))
SPLIT = os.environ.get("SPLIT", "0") == "1"
CHANGES = int(os.environ.get("CHANGES", "30"))
WINDOW = os.environ.get("WINDOW")

# name: (tasks, interval s, latency fault or None, default window s, settle s). taskwatchd
# polls in rounds (each task again one interval after its last poll): a window of whole
# intervals that starts a fifth of an interval after the first round holds whole rounds.
REGIMES = {
    "fast": (2000, 1, None, 20, 0.2),
    "latency": (10000, 15, "30ms..100ms", 30, 3),
    "fleet": (100000, 60, None, 60, 12),
}
GOAL_CPU_RATIO, GOAL_MEM_RATIO, GOAL_BARE_RATIO = 8, 5, 1.5
GOAL_FLEET_CORE, GOAL_FLEET_SCRAPE = 0.30, 1.0


def log(msg):
    print(msg, flush=True)


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def request(url, ctx=None, method="GET", body=None, timeout=60):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json"} if data else {})
    with urllib.request.urlopen(req, context=ctx, timeout=timeout) as r:
        return r.read()


class Side:
    """One running daemon or peer."""

    def __init__(self, kind, proc, metrics_url):
        self.kind, self.proc, self.metrics_url = kind, proc, metrics_url

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


def sim_tasks(sim):
    return sim.get("/sim/tasks")["tasks"]


def start_daemon(work, name, sim, project, datasets, interval, rps, hook, one_task=None):
    state = os.path.join(work, "state-" + name)
    config = os.path.join(sim.dir, name + ".yml")
    port = free_port()
    lines = [
        f"listen: 127.0.0.1:{port}", f"state_dir: {state}", "log_level: warn", "modelarts:",
        f"  endpoint: {sim.url}", f"  project_id: {project}", f"  ca_file: {sim.ca}",
        "  auth: {type: aksk, ak_file: ak, sk_file: sk}", f"  max_connections: {CONNECTIONS}",
        f"  max_requests_per_second: {rps}", "poll:", f"  interval: {interval}s",
        f"  finished_interval: {interval}s", "targets:",
    ]
    if one_task:
        lines += [f"  - dataset_id: {one_task[0]}", f"    task_ids: [{one_task[1]}]"]
    else:
        lines += [f"  - dataset_id: {d}" for d in datasets]
    if hook:
        with open(os.path.join(sim.dir, "hook.secret"), "w") as f:
            f.write(SECRET + "\n")
        lines += ["webhooks:", "  - name: bench", f"    url: {hook.url}",
                  f"    ca_file: {hook.ca}", "    secret_file: hook.secret",
                  "    events: [task.status_changed]", "    max_attempts: 1000"]
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = subprocess.Popen([os.path.join(BIN, "taskwatchd"), "--config", config],
                            stderr=open(os.path.join(work, name + ".log"), "w"))
    return Side("daemon", proc, f"http://127.0.0.1:{port}/metrics")


def start_peer(work, name, sim, project, datasets, interval, hook, one_task=None):
    args = ["/usr/bin/python3", PEER, "--endpoint", sim.url, "--project-id", project,
            "--ak-file", os.path.join(sim.dir, "ak"), "--sk-file", os.path.join(sim.dir, "sk"),
            "--ca-file", sim.ca, "--interval", str(interval), "--connections", str(CONNECTIONS)]
    if one_task:
        args += ["--dataset", one_task[0], "--task-id", one_task[1]]
    else:
        for d in datasets:
            args += ["--dataset", d]
    if hook:
        with open(os.path.join(sim.dir, "hook.secret"), "w") as f:
            f.write(SECRET + "\n")
        args += ["--webhook", hook.url, "--webhook-ca", hook.ca, "--webhook-secret-file",
                 os.path.join(sim.dir, "hook.secret")]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True,
                            stderr=open(os.path.join(work, name + ".log"), "w"))
    line = proc.stdout.readline()
    if not line.startswith("listening "):
        die(f"the peer ({name}) did not start; see {work}/{name}.log")
    side = Side("peer", proc, line.split()[1] + "/metrics")
    side.stdout = proc.stdout
    return side


def get_task_count(sim):
    return sim.get("/sim/stats")["requests_by_kind"]["get_task"]


def wait_first_round(side, sim, base, want, timeout):
    """Until the simulator served `want` task GETs since `base` (every task once), and for the
    peer its "ready" line."""
    t0 = time.monotonic()
    wait_for(f"{side.kind}: the first round ({want} polls)",
             lambda: (side.alive() or die(f"{side.kind} exited during warm-up"))
             and get_task_count(sim) - base >= want, timeout)
    if side.kind == "peer":
        line = side.stdout.readline()
        if not line.startswith("ready"):
            die(f"the peer printed {line!r} instead of 'ready N'")
    return time.monotonic() - t0


def idle_rss(work, sim, kind, project, dataset, task):
    """RSS of an instance of `kind` watching one task, once it polled it."""
    base = get_task_count(sim)
    if kind == "daemon":
        side = start_daemon(work, "idle-daemon", sim, project, [], 1, 100, None, (dataset, task))
    else:
        side = start_peer(work, "idle-peer", sim, project, [], 1, None, (dataset, task))
    try:
        wait_first_round(side, sim, base, 3, 60)  # three polls: past start-up
        return rss_kib(side.proc.pid)
    finally:
        side.stop()


def make_changes(sim, tasks, count, window, t0):
    """PATCHes the status of `count` random tasks, spread over the first third of the window.
    Returns [(task_id, new status, wall-clock ms just before the PATCH)]: a --static
    simulator's model clock stands still, so /sim/transitions cannot time them."""
    ctx = sim.ctx
    made = []
    picked = random.sample(tasks, min(count, len(tasks)))
    for i, t in enumerate(picked):
        due = t0 + (i + 0.5) * window / 3 / len(picked)
        time.sleep(max(0.0, due - time.monotonic()))
        cur = json.loads(request(f"{sim.url}/sim/tasks/{t['task_id']}", ctx))
        new = "running" if cur.get("status") != 1 else "failed"
        at_ms = int(time.time() * 1000)
        request(f"{sim.url}/sim/tasks/{t['task_id']}", ctx, "PATCH", {"status": new})
        made.append((t["task_id"], new, at_ms))
    return made


def start_perf(name, pid, window):
    """PERF=DIR: a call-graph profile (DIR/NAME.data) and syscall and context-switch counts
    (DIR/NAME.stat) of each side over its window (adds a few % of CPU)."""
    out = os.environ.get("PERF")
    if not out:
        return []
    os.makedirs(out, exist_ok=True)
    base = os.path.join(out, name)
    quiet = dict(stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    freq = os.environ.get("PERF_FREQ", "999")
    return [subprocess.Popen(["perf", "record", "-F", freq, "-g", "-o", base + ".data", "-p",
                              str(pid), "--", "sleep", str(window)], **quiet),
            subprocess.Popen(["perf", "stat", "-e", "raw_syscalls:sys_enter,context-switches",
                              "-o", base + ".stat", "-p", str(pid), "--", "sleep", str(window)],
                             **quiet)]


def scrape(url, n=3):
    times, size = [], 0
    for _ in range(n):
        s = time.monotonic()
        with urllib.request.urlopen(url, timeout=120) as r:
            size = len(r.read())
        times.append(time.monotonic() - s)
    return statistics.median(times), size


def webhook_latency(hook, made, grace):
    """Matches each change made to the first status_changed webhook for that task and status
    that arrived at the receiver after it; waits up to `grace` seconds for missing ones."""
    until = time.monotonic() + grace
    while True:
        arrivals = {}
        for r in hook.records():
            body = r["body"]
            if not isinstance(body, dict) or body.get("type") != "task.status_changed":
                continue
            arrivals.setdefault((body["task"]["task_id"], body["current"]["status"]),
                                []).append(r["at_ms"])
        lat = []
        for task_id, status, at_ms in made:
            later = [a for a in arrivals.get((task_id, status), []) if a >= at_ms]
            if later:
                lat.append(min(later) - at_ms)
        if len(lat) >= len(made) or time.monotonic() > until:
            break
        time.sleep(0.5)
    lat.sort()
    if not lat:
        return None, None, 0, len(made)
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    return p(0.5), p(0.99), len(lat), len(made)


def measure(work, name, sim, hook, kind, project, datasets, tasks, interval, window, settle,
            saturated_rate):
    rps = max(100, int(2 * len(tasks) / interval))
    base = get_task_count(sim)
    if kind == "daemon":
        side = start_daemon(work, name, sim, project, datasets, interval, rps, hook)
    else:
        side = start_peer(work, name, sim, project, datasets, interval, hook)
    try:
        # The whole first round even when saturated: a task's first poll only records its
        # state, so a change made before it would never show as a status change.
        warm = wait_first_round(side, sim, base, len(tasks), 600)
        time.sleep(settle)  # lets the first round's burst pass (a measured gap, not a sync)
        perf = start_perf(name, side.proc.pid, window)
        g0, c0, t0 = get_task_count(sim), cpu_seconds(side.proc.pid), time.monotonic()
        made = make_changes(sim, tasks, CHANGES, window, t0)
        time.sleep(max(0.0, t0 + window - time.monotonic()))
        for p in perf:
            p.wait()
        g1, c1, t1 = get_task_count(sim), cpu_seconds(side.proc.pid), time.monotonic()
        if not side.alive():
            die(f"{kind} ({name}) died during the window")
        rss = rss_kib(side.proc.pid)
        scrape_s, scrape_bytes = scrape(side.metrics_url)
        # Changes made late in the window arrive up to a poll cycle later.
        cycle = len(tasks) / saturated_rate if saturated_rate else interval
        p50, p99, matched, made = webhook_latency(hook, made, min(cycle * 1.2 + 2, 60))
    finally:
        side.stop()
    w = t1 - t0
    polls = g1 - g0
    return {"side": kind, "warm": warm, "window": w,
            "polls_s": polls / w, "asked_s": len(tasks) / interval,
            "cpu_k": 1000 * (c1 - c0) / polls if polls else float("nan"),
            "core": (c1 - c0) / w, "rss": rss, "scrape": scrape_s, "scrape_mb": scrape_bytes / 1e6,
            "p50": p50, "p99": p99, "matched": matched, "made": made}


def answer_flags(latency):
    """modelarts-sim flags for how a regime's answers come: after `latency` ("30ms..100ms"),
    and with SPLIT=1 head and body in separate writes."""
    flags = ["--fault", f"latency:1:delay={latency}"] if latency else []
    return flags + (["--split-writes"] if SPLIT else [])


def bare_client(work, latency):
    """CPU-s per 1,000 requests of the project's client and of a bare Beast loop, at the
    same concurrency, against an unauthenticated simulator with the same latency and writes."""
    sim = Sim(work, ["--static", "--tasks", "100", "--datasets", "1", "--no-auth"]
              + answer_flags(latency))
    try:
        t = sim_tasks(sim)[0]
        url = f"{sim.url}/v2/{t['project_id']}/datasets/{t['dataset_id']}/tasks/{t['task_id']}"
        n = 2000 if latency else 40000
        out = subprocess.run([os.path.join(BIN, "http_client_bench"), "--url", url, "--ca",
                              sim.ca, "--connections", str(CONNECTIONS), "--requests", str(n),
                              "--baseline"], capture_output=True, text=True, timeout=600)
    finally:
        sim.stop()
    rows = {}
    for line in out.stdout.splitlines():
        f = line.split()
        if len(f) >= 6 and f[0] in ("client", "bare-beast"):
            rows[f[0]] = float(f[5])
    if "bare-beast" not in rows:
        die("http_client_bench gave no result:\n" + out.stdout + out.stderr)
    return rows


def fmt(v, spec, dash="-"):
    return dash if v is None else format(v, spec)


def main():
    for b in ("taskwatchd", "modelarts-sim", "http_client_bench"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            die(f"{BIN}/{b} not found: build first")
    if shutil.which("openssl") is None:
        die("openssl is needed")
    ok = subprocess.run(["/usr/bin/python3", PEER, "--self-test",
                         os.path.join(ROOT, "tests", "data", "sdk-hmac-sha256.json")],
                        capture_output=True, text=True)
    if ok.returncode != 0:
        die("the peer's signer fails the SDK vectors:\n" + ok.stdout + ok.stderr)
    log("peer " + ok.stdout.strip())
    regimes = os.environ.get("REGIMES", "fast latency fleet").split()
    sides = os.environ.get("SIDES", "daemon peer").split()
    for r in regimes:
        if r not in REGIMES:
            die(f"REGIMES: unknown regime '{r}' (fast, latency, fleet)")
    work = tempfile.mkdtemp(prefix="taskwatch-bench-peer-")
    results = []
    bare = {}
    try:
        hook = Receiver(work, work)
        for r in regimes:
            tasks_n, interval, latency, window, settle = REGIMES[r]
            tasks_n = max(10, int(tasks_n * SCALE))
            if WINDOW:  # whole intervals (see REGIMES)
                window = max(1, round(float(WINDOW) / interval)) * interval
            datasets_n = max(1, min(100, tasks_n // 1000))
            sim = Sim(work, ["--static", "--tasks", str(tasks_n), "--datasets", str(datasets_n)]
                      + answer_flags(latency))
            try:
                tasks = sim_tasks(sim)
                project = tasks[0]["project_id"]
                datasets = sorted({t["dataset_id"] for t in tasks})
                log(f"{r}: {len(tasks)} tasks over {len(datasets)} datasets, interval {interval} s"
                    f", latency {latency or 'none'}, {CONNECTIONS} connections, "
                    f"{'split' if SPLIT else 'whole'} writes, window {window:.0f} s")
                saturated = None
                if latency:
                    lo, hi = (float(x.rstrip("ms")) / 1000 for x in latency.split(".."))
                    capacity = CONNECTIONS / ((lo + hi) / 2)
                    if capacity < len(tasks) / interval:
                        saturated = capacity
                for kind in sides:
                    idle = idle_rss(work, sim, kind, project, tasks[0]["dataset_id"],
                                    tasks[0]["task_id"])
                    m = measure(work, f"{r}-{kind}", sim, hook, kind, project, datasets, tasks,
                                interval, window, settle, saturated)
                    m.update(regime=r, tasks=len(tasks), idle=idle,
                             kib_task=(m["rss"] - idle) / len(tasks))
                    results.append(m)
                    log(f"  {kind}: {m['polls_s']:.0f} polls/s of {m['asked_s']:.0f} asked, "
                        f"{m['cpu_k']:.3f} CPU-s/1k polls ({100 * m['core']:.0f}% of a core), "
                        f"RSS {m['rss'] / 1024:.0f} MiB ({m['kib_task']:.2f} KiB/task above "
                        f"{idle / 1024:.0f} MiB idle), scrape {1000 * m['scrape']:.0f} ms "
                        f"({m['scrape_mb']:.1f} MB), webhook p50/p99 {fmt(m['p50'], '.0f')}/"
                        f"{fmt(m['p99'], '.0f')} ms ({m['matched']} of {m['made']} changes); "
                        f"first round {m['warm']:.0f} s")
            finally:
                sim.stop()
            key = latency or ""
            if key not in bare:
                bare[key] = bare_client(work, latency)
                log(f"  bare client, {CONNECTIONS} connections: project client "
                    f"{bare[key].get('client', float('nan')):.4f}, bare Beast "
                    f"{bare[key]['bare-beast']:.4f} CPU-s/1k requests")
        hook.stop()
        report(results, bare)
    finally:
        if os.environ.get("KEEP") == "1":
            print("kept " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def report(results, bare):
    log("")
    log(f"Side by side ({CONNECTIONS} connections, AK/SK signing, "
        f"{'split' if SPLIT else 'whole'} writes):")
    head = ("regime", "side", "polls/s", "asked", "CPU-s/1k", "core", "RSS MiB", "KiB/task",
            "scrape ms", "hook p50", "hook p99")
    log("| " + " | ".join(head) + " |")
    log("|" + "---|" * len(head))
    for m in results:
        log(f"| {m['regime']} ({m['tasks']:,}) | {m['side']} | {m['polls_s']:.0f} | "
            f"{m['asked_s']:.0f} | {m['cpu_k']:.3f} | {100 * m['core']:.0f}% | "
            f"{m['rss'] / 1024:.0f} | {m['kib_task']:.2f} | {1000 * m['scrape']:.0f} | "
            f"{fmt(m['p50'], '.0f')} | {fmt(m['p99'], '.0f')} |")
    log("")
    log("| regime | peer/daemon CPU per poll (goal >= 8) | peer/daemon memory per task "
        "(goal >= 5) | bare Beast CPU-s/1k | daemon/bare (goal <= 1.5) |")
    log("|---|---|---|---|---|")
    by = {(m["regime"], m["side"]): m for m in results}
    for r in dict.fromkeys(m["regime"] for m in results):
        d, p = by.get((r, "daemon")), by.get((r, "peer"))
        b = bare.get(REGIMES[r][2] or "", {}).get("bare-beast")
        cpu_ratio = p["cpu_k"] / d["cpu_k"] if d and p else None
        mem_ratio = p["kib_task"] / d["kib_task"] if d and p and d["kib_task"] > 0 else None
        bare_ratio = d["cpu_k"] / b if d and b else None
        mark = lambda v, ok: "-" if v is None else f"{v:.1f}x {'met' if ok(v) else 'MISSED'}"
        log(f"| {r} | {mark(cpu_ratio, lambda v: v >= GOAL_CPU_RATIO)} | "
            f"{mark(mem_ratio, lambda v: v >= GOAL_MEM_RATIO)} | {fmt(b, '.4f')} | "
            f"{mark(bare_ratio, lambda v: v <= GOAL_BARE_RATIO)} |")
    f = by.get(("fleet", "daemon"))
    if f:
        log(f"fleet ({f['tasks']:,} tasks @ 60 s): daemon {100 * f['core']:.1f}% of a core "
            f"(goal < {100 * GOAL_FLEET_CORE:.0f}%: "
            f"{'met' if f['core'] < GOAL_FLEET_CORE else 'MISSED'}), scrape "
            f"{1000 * f['scrape']:.0f} ms (goal < {1000 * GOAL_FLEET_SCRAPE:.0f} ms: "
            f"{'met' if f['scrape'] < GOAL_FLEET_SCRAPE else 'MISSED'})")


if __name__ == "__main__":
    main()
