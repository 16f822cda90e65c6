#!/usr/bin/python3
"""A webhook receiver for the end-to-end tests, written apart from taskwatch's own code.

Serves HTTPS (the test CA's certificate) on 127.0.0.1, verifies each request's Standard
Webhooks signature with its own HMAC code, and appends one JSON line per request to --log:
{"n", "at_ms", "path", "query", "id", "timestamp", "signature_ok", "status", "body", "headers"}.
It prints "listening PORT" on stdout once it accepts connections.

How it answers the n-th request (1-based):
  --script S1,S2,...   the statuses of the first requests, in order (then --status)
  --status CODE        the answer after the script (default 200)
  --body TEXT          the body of 2xx answers (default "ok")
  --body-script JSON   a JSON array: the bodies of the first 2xx answers, in order (then --body)
  --hang               never answer (reads the request, then waits)
  --retry-after SECS   a Retry-After header on 429 and 503 answers
  --delay MS           wait this long before answering
"""
import argparse
import base64
import hashlib
import hmac
import json
import ssl
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


def secret_bytes(secret):
    if secret.startswith("whsec_"):
        return base64.b64decode(secret[len("whsec_"):])
    return secret.encode()


def signature_ok(secrets, msg_id, timestamp, body, header):
    if not secrets:
        return None
    given = {part for part in (header or "").split(" ") if part}
    for secret in secrets:
        mac = hmac.new(secret_bytes(secret), f"{msg_id}.{timestamp}.".encode() + body,
                       hashlib.sha256).digest()
        expected = "v1," + base64.b64encode(mac).decode()
        if any(hmac.compare_digest(expected, g) for g in given):
            return True
    return False


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--log", required=True)
    p.add_argument("--secret", action="append", default=[])
    p.add_argument("--script", default="")
    p.add_argument("--status", type=int, default=200)
    p.add_argument("--body", default="ok")
    p.add_argument("--body-script", default="[]")
    p.add_argument("--hang", action="store_true")
    p.add_argument("--retry-after", default=None)
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--delay", type=int, default=0)
    args = p.parse_args()
    script = [int(s) for s in args.script.split(",") if s]
    body_script = json.loads(args.body_script)
    answered_2xx = [0]
    lock = threading.Lock()
    count = [0]
    log = open(args.log, "a", buffering=1)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # The status line and headers, then the body, go in two writes: without TCP_NODELAY
        # the body waits for the client's delayed ACK (40 ms a request).
        disable_nagle_algorithm = True

        def log_message(self, *a):
            pass

        def do_POST(self):
            arrived_ms = int(time.time() * 1000)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with lock:
                count[0] += 1
                n = count[0]
            status = script[n - 1] if n <= len(script) else args.status
            if args.hang:
                time.sleep(3600)
                return
            if args.delay:
                time.sleep(args.delay / 1000)
            try:
                parsed = json.loads(body)
            except ValueError:
                parsed = body.decode(errors="replace")
            url = urlsplit(self.path)
            record = {
                "n": n,
                "at_ms": arrived_ms,
                "path": url.path,
                "query": url.query,
                "id": self.headers.get("webhook-id"),
                "timestamp": self.headers.get("webhook-timestamp"),
                "signature_ok": signature_ok(args.secret, self.headers.get("webhook-id"),
                                             self.headers.get("webhook-timestamp"), body,
                                             self.headers.get("webhook-signature")),
                "status": status,
                "body": parsed,
                "headers": {k.lower(): v for k, v in self.headers.items()},
            }
            if 200 <= status < 300:
                with lock:
                    answered_2xx[0] += 1
                    k = answered_2xx[0]
                answer = body_script[k - 1] if k <= len(body_script) else args.body
                record["answer"] = answer
            else:
                answer = f"status {status}"
            answer = answer.encode()
            with lock:
                log.write(json.dumps(record) + "\n")
            self.send_response(status)
            if status in (429, 503) and args.retry_after is not None:
                self.send_header("Retry-After", args.retry_after)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

    server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    server.daemon_threads = True
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print(f"listening {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())
