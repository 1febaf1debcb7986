"""Check that the prose's numbers show in JupyterLab: run chapters there, in headless Chromium, and read them.

``make check-lab`` (or ``python tools/check_lab.py``) copies each chapter into a scratch folder (as
``make lab`` does, with ``PROFILE = "smoke"`` so that it runs in seconds), starts JupyterLab with
``jupyterlab-myst`` (the ``lab`` extra) on it, opens the notebook in headless Chromium and runs all its
cells with JupyterLab's own *Run All* command. Then, for every markdown cell, it compares the ``{eval}``
roles of the source with what jupyterlab-myst evaluated and stored in the cell (its ``user_expressions``
metadata) and with what the rendered cell shows, and fails when an expression is missing, failed in the
kernel, or shows as raw code instead of its value.

It prints one row per notebook (how many expressions showed their value) and exits 1 when any did not.
Without Chromium, JupyterLab or jupyterlab-myst it says what is missing and exits 0 (2 with
``--require``).

How it works: JupyterLab is started with ``--LabApp.expose_app_in_browser`` so that the page holds its
application object, and Chromium with a remote-debugging port; the script drives the page through the
DevTools protocol (``Runtime.evaluate``, over ``websocket-client``, which JupyterLab's server installs).
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import re
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
from check_book import HEADLESS, find_browser  # noqa: E402

EVAL_ROLE = re.compile(r"\{eval\}`([^`]+)`")
PROFILE_LINE = re.compile(r'^PROFILE = "(?:book|v3)"', re.MULTILINE)  # the study's chapters: v3

# Runs in the page: the state of the notebook's markdown cells, as jupyterlab-myst left them.
READ_CELLS = r"""
(() => {
  const app = window.jupyterapp;
  const panel = app && app.shell.currentWidget;
  if (!panel || !panel.content || !panel.sessionContext) return JSON.stringify({ready: false});
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  const cells = [];
  panel.content.widgets.forEach((cell, i) => {
    const model = cell.model;
    if (model.type !== "markdown") {
      cells.push({i: i, type: model.type, count: model.executionCount === undefined ? null : model.executionCount});
      return;
    }
    const meta = model.getMetadata("user_expressions") || [];
    const shown = Array.from(cell.node.querySelectorAll(".jp-MarkdownOutput code, .jp-RenderedMarkdown code"))
      .map(c => c.textContent);
    cells.push({i: i, type: "markdown", source: model.sharedModel.getSource(),
                expressions: meta.map(e => ({expression: e.expression, status: e.result.status,
                                             ename: e.result.ename || "", evalue: e.result.evalue || ""})),
                raw_code: shown});
  });
  return JSON.stringify({ready: true, kernel: kernel ? kernel.status : "none",
                         busy: panel.sessionContext.kernelDisplayStatus, cells: cells});
})()
"""


@dataclass
class NotebookResult:
    name: str
    expressions: int = 0
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def missing_tools(browser: str | None) -> list[str]:
    """What this check needs and the machine lacks."""
    missing = [] if browser else ["chromium (apt install chromium)"]
    for module, what in (
        ("jupyterlab", "JupyterLab (pip install -e '.[lab]', or make lab)"),
        ("jupyterlab_myst", "jupyterlab-myst (the lab extra)"),
        ("websocket", "websocket-client (installed with JupyterLab's server)"),
    ):
        if importlib.util.find_spec(module) is None:
            missing.append(what)
    return missing


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scratch_copy(notebook: Path, folder: Path) -> Path:
    """``notebook`` copied into ``folder`` with its parameters cell set to the smoke profile."""
    data = json.loads(notebook.read_text(encoding="utf-8"))
    for cell in data["cells"]:
        if "parameters" in cell.get("metadata", {}).get("tags", []):
            source = "".join(cell["source"])
            if not PROFILE_LINE.search(source):
                raise ValueError(f"{notebook.name}: its parameters cell does not set PROFILE")
            cell["source"] = PROFILE_LINE.sub('PROFILE = "smoke"', source)
    target = folder / notebook.name
    target.write_text(json.dumps(data, indent=1), encoding="utf-8")
    return target


def wait_http(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=5):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"nothing answered at {url} within {timeout:g} s") from None
            time.sleep(0.5)


class Page:
    """One page of headless Chromium, driven over the DevTools protocol."""

    def __init__(self, browser: str, url: str, profile: str, width: int = 1400) -> None:
        import websocket

        port = free_port()
        self.process = subprocess.Popen(
            [
                browser,
                *HEADLESS,
                f"--user-data-dir={profile}",
                f"--remote-debugging-port={port}",
                f"--window-size={width},1000",
                url,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_http(f"http://127.0.0.1:{port}/json/version", 60)
        targets = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/json").read())
        page = next(t for t in targets if t.get("type") == "page")
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=60, suppress_origin=True
        )
        self.next_id = 0

    def evaluate(self, expression: str):
        self.next_id += 1
        self.ws.send(
            json.dumps(
                {
                    "id": self.next_id,
                    "method": "Runtime.evaluate",
                    "params": {
                        "expression": expression,
                        "awaitPromise": True,
                        "returnByValue": True,
                    },
                }
            )
        )
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == self.next_id:
                result = message.get("result", {})
                if "exceptionDetails" in result:
                    raise RuntimeError(result["exceptionDetails"].get("text", "script error"))
                return result.get("result", {}).get("value")

    def close(self) -> None:
        try:
            self.ws.close()
        finally:
            self.process.terminate()
            self.process.wait(timeout=30)


def read_cells(page: Page) -> dict:
    return json.loads(page.evaluate(READ_CELLS))


def judge(name: str, state: dict) -> NotebookResult:
    """Compare each markdown cell's {eval} roles with what jupyterlab-myst evaluated and shows."""
    result = NotebookResult(name)
    for cell in state["cells"]:
        if cell["type"] != "markdown":
            continue
        wanted = EVAL_ROLE.findall(cell["source"])
        if not wanted:
            continue
        got = {e["expression"]: e for e in cell["expressions"]}
        for expression in wanted:
            result.expressions += 1
            found = got.get(expression)
            if found is None:
                result.problems.append(f"cell {cell['i']}: {expression} was not evaluated")
            elif found["status"] != "ok":
                result.problems.append(
                    f"cell {cell['i']}: {expression} failed: {found['ename']}: {found['evalue']}"
                )
            elif expression in cell["raw_code"]:
                result.problems.append(f"cell {cell['i']}: {expression} shows as raw code")
    return result


def check_notebook(browser: str, notebook: Path, timeout: float) -> NotebookResult:
    """Run ``notebook`` (a scratch copy at the smoke profile) in JupyterLab and judge its prose."""
    with tempfile.TemporaryDirectory(prefix="rvit-lab-") as tmp:
        folder = Path(tmp) / "lab"
        folder.mkdir()
        copy = scratch_copy(notebook, folder)
        port, token = free_port(), secrets.token_hex(16)
        env = dict(
            os.environ,
            RVIT_SCRATCH_DIR=str(Path(tmp) / "scratch"),
            RVIT_CHECKPOINTS_DIR=str(Path(tmp) / "checkpoints"),
            JUPYTER_CONFIG_DIR=tmp,
        )
        server = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "jupyterlab",
                "--no-browser",
                f"--port={port}",
                f"--ServerApp.token={token}",
                f"--ServerApp.root_dir={folder}",
                "--LabApp.expose_app_in_browser=True",
                "--ServerApp.allow_root=True",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        page = None
        try:
            base = f"http://127.0.0.1:{port}"
            wait_http(f"{base}/api/status?token={token}", 120)
            page = Page(browser, f"{base}/lab/tree/{copy.name}?token={token}", tmp)
            deadline = time.monotonic() + timeout
            state = read_cells(page)
            while not (state["ready"] and state.get("kernel") == "idle"):
                if time.monotonic() > deadline:
                    return NotebookResult(notebook.name, problems=["JupyterLab did not open it"])
                time.sleep(1)
                state = read_cells(page)
            page.evaluate("window.jupyterapp.commands.execute('notebook:run-all-cells')")
            while True:
                time.sleep(2)
                state = read_cells(page)
                code = [c for c in state["cells"] if c["type"] == "code"]
                done = code and all(c["count"] is not None for c in code)
                if done and state["kernel"] == "idle":
                    time.sleep(2)  # the last markdown cells' expressions come back after the kernel
                    return judge(notebook.name, read_cells(page))
                if time.monotonic() > deadline:
                    result = judge(notebook.name, state)
                    result.problems.append(f"Run All did not finish within {timeout:g} s")
                    return result
        finally:
            if page is not None:
                page.close()
            server.terminate()
            server.wait(timeout=30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "notebooks", nargs="*", type=Path, help="notebooks to run (default: notebooks/*.ipynb)"
    )
    parser.add_argument("--browser", help="the Chromium to use (default: found on PATH)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds per notebook")
    parser.add_argument(
        "--require", action="store_true", help="fail (exit 2) when a tool is missing"
    )
    args = parser.parse_args(argv)
    browser = find_browser(args.browser)
    missing = missing_tools(browser)
    if missing:
        print("skipped: this check needs " + "; ".join(missing))
        return 2 if args.require else 0
    notebooks = args.notebooks or sorted((ROOT / "notebooks").glob("*.ipynb"))
    failed = 0
    for notebook in notebooks:
        result = check_notebook(browser, notebook.resolve(), args.timeout)
        status = "ok" if result.ok else "FAILED"
        print(f"{result.name:40s} {result.expressions:4d} expressions  {status}", flush=True)
        for problem in result.problems[:20]:
            print(f"    {problem}")
        failed += not result.ok
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
