"""
Test plumbing, not a test module: Debian's `chromium`, headless, driven over the DevTools
protocol on loopback (aiohttp's websocket client), as a person would use a page: type into a
field, click, read what shows.
"""

import asyncio
import base64
import contextlib
import itertools
import json
import os
import queue
import re
import shutil
import subprocess
import tempfile
import threading
from typing import Any, AsyncIterator, Dict, Optional

import aiohttp

EXECUTABLES = ("chromium", "chromium-browser", "google-chrome")
_LISTENING = re.compile(r"DevTools listening on (ws://\S+)")


def executable() -> Optional[str]:
    for name in EXECUTABLES:
        path = shutil.which(name)
        if path:
            return path
    return None


class Page:
    """One tab, over its DevTools websocket."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self._socket = socket
        self._ids = itertools.count(1)
        self._events: "asyncio.Queue[Dict[str, Any]]" = asyncio.Queue()
        self._waiting: Dict[int, asyncio.Future] = {}
        self._reader = asyncio.ensure_future(self._read())

    async def _read(self) -> None:
        async for message in self._socket:
            data = json.loads(message.data)
            if "id" in data:
                future = self._waiting.pop(data["id"], None)
                if future is not None and not future.done():
                    future.set_result(data)
            else:
                await self._events.put(data)

    async def send(self, method: str, **params: Any) -> Dict[str, Any]:
        number = next(self._ids)
        future = asyncio.get_running_loop().create_future()
        self._waiting[number] = future
        await self._socket.send_str(json.dumps({"id": number, "method": method, "params": params}))
        answer = await asyncio.wait_for(future, 60)
        if "error" in answer:
            raise RuntimeError(f"{method}: {answer['error']}")
        return answer.get("result", {})

    async def event(self, method: str) -> Dict[str, Any]:
        while True:
            data = await asyncio.wait_for(self._events.get(), 60)
            if data["method"] == method:
                return data.get("params", {})

    async def navigate(self, url: str) -> None:
        await self.send("Page.enable")
        await self.send("Page.navigate", url=url)
        await self.event("Page.loadEventFired")

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression (awaited when it is a promise)."""
        result = await self.send(
            "Runtime.evaluate", expression=expression, awaitPromise=True, returnByValue=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression[:80]}: {result['exceptionDetails']}")
        return result["result"].get("value")

    async def insert_text(self, selector: str, text: str) -> None:
        """Focuses `selector` and inserts `text` as a paste or an input method does."""
        await self.evaluate(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.send("Input.insertText", text=text)

    async def click(self, selector: str) -> None:
        """A real mouse click at the middle of `selector` (scrolled into view first)."""
        box = await self.evaluate(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
            " e.scrollIntoView({block: 'center'}); const r = e.getBoundingClientRect();"
            " return [r.x + r.width / 2, r.y + r.height / 2]; })()"
        )
        for kind in ("mousePressed", "mouseReleased"):
            await self.send(
                "Input.dispatchMouseEvent", type=kind, x=box[0], y=box[1], button="left", clickCount=1
            )

    async def wait_until(self, expression: str, seconds: float = 60) -> None:
        await self.evaluate(
            "new Promise((resolve, reject) => { const deadline = Date.now() + %d;"
            " (function poll() { if (%s) resolve(true);"
            " else if (Date.now() > deadline) reject(new Error('timed out: ' + %s));"
            " else setTimeout(poll, 20); })(); })" % (seconds * 1000, expression, json.dumps(expression))
        )

    async def screenshot(self) -> bytes:
        result = await self.send("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        return base64.b64decode(result["data"])

    async def close(self) -> None:
        self._reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._reader


@contextlib.asynccontextmanager
async def chromium(width: int = 1100, height: int = 900) -> AsyncIterator[Page]:
    """A headless Chromium with a fresh profile; yields its first tab."""
    path = executable()
    assert path is not None, "no chromium"
    profile = tempfile.mkdtemp(prefix="xner-chromium-")
    command = [
        path,
        "--headless",
        "--disable-gpu",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--remote-debugging-address=127.0.0.1",
        "--remote-debugging-port=0",
        f"--user-data-dir={profile}",
        f"--window-size={width},{height}",
        "about:blank",
    ]
    if os.geteuid() == 0:
        command.insert(1, "--no-sandbox")  # Chromium refuses to run as root with its sandbox
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    lines: "queue.Queue[Optional[str]]" = queue.Queue()

    def read_stderr() -> None:
        assert process.stderr is not None
        for line in process.stderr:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=read_stderr, daemon=True).start()
    seen = []
    try:
        browser_url = None
        while browser_url is None:
            line = await asyncio.get_running_loop().run_in_executor(None, lines.get, True, 60)
            if line is None:
                raise RuntimeError("chromium exited before it listened: " + "".join(seen)[-2000:])
            seen.append(line)
            match = _LISTENING.search(line)
            if match:
                browser_url = match.group(1)
        port = int(browser_url.split(":")[2].split("/")[0])
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{port}/json/list") as response:
                targets = await response.json()
            target = next(t for t in targets if t["type"] == "page")
            async with session.ws_connect(target["webSocketDebuggerUrl"], max_msg_size=0) as socket:
                page = Page(socket)
                try:
                    yield page
                finally:
                    await page.close()
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        shutil.rmtree(profile, ignore_errors=True)
