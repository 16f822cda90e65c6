#!/usr/bin/python3
"""Types into a page in headless Chromium, as a person would, for the end-to-end tests.

Starts Chromium with the DevTools protocol on a free port, opens URL, waits until the page has
loaded, sets the value of the element SELECTOR to TEXT and dispatches an `input` event (what a
keystroke does), then waits until the page's own script has applied it: its location changed
and it refreshed in place (`data-refreshes` on <html>). Prints one JSON line:
{"url": location.href, "refreshes": n, "dom": outerHTML}. Exits 1 with a message on timeout.

usage: browser_typing.py CHROMIUM PROFILE_DIR URL SELECTOR TEXT
"""
import asyncio
import json
import os
import re
import sys

import aiohttp


async def main(chromium, profile, url, selector, text):
    env = dict(os.environ, HOME=profile)
    proc = await asyncio.create_subprocess_exec(
        chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--no-first-run", "--remote-debugging-port=0", "--user-data-dir=" + profile + "/p",
        "about:blank", stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE, env=env)
    try:
        ws_url = None
        while ws_url is None:
            line = await asyncio.wait_for(proc.stderr.readline(), 30)
            if not line:
                raise SystemExit("chromium exited before DevTools listened")
            m = re.search(rb"DevTools listening on (ws://\S+)", line)
            if m:
                ws_url = m.group(1).decode()
        async with aiohttp.ClientSession() as http:
            async with http.ws_connect(ws_url, max_msg_size=0) as ws:
                ids = iter(range(1, 1 << 30))

                async def call(method, params=None, session=None):
                    mid = next(ids)
                    msg = {"id": mid, "method": method, "params": params or {}}
                    if session:
                        msg["sessionId"] = session
                    await ws.send_str(json.dumps(msg))
                    while True:
                        reply = json.loads((await ws.receive()).data)
                        if reply.get("id") == mid:
                            if "error" in reply:
                                raise SystemExit(f"{method}: {reply['error']}")
                            return reply["result"]

                target = (await call("Target.createTarget", {"url": url}))["targetId"]
                session = (await call("Target.attachToTarget",
                                      {"targetId": target, "flatten": True}))["sessionId"]

                async def evaluate(expr):
                    r = await call("Runtime.evaluate", {"expression": expr, "returnByValue": True},
                                   session)
                    if "exceptionDetails" in r:
                        raise SystemExit(f"{expr}: {r['exceptionDetails']}")
                    return r["result"].get("value")

                async def until(expr, what):
                    for _ in range(300):  # 30 s
                        if await evaluate(expr):
                            return
                        await asyncio.sleep(0.1)
                    raise SystemExit("timed out waiting for " + what)

                # The new target starts at about:blank, already complete: wait for the element.
                await until("document.readyState === 'complete' && document.querySelector(" +
                            json.dumps(selector) + ") !== null", "the page to load")
                before = await evaluate("location.href")
                await evaluate(
                    "(function () { var e = document.querySelector(" + json.dumps(selector) +
                    "); e.focus(); e.value = " + json.dumps(text) +
                    "; e.dispatchEvent(new Event('input', {bubbles: true})); })()")
                await until("location.href !== " + json.dumps(before) +
                            " && document.documentElement.hasAttribute('data-refreshes')",
                            "the page to apply the filter")
                print(json.dumps({
                    "url": await evaluate("location.href"),
                    "refreshes": int(await evaluate(
                        "document.documentElement.getAttribute('data-refreshes')")),
                    "dom": await evaluate("document.documentElement.outerHTML"),
                }))
    finally:
        if proc.returncode is None:
            proc.terminate()
            await proc.wait()


if __name__ == "__main__":
    if len(sys.argv) != 6:
        sys.exit(__doc__)
    asyncio.run(main(*sys.argv[1:]))
