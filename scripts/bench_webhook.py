#!/usr/bin/python3
"""Benchmarks webhook delivery end to end: taskwatchd polls modelarts-sim and delivers its
outbox to the test receiver (tests/support/webhook_receiver.py, HTTPS, signature checked) as
a generic webhook.

Throughput: a static simulator with TASKS tasks; every task's task.discovered event goes to
the receiver. Run twice, without and with the webhook, to the moment every event is in (with
the webhook: accepted by the receiver); the daemon's CPU-seconds for delivery are the
difference. Prints deliveries/s (first to last arrival) and CPU-seconds per 1,000
deliveries.

Latency: a simulator whose tasks move on their own (LIVELY tasks, --phase-seconds 2), polled
every second; each status change the simulator made (/sim/transitions, at_ms) is matched to
its task.status_changed arriving at the receiver. Prints p50 and p99 (goal: p99 under the
poll interval + 100 ms).

Backlog: TASKS static tasks polled every 15 s, measured over BACKLOG_WINDOW seconds once
every task was polled, first without a webhook, then with one whose receiver answers 500 to
everything (the 10,000 events back off and retry meanwhile): polls/s, the daemon's CPU and
the median /metrics scrape time, side by side. Delivery's bookkeeping must not slow polling.

Usage: scripts/bench-webhook.sh   (needs build/bin/taskwatchd and build/bin/modelarts-sim)
Environment: TASKS (10000), LIVELY (300), LATENCY_SECONDS (40), BACKLOG_WINDOW (45),
BIN (build/bin), KEEP=1.
"""
import json
import os
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = os.environ.get("BIN", os.path.join(ROOT, "build", "bin"))
RECEIVER = os.path.join(ROOT, "tests", "support", "webhook_receiver.py")
TASKS = int(os.environ.get("TASKS", "10000"))
LIVELY = int(os.environ.get("LIVELY", "300"))
LATENCY_SECONDS = float(os.environ.get("LATENCY_SECONDS", "40"))
CLK_TCK = os.sysconf("SC_CLK_TCK")
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def die(msg):
    print("bench-webhook: " + msg, file=sys.stderr)
    sys.exit(1)


def cpu_seconds(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK


def wait_for(what, done, timeout):
    until = time.monotonic() + timeout
    while time.monotonic() < until:
        if done():
            return
        time.sleep(0.05)
    die(f"timed out waiting for {what}")


class Sim:
    def __init__(self, work, extra):
        self.dir = tempfile.mkdtemp(dir=work, prefix="sim-")
        self.ak = "BENCHHOOKAK00000001"
        with open(os.path.join(self.dir, "sk"), "w") as f:
            f.write(os.urandom(20).hex() + "\n")
        with open(os.path.join(self.dir, "ak"), "w") as f:
            f.write(self.ak + "\n")
        self.proc = subprocess.Popen(
            [os.path.join(BIN, "modelarts-sim"), "--self-signed", os.path.join(self.dir, "tls"),
             "--ak", self.ak, "--sk-file", os.path.join(self.dir, "sk")] + extra,
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "sim.log"), "w"),
            text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening on "):
            die("modelarts-sim did not start")
        self.url = line.split()[-1]
        self.ca = os.path.join(self.dir, "tls", "ca.pem")
        self.ctx = ssl.create_default_context(cafile=self.ca)

    def get(self, path):
        with urllib.request.urlopen(self.url + path, context=self.ctx, timeout=60) as r:
            return json.load(r)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


class Receiver:
    def __init__(self, work, ca_dir, extra=()):
        self.dir = tempfile.mkdtemp(dir=work, prefix="receiver-")
        # A certificate for 127.0.0.1 from a CA of our own, made with openssl.
        run = lambda *a: subprocess.run(a, check=True, capture_output=True, cwd=self.dir)
        run("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=bench CA")
        run("openssl", "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "key.pem", "-out", "req.csr", "-subj", "/CN=127.0.0.1")
        with open(os.path.join(self.dir, "ext"), "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        run("openssl", "x509", "-req", "-in", "req.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-out", "cert.pem", "-days", "2", "-extfile", "ext")
        self.ca = os.path.join(self.dir, "ca.pem")
        self.log = os.path.join(self.dir, "log.jsonl")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3", RECEIVER, "--cert", os.path.join(self.dir, "cert.pem"),
             "--key", os.path.join(self.dir, "key.pem"), "--log", self.log, "--secret", SECRET]
            + list(extra),
            stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            die("the receiver did not start")
        self.url = f"https://127.0.0.1:{line.split()[1]}/hook"

    def records(self):
        out = []
        try:
            with open(self.log) as f:
                for line in f:
                    if line.endswith("\n"):
                        out.append(json.loads(line))
        except FileNotFoundError:
            pass
        return out

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_daemon(work, name, sim, interval, hook=None, port=0):
    state = os.path.join(work, "state-" + name)
    config = os.path.join(sim.dir, name + ".yml")
    tasks = sim.get("/sim/tasks")["tasks"]
    datasets = sorted({t["dataset_id"] for t in tasks})
    lines = [
        f"listen: 127.0.0.1:{port}", f"state_dir: {state}", "log_level: warn", "modelarts:",
        f"  endpoint: {sim.url}", f"  project_id: {tasks[0]['project_id']}",
        f"  ca_file: {sim.ca}", "  auth: {type: aksk, ak_file: ak, sk_file: sk}",
        "  max_connections: 16", "  max_requests_per_second: 5000", "poll:",
        f"  interval: {interval}", f"  finished_interval: {interval}", "  jitter: 0", "targets:",
    ] + [f"  - dataset_id: {d}" for d in datasets]
    if hook:
        with open(os.path.join(sim.dir, "hook.secret"), "w") as f:
            f.write(SECRET + "\n")
        lines += ["webhooks:", "  - name: bench", f"    url: {hook.url}",
                  f"    ca_file: {hook.ca}", "    secret_file: hook.secret",
                  "    max_attempts: 1000"]
    with open(config, "w") as f:
        f.write("\n".join(lines) + "\n")
    proc = subprocess.Popen([os.path.join(BIN, "taskwatchd"), "--config", config],
                            stderr=open(os.path.join(work, name + ".log"), "w"))
    return proc, os.path.join(state, "taskwatch.db")


def count(db, sql):
    out = subprocess.run(["sqlite3", "-readonly", db, sql], capture_output=True, text=True)
    return int(out.stdout.strip() or 0) if out.returncode == 0 else 0


def throughput(work):
    sim = Sim(work, ["--static", "--tasks", str(TASKS), "--datasets", "20"])
    # The daemon lists every task type (auto-grouping too): one task.discovered per task.
    listable = len(sim.get("/sim/tasks")["tasks"])
    # Without the webhook: the CPU of discovering, polling once and committing every event.
    d, db = start_daemon(work, "plain", sim, "10m")
    wait_for("discovery", lambda: count(db, "SELECT count(*) FROM events") >= listable, 120)
    base = cpu_seconds(d.pid)
    d.terminate()
    d.wait()
    hook = Receiver(work, sim.dir)
    d, db = start_daemon(work, "hook", sim, "10m", hook)
    wait_for("the deliveries",
             lambda: count(db, "SELECT count(*) FROM deliveries WHERE state = 'delivered'")
             >= listable, 600)
    with_hook = cpu_seconds(d.pid)
    d.terminate()
    d.wait()
    recs = [r for r in hook.records() if 200 <= r["status"] < 300]
    hook.stop()
    sim.stop()
    bad = sum(1 for r in recs if not r["signature_ok"])
    ids = {r["id"] for r in recs}
    span = (recs[-1]["at_ms"] - recs[0]["at_ms"]) / 1000 if len(recs) > 1 else 0
    print(f"throughput: {len(recs)} deliveries of {listable} events ({len(ids)} distinct ids, "
          f"{bad} bad signatures) in {span:.2f} s: {len(recs) / span:.0f} deliveries/s")
    print(f"  daemon CPU: {with_hook:.2f} s with the webhook, {base:.2f} s without: "
          f"{(with_hook - base) / len(recs) * 1000:.3f} CPU-s per 1,000 deliveries")


def latency(work):
    sim = Sim(work, ["--tasks", str(LIVELY), "--datasets", "3", "--phase-seconds", "2",
                     "--spawn-rate", "5"])
    hook = Receiver(work, sim.dir)
    d, db = start_daemon(work, "lively", sim, "1s", hook)
    time.sleep(LATENCY_SECONDS)  # the measurement window itself, not a synchronisation
    transitions = sim.get("/sim/transitions")["transitions"]

    def arrivals():
        first = {}
        for r in hook.records():
            body = r["body"]
            if not isinstance(body, dict) or body.get("type") != "task.status_changed":
                continue
            first.setdefault((body["task"]["task_id"], body["current"]["status"]), r["at_ms"])
        return first

    # The last changes of the window arrive up to a poll (1 s) and a delivery later: wait
    # until every served one has (an event, not a fixed sleep), 15 s at most, then stop.
    served = [(t["task_id"], t["to"]) for t in transitions if t.get("served")]
    until = time.monotonic() + 15
    while time.monotonic() < until and not all(k in arrivals() for k in served):
        time.sleep(0.1)
    d.terminate()
    d.wait()
    arrivals = arrivals()
    lat = []
    for t in transitions:
        if not t.get("served"):
            continue
        key = (t["task_id"], t["to"])
        if key in arrivals and arrivals[key] >= t["at_ms"]:
            lat.append(arrivals[key] - t["at_ms"])
    hook.stop()
    sim.stop()
    if not lat:
        die("no status change was matched")
    lat.sort()
    p = lambda q: lat[min(len(lat) - 1, int(q * len(lat)))]
    print(f"latency: {len(lat)} status changes (of {len(transitions)} the simulator made), "
          f"change in the simulator to arrival at the receiver: p50 {p(0.5)} ms, "
          f"p99 {p(0.99)} ms, max {lat[-1]} ms (poll interval 1000 ms; goal p99 < 1100 ms)")


def polling_under(work, sim, name, hook, window):
    """Polls/s, the daemon's CPU and /metrics scrape times over `window` seconds, once every
    task was polled once."""
    port = free_port()
    d, db = start_daemon(work, name, sim, "15s", hook, port)
    total = len(sim.get("/sim/tasks")["tasks"])
    wait_for("discovery",
             lambda: count(db, "SELECT count(*) FROM tasks WHERE last_poll IS NOT NULL") >= total,
             120)
    time.sleep(7.5)  # half an interval: the window starts between rounds, as bench-watch's
    polls0 = sim.get("/sim/stats")["requests_by_kind"]["get_task"]
    cpu0, t0 = cpu_seconds(d.pid), time.monotonic()
    scrapes = []
    until = t0 + window
    while time.monotonic() < until:
        s0 = time.monotonic()
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=30) as r:
            r.read()
        scrapes.append((time.monotonic() - s0) * 1000)
        time.sleep(max(0.0, min(5.0, until - time.monotonic())))
    cpu1, t1 = cpu_seconds(d.pid), time.monotonic()
    polls1 = sim.get("/sim/stats")["requests_by_kind"]["get_task"]
    pending = count(db, "SELECT count(*) FROM deliveries WHERE state = 'pending'")
    d.terminate()
    d.wait()
    scrapes.sort()
    return (polls1 - polls0) / (t1 - t0), cpu1 - cpu0, scrapes[len(scrapes) // 2], pending


def backlog(work):
    sim = Sim(work, ["--static", "--tasks", str(TASKS), "--datasets", "20"])
    window = float(os.environ.get("BACKLOG_WINDOW", "45"))
    rate0, cpu0, scrape0, _ = polling_under(work, sim, "no-hook", None, window)
    hook = Receiver(work, sim.dir, ["--status", "500"])
    rate1, cpu1, scrape1, pending = polling_under(work, sim, "failing-hook", hook, window)
    failed = len(hook.records())
    hook.stop()
    sim.stop()
    print(f"backlog: {TASKS} tasks polled every 15 s, {window:.0f} s window; a receiver answering "
          f"500 to everything ({failed} attempts, {pending} events still pending at the end):")
    print(f"  polls/s {rate0:.0f} without the webhook, {rate1:.0f} with it; daemon CPU "
          f"{cpu0:.2f} s vs {cpu1:.2f} s; /metrics median {scrape0:.1f} ms vs {scrape1:.1f} ms")


def main():
    for b in ("taskwatchd", "modelarts-sim"):
        if not os.access(os.path.join(BIN, b), os.X_OK):
            die(f"{BIN}/{b} not found: build first")
    for tool in ("openssl", "sqlite3"):
        if not shutil.which(tool):
            die(f"{tool} is needed")
    work = tempfile.mkdtemp(prefix="taskwatch-bench-webhook-")
    try:
        throughput(work)
        latency(work)
        backlog(work)
    finally:
        if os.environ.get("KEEP") == "1":
            print("kept " + work, file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
