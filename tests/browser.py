"""Real headless Chromium (Debian's `chromium`) driven over the DevTools protocol.

No WebDriver dependency: aiohttp's WebSocket client speaks CDP to one page target.
Waits are on conditions (a JavaScript expression becoming truthy) with generous bounds,
never fixed sleeps, so the tests pass on a busy 2-core machine. Every JavaScript
exception and console error is collected in `errors`; screenshots go to var/screenshots/.
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "var" / "screenshots"
FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--mute-audio", "--hide-scrollbars",
    "--remote-debugging-port=0", "--remote-allow-origins=*",
]
BOUND = float(os.environ.get("LINLI_BROWSER_BOUND", "180"))  # seconds any single wait may take


def chromium_binary() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    return None


class BrowserError(AssertionError):
    pass


class Browser:
    def __init__(self, width: int = 1280, height: int = 900) -> None:
        self.width, self.height = width, height
        self.errors: list[str] = []
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future] = {}
        self._proc: subprocess.Popen | None = None
        self._profile = tempfile.mkdtemp(prefix="linli-chromium-")
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._reader: asyncio.Task | None = None

    async def start(self) -> "Browser":
        binary = chromium_binary()
        if binary is None:
            raise BrowserError("chromium is not installed: run scripts/system-packages.sh (make setup)")
        self._proc = subprocess.Popen(
            [binary, *FLAGS, f"--user-data-dir={self._profile}", f"--window-size={self.width},{self.height}",
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        port_file = Path(self._profile) / "DevToolsActivePort"
        await self._until(lambda: port_file.exists() and port_file.read_text().count("\n") >= 1, "DevTools port")
        port = int(port_file.read_text().split("\n")[0])
        self._session = aiohttp.ClientSession()
        async with self._session.get(f"http://127.0.0.1:{port}/json/list") as resp:
            targets = await resp.json()
        page = next(t for t in targets if t.get("type") == "page")
        self._ws = await self._session.ws_connect(page["webSocketDebuggerUrl"], max_msg_size=0)
        self._reader = asyncio.create_task(self._read())
        for domain in ("Page", "Runtime", "Log"):
            await self.cmd(f"{domain}.enable")
        await self.cmd("Emulation.setDeviceMetricsOverride", width=self.width, height=self.height,
                       deviceScaleFactor=1, mobile=False)
        return self

    async def close(self) -> None:
        if self._reader:
            self._reader.cancel()
        if self._ws:
            await self._ws.close()
        if self._session:
            await self._session.close()
        if self._proc:
            self._proc.terminate()
            try:
                self._proc.wait(30)
            except subprocess.TimeoutExpired:
                self._proc.kill()
        shutil.rmtree(self._profile, ignore_errors=True)

    async def __aenter__(self) -> "Browser":
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    async def _read(self) -> None:
        assert self._ws is not None
        async for msg in self._ws:
            data = json.loads(msg.data)
            if "id" in data:
                fut = self._pending.pop(data["id"], None)
                if fut and not fut.done():
                    fut.set_result(data)
                continue
            method, params = data.get("method"), data.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params.get("exceptionDetails", {})
                self.errors.append(details.get("exception", {}).get("description") or details.get("text", "?"))
            elif method == "Runtime.consoleAPICalled" and params.get("type") == "error":
                self.errors.append(" ".join(str(a.get("value", a.get("description"))) for a in params["args"]))
            elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
                entry = params["entry"]
                self.errors.append(f"{entry.get('source')}: {entry.get('text')} {entry.get('url', '')}")

    async def cmd(self, method: str, **params: Any) -> dict[str, Any]:
        assert self._ws is not None
        ident = next(self._ids)
        fut = asyncio.get_running_loop().create_future()
        self._pending[ident] = fut
        await self._ws.send_str(json.dumps({"id": ident, "method": method, "params": params}))
        data = await asyncio.wait_for(fut, BOUND)
        if "error" in data:
            raise BrowserError(f"{method}: {data['error']}")
        return data.get("result", {})

    @staticmethod
    async def _until(check, what: str, bound: float = BOUND) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        while not check():
            if loop.time() > deadline:
                raise BrowserError(f"gave up waiting for {what} after {bound:.0f} s")
            await asyncio.sleep(0.1)

    async def js(self, expression: str) -> Any:
        result = await self.cmd("Runtime.evaluate", expression=expression, returnByValue=True, awaitPromise=True)
        if "exceptionDetails" in result:
            raise BrowserError(f"{expression}: {result['exceptionDetails'].get('text')}")
        return result.get("result", {}).get("value")

    async def wait(self, expression: str, what: str | None = None, bound: float = BOUND) -> Any:
        """Poll until `expression` is truthy; returns its value."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + bound
        while True:
            try:
                value = await self.js(expression)
            except BrowserError:
                value = None  # e.g. the page is between two documents
            if value:
                return value
            if loop.time() > deadline:
                raise BrowserError(f"gave up waiting for {what or expression} after {bound:.0f} s")
            await asyncio.sleep(0.15)

    async def goto(self, url: str) -> None:
        await self.cmd("Page.navigate", url=url)
        await self.wait(f"document.readyState === 'complete' && location.href.startsWith({json.dumps(url.split('#')[0].split('?')[0])})",
                        f"page {url}")

    async def fill(self, selector: str, text: str) -> None:
        await self.js(f"document.querySelector({json.dumps(selector)}).focus()")
        await self.cmd("Input.insertText", text=text)

    async def click(self, selector: str) -> None:
        found = await self.js(f"(() => {{ const e = document.querySelector({json.dumps(selector)});"
                              f" if (!e) return false; e.click(); return true; }})()")
        if not found:
            raise BrowserError(f"nothing matches {selector}")

    async def submit_and_load(self, selector: str) -> None:
        """Click a submit button and wait for the next document to load."""
        await self.js("window.__linliOld = true")
        await self.click(selector)
        await self.wait("!window.__linliOld && document.readyState === 'complete'", f"page after {selector}")

    async def press_tab(self) -> None:
        for kind in ("keyDown", "keyUp"):
            await self.cmd("Input.dispatchKeyEvent", type=kind, key="Tab", code="Tab", windowsVirtualKeyCode=9)

    async def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        data = await self.cmd("Page.captureScreenshot", format="png")
        path = SCREENSHOTS / f"{name}.png"
        path.write_bytes(base64.b64decode(data["data"]))
        return path

    async def unlabeled_fields(self) -> list[str]:
        """Form fields (not hidden, not buttons) without a <label>, aria-label or aria-labelledby."""
        return await self.js("""Array.from(document.querySelectorAll('input, select, textarea')).filter(e =>
            e.type !== 'hidden' && e.type !== 'submit' && e.type !== 'button' &&
            !(e.labels && e.labels.length) && !e.getAttribute('aria-label') && !e.getAttribute('aria-labelledby')
          ).map(e => e.outerHTML.slice(0, 120))""")
