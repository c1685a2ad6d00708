"""`make lab` as the browser tests start it, and what they share: Chromium's path and flags, the private settings.

The server is started through the Makefile (so the target students run is what is tested), with LAB_ARGS choosing
a free port, a random token and the loopback interface, and LAB_DIR the folder it serves when a test needs a
writable copy of the notebooks. Only the per-user state (HOME, runtime, config, settings and workspaces folders) is
private to the test; the lab and server extensions installed in .venv stay visible, because finding them is part of
what is tested.

A plain module rather than conftest.py: test modules import from it by a name no other conftest shares.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
SERVER_START_S = 90
UI_TIMEOUT_MS = 60_000  # first load of JupyterLab plus a kernel start on a slow CI machine
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

# Private user settings: no autosave (a test saves only when it means to), no news or update checks (no network).
USER_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def in_ci() -> bool:
    """The CI convention of tests/conftest.py (not imported: `conftest` names a different module per folder)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def missing(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where .ci/run installs what is needed."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, and .ci/run installs it)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def snapshot(root: Path) -> dict[Path, bytes | None]:
    """Every file and folder under root; files with their bytes, folders as None."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def changes(root: Path, before: dict[Path, bytes | None]) -> list[str]:
    """What was created, removed or modified under root since snapshot(root) gave before."""
    now = snapshot(root)
    created = [f"created {p.relative_to(REPO)}" for p in sorted(set(now) - set(before))]
    removed = [f"removed {p.relative_to(REPO)}" for p in sorted(set(before) - set(now))]
    modified = [f"modified {p.relative_to(REPO)}" for p in sorted(set(now) & set(before)) if now[p] != before[p]]
    return created + removed + modified


def written_by_a_lab(root: Path, before: dict[Path, bytes | None]) -> list[str]:
    """The changes under root since snapshot(root) gave before that a lab session could have made: any new file or
    folder (a checkpoint, a file a kernel wrote), and a notebook now saved with outputs or execution counts (the
    repository's notebooks are committed without). Other edits are left out: people and tools edit the notebooks
    while the tests run."""
    import nbformat

    found = []
    for change in changes(root, before):
        verb, path = change.split(" ", 1)
        if verb == "created":
            found.append(change)
        elif verb == "modified" and path.endswith(".ipynb"):
            with contextlib.suppress(Exception):  # half written by an editor: not a notebook yet
                nb = nbformat.read(str(REPO / path), as_version=4)
                if any(c.get("outputs") or c.get("execution_count") for c in nb.cells if c.cell_type == "code"):
                    found.append(f"{change} (saved with outputs)")
    return found


class Lab:
    """A running `make lab`: its URL, token, process group and log."""

    def __init__(self, proc: subprocess.Popen, port: int, token: str, log: Path, command: list[str], home: Path):
        self.proc, self.port, self.token, self.log, self.command = proc, port, token, log, command
        self.base = f"http://127.0.0.1:{port}"
        self.checkpoints = home / "checkpoints"  # --FileCheckpoints.checkpoint_dir, outside the served folder
        self.course_before: dict[Path, bytes | None] = {}

    def url(self, path: str, token: str | None = None, **query: str) -> str:
        query["token"] = self.token if token is None else token
        return f"{self.base}/{path.lstrip('/')}?" + urllib.parse.urlencode(query)

    def get(self, path: str, token: str | None = None, **query: str) -> tuple[int, str]:
        try:
            with urllib.request.urlopen(self.url(path, token, **query), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode(errors="replace")

    def get_json(self, path: str, **query: str):
        status, body = self.get(path, **query)
        assert status == 200, f"GET {path} answered {status}: {body[:500]}\n{self.log_tail()}"
        return json.loads(body)

    def request(self, method: str, path: str) -> None:
        req = urllib.request.Request(self.url(path), method=method)
        with contextlib.suppress(OSError):
            urllib.request.urlopen(req, timeout=10).close()

    def log_tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines() if self.log.exists() else []
        return "server log (last lines):\n" + "\n".join(lines[-n:])

    def wait_until_up(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"`{shlex.join(self.command)}` exited with {self.proc.returncode}\n{self.log_tail()}")
            with contextlib.suppress(OSError):
                if self.get("api/status")[0] == 200:
                    return
            time.sleep(0.5)
        pytest.fail(f"JupyterLab did not answer on port {self.port} within {timeout:.0f} s\n{self.log_tail()}")

    def shut_down_sessions(self, path: str | None = None) -> None:
        """End the kernels of the open notebooks (of the one at path, if given), so that none keeps running."""
        for session in self.get_json("api/sessions"):
            if path is None or session["path"] == path:
                self.request("DELETE", f"api/sessions/{session['id']}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            # Kernels run in sessions of their own: shut them down through the server first.
            with contextlib.suppress(Exception):
                for kernel in self.get_json("api/kernels"):
                    self.request("DELETE", f"api/kernels/{kernel['id']}")
        for sig, wait in ((signal.SIGTERM, 20), (signal.SIGKILL, 10)):
            try:
                os.killpg(self.proc.pid, sig)  # make and the jupyter server it spawned
            except ProcessLookupError:
                break
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue


@contextlib.contextmanager
def running_lab(home: Path, lab_dir: Path | None = None) -> Iterator[Lab]:
    """`make lab LAB_ARGS=...` (and LAB_DIR=lab_dir, if given) from the repository root, with its per-user state
    under home; the whole process group is stopped when the block ends."""
    if shutil.which("make") is None:
        missing("make is not installed")
    # `lab` depends on `setup`, which would reinstall the virtual environment the tests are running from.
    stale = subprocess.run(["make", "-q", "setup"], cwd=REPO, capture_output=True).returncode
    if stale:
        pytest.fail(".venv is older than requirements.lock/pyproject.toml: run `make setup` first")

    settings = home / "settings"
    for name, values in USER_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(
        HOME=str(home),
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(settings),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
        IPYTHONDIR=str(home / "ipython"),
        MPLCONFIGDIR=str(home / "matplotlib"),
        PYTHONDONTWRITEBYTECODE="1",
    )
    env.pop("DLCOURSE_GRADING_DIR", None)  # the kernels run as a student's would, outside grading mode

    port, token = free_port(), secrets.token_hex(16)
    lab_args = [
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.ip=127.0.0.1",
        # JupyterLab creates a checkpoint when it opens a notebook; keep it out of the served folder.
        f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
    ]
    # No --allow-root here: `make lab` adds it when run as root (containers, CI), as a student runs it.
    command = ["make", "--no-print-directory", "lab", f"LAB_ARGS={shlex.join(lab_args)}"]
    if lab_dir is not None:
        command.append(f"LAB_DIR={lab_dir}")

    log = home / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Lab(proc, port, token, log, command, home)
    try:
        server.wait_until_up(SERVER_START_S)
        yield server
    finally:
        server.stop()


@contextlib.contextmanager
def browser_page(browser, lab: Lab | None, failure_shot: Path, width: int = 1400, height: int = 1000):
    """A page in a fresh browser context, closed (without saving anything) when the block ends.

    A failure inside the block is reported with a screenshot of the page, the browser's console errors and the
    end of the server log.
    """
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    context = browser.new_context(viewport={"width": width, "height": height}, device_scale_factor=1)
    try:
        page = context.new_page()
        page.set_default_timeout(UI_TIMEOUT_MS)
        expect.set_options(timeout=UI_TIMEOUT_MS)
        console: list[str] = []
        page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
        page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
        try:
            yield page
        except (AssertionError, PlaywrightError) as e:
            with contextlib.suppress(PlaywrightError):
                failure_shot.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(failure_shot), full_page=True)
            errors = "\n".join(console[-20:]) or "(none)"
            server = lab.log_tail() if lab is not None else ""
            pytest.fail(f"{e}\nscreenshot: {failure_shot}\nbrowser console errors:\n{errors}\n{server}")
    finally:
        context.close()
