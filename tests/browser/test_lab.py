"""`make lab` in a real browser: JupyterLab on course/, with the nbgrader and widget extensions working.

The server is started through the Makefile (so the target students run is what is tested), with
LAB_ARGS choosing a free port, a random token and the loopback interface. Only the per-user state
(HOME, runtime, config, settings and workspaces directories) is private to the test; the lab and
server extensions installed in .venv stay visible, because finding them is part of what is tested.

The notebook is opened from course/ itself, so the test never writes there: autosave is switched off
in the private user settings, the page is closed without saving, and LAB_ARGS send the checkpoint that
JupyterLab makes on opening a notebook to a temporary folder. Any change under course/ fails the test
at teardown, after checkpoint folders and the opened notebook have been put back as they were.
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
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
from pathlib import Path

import pytest
from conftest import in_ci

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]
COURSE = REPO / "course"
CHROMIUM = Path("/usr/bin/chromium")
NOTEBOOK = "01_regression/01_regression.ipynb"

# Labextension names as installed in .venv/share/jupyter/labextensions.
WIDGETS_EXT = "@jupyter-widgets/jupyterlab-manager"
IPYMPL_EXT = "jupyter-matplotlib"
NBGRADER_EXT = "@jupyter/nbgrader"
NBGRADER_SERVER_EXTS = (
    "nbgrader.server_extensions.assignment_list",
    "nbgrader.server_extensions.course_list",
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.validate_assignment",
)

IPYMPL_PROBE = (
    "get_ipython().run_line_magic('matplotlib', 'widget'); import matplotlib.pyplot as plt; "
    "plt.ioff(); fig = plt.figure(); plt.plot([0, 1], [1, 0]); fig.canvas"
)

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

# Private user settings: no autosave (the notebook lives in course/), no news or update checks (no network).
USER_SETTINGS = {
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def _missing(reason: str) -> None:
    """Skip on a developer machine; fail in CI, where .ci/run installs what is needed."""
    if in_ci():
        pytest.fail(f"{reason} (CI is set, and .ci/run installs it)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def sync_playwright():
    if not CHROMIUM.exists():
        _missing(f"{CHROMIUM} is missing: apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("the playwright package is missing: pip install -r requirements.lock")
    return sync_playwright


# --- the server ------------------------------------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _snapshot(root: Path) -> dict[Path, bytes | None]:
    """Every file and folder under root; files with their bytes, folders as None."""
    return {p: (p.read_bytes() if p.is_file() else None) for p in root.rglob("*")}


def _changes(root: Path, before: dict[Path, bytes | None]) -> list[str]:
    now = _snapshot(root)
    created = [f"created {p.relative_to(REPO)}" for p in sorted(set(now) - set(before))]
    removed = [f"removed {p.relative_to(REPO)}" for p in sorted(set(before) - set(now))]
    modified = [f"modified {p.relative_to(REPO)}" for p in sorted(set(now) & set(before)) if now[p] != before[p]]
    return created + removed + modified


def _restore(root: Path, before: dict[Path, bytes | None]) -> list[str]:
    """Undo what a lab session writes under root; returns every change found there.

    Only what JupyterLab itself writes is undone (checkpoint folders, the notebook the test opened), so that
    a concurrent `make release` or an editor's work under course/ is reported but never reverted.
    """
    changes = _changes(root, before)
    for p in root.rglob(".ipynb_checkpoints"):
        if p not in before and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    opened = root / NOTEBOOK
    if before.get(opened) is not None and (not opened.is_file() or opened.read_bytes() != before[opened]):
        opened.write_bytes(before[opened])
    return changes


class Lab:
    """A running `make lab`: its URL, token, process group and log."""

    def __init__(self, proc: subprocess.Popen, port: int, token: str, log: Path, command: list[str], home: Path):
        self.proc, self.port, self.token, self.log, self.command = proc, port, token, log, command
        self.base = f"http://127.0.0.1:{port}"
        self.checkpoints = home / "checkpoints"  # --FileCheckpoints.checkpoint_dir, outside course/
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


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab LAB_ARGS=...` from the repository root, stopped (whole process group) at the end."""
    if shutil.which("make") is None:
        _missing("make is not installed")
    # `lab` depends on `setup`, which would reinstall the virtual environment the tests are running from.
    stale = subprocess.run(["make", "-q", "setup"], cwd=REPO, capture_output=True).returncode
    if stale:
        pytest.fail(".venv is older than requirements.lock/pyproject.toml: run `make setup` first")

    home = tmp_path_factory.mktemp("lab-home")
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

    port, token = _free_port(), secrets.token_hex(16)
    lab_args = [
        "--no-browser",
        f"--port={port}",
        "--ServerApp.port_retries=0",
        f"--IdentityProvider.token={token}",
        "--ServerApp.ip=127.0.0.1",
        # JupyterLab creates a checkpoint when it opens a notebook; keep it out of course/.
        f"--FileCheckpoints.checkpoint_dir={home / 'checkpoints'}",
    ]
    # No --allow-root here: `make lab` adds it when run as root (containers, CI), as a student runs it.
    command = ["make", "--no-print-directory", "lab", f"LAB_ARGS={shlex.join(lab_args)}"]

    before = _snapshot(COURSE)
    log = home / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, cwd=REPO, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Lab(proc, port, token, log, command, home)
    server.course_before = before
    try:
        server.wait_until_up(SERVER_START_S)
        yield server
    finally:
        server.stop()
        changes = _restore(COURSE, before)
    assert not changes, "course/ changed while the lab ran: " + ", ".join(changes)


# --- over HTTP -------------------------------------------------------------------------------------------------


def test_lab_serves_course_folder(lab):
    listing = lab.get_json("api/contents")
    served = {item["name"] for item in listing["content"]}
    expected = {p.name for p in COURSE.iterdir() if not p.name.startswith(".")}
    assert "01_regression" in served
    assert served == expected, f"the server's root is not course/: it lists {sorted(served)}"
    notebook = lab.get_json(f"api/contents/{NOTEBOOK}", content="0")
    assert notebook["type"] == "notebook"
    assert f"Serving notebooks from local directory: {COURSE}" in lab.log.read_text(errors="replace")


def test_lab_args_reach_the_server(lab):
    """The port and token chosen in LAB_ARGS are the server's (it answers above on that port, with that token)."""
    assert lab.get("api/contents", token="")[0] == 403
    assert lab.get("api/contents", token="not-" + lab.token)[0] == 403
    assert lab.get("api/contents")[0] == 200


def _page_config(lab) -> dict:
    status, page = lab.get("lab")
    assert status == 200, f"/lab answered {status}\n{lab.log_tail()}"
    match = re.search(r'<script id="jupyter-config-data" type="application/json">(.*?)</script>', page, re.S)
    assert match, "no jupyter-config-data in the /lab page"
    return json.loads(html.unescape(match.group(1)))


def test_lab_loads_the_federated_extensions(lab):
    config = _page_config(lab)
    federated = {ext["name"] for ext in config["federated_extensions"]}
    for name in (WIDGETS_EXT, IPYMPL_EXT, NBGRADER_EXT):
        assert name in federated, f"{name} is not among the lab's federated extensions: {sorted(federated)}"
    disabled = set(config.get("disabledExtensions", []))
    assert not {WIDGETS_EXT, IPYMPL_EXT, NBGRADER_EXT} & disabled, f"disabled extensions: {sorted(disabled)}"
    # ... and the server hands out their code (the browser test shows it also runs).
    for ext in config["federated_extensions"]:
        if ext["name"] in (WIDGETS_EXT, IPYMPL_EXT, NBGRADER_EXT):
            status, _ = lab.get(f"lab/extensions/{ext['name']}/{ext['load']}")
            assert status == 200, f"{ext['name']}: {ext['load']} answered {status}"


def test_nbgrader_server_extension_is_enabled(lab):
    import nbgrader

    # Handlers that only the nbgrader server extensions register.
    assert lab.get_json("nbgrader_version", version=nbgrader.__version__) == {"success": True}
    status, _ = lab.get("formgraders")
    assert status == 200, f"nbgrader's course_list handler answered {status}"
    log = lab.log.read_text(errors="replace")
    for ext in NBGRADER_SERVER_EXTS:
        assert f"{ext} | extension was successfully loaded" in log, f"{ext} not loaded\n{lab.log_tail()}"


# --- in the browser --------------------------------------------------------------------------------------------


def test_notebook_widgets_and_nbgrader_in_browser(lab, sync_playwright, tmp_path):
    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import expect

    shot = tmp_path / "lab-failure.png"
    console: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(UI_TIMEOUT_MS)
            expect.set_options(timeout=UI_TIMEOUT_MS)
            page.on("console", lambda m: console.append(f"{m.type}: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
            try:
                _drive_notebook(page, lab, expect)
            except (AssertionError, PlaywrightError) as e:
                with contextlib.suppress(PlaywrightError):
                    page.screenshot(path=str(shot), full_page=True)
                errors = "\n".join(console[-20:]) or "(none)"
                pytest.fail(f"{e}\nscreenshot: {shot}\nbrowser console errors:\n{errors}\n{lab.log_tail()}")
        finally:
            browser.close()  # without saving: autosave is off and nothing asked to save

    # Opening the notebook made its checkpoint where LAB_ARGS said, and nothing under course/ was written
    # (no save, no checkpoint); teardown restores course/ regardless, and fails if it had to.
    assert lab.get_json(f"api/contents/{NOTEBOOK}/checkpoints"), "no checkpoint for the opened notebook"
    assert (lab.checkpoints / "01_regression-checkpoint.ipynb").is_file(), sorted(lab.checkpoints.glob("*"))
    assert not _changes(COURSE, lab.course_before), _changes(COURSE, lab.course_before)


def _drive_notebook(page, lab, expect) -> None:
    page.goto(lab.url(f"lab/tree/{NOTEBOOK}"), wait_until="domcontentloaded")

    # The notebook is open, its kernel started and idle.
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").filter(
        has=page.locator(".jp-Notebook .jp-Cell")
    )
    expect(panel).to_have_count(1)
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")).to_contain_text("01_regression.ipynb")
    kernel_status = page.locator('#jp-main-statusbar .jp-StatusBar-TextItem[title^="Change kernel"]')
    expect(kernel_status).to_have_text(re.compile(r"^Python 3 \(ipykernel\) \| Idle$"))
    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")
    sessions = [s for s in lab.get_json("api/sessions") if s["path"] == NOTEBOOK]
    assert len(sessions) == 1 and sessions[0]["kernel"]["name"] == "python3", sessions
    assert sessions[0]["kernel"]["execution_state"] == "idle", sessions

    # nbgrader's labextension is active: its Validate button in the notebook toolbar, its menu in the menu bar.
    validate = panel.locator(".jp-NotebookPanel-toolbar .validate-button")
    expect(validate).to_be_visible()
    expect(validate).to_contain_text("Validate")
    expect(page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text="Nbgrader")).to_be_visible()

    # A new code cell above the first one, run from the keyboard, shows a live slider.
    # (Cells are counted by class, not by number: JupyterLab renders long notebooks lazily.)
    cells = panel.locator(".jp-Notebook .jp-Cell")
    expect(cells.first).to_have_class(re.compile(r"\bjp-MarkdownCell\b"))
    _select(page, cells.first)
    page.keyboard.press("a")
    probe = cells.first
    expect(probe).to_have_class(re.compile(r"\bjp-CodeCell\b"))
    expect(probe.locator(".cm-content")).to_have_text("")
    _run_in(page, expect, probe, "import ipywidgets as w; s = w.IntSlider(value=3, description='probe'); s")
    slider = probe.locator(".jp-OutputArea-output .jupyter-widgets.widget-slider")
    expect(slider).to_be_visible()
    expect(slider.locator(".widget-label")).to_have_text("probe")
    expect(slider.locator(".widget-readout")).to_have_text("3")

    # Kernel -> browser: setting the value in Python moves the rendered slider.
    _insert_below(page, probe)
    _run_in(page, expect, cells.nth(1), "s.value = 7")
    expect(slider.locator(".widget-readout")).to_have_text("7")

    # Browser -> kernel: moving the slider with the keyboard changes the value in Python.
    slider.locator(".noUi-handle").focus()
    page.keyboard.press("ArrowRight")
    expect(slider.locator(".widget-readout")).to_have_text("8")
    _insert_below(page, cells.nth(1))
    echo = cells.nth(2)
    _run_in(page, expect, echo, "print('value', s.value)")
    expect(echo.locator(".jp-OutputArea-output")).to_have_text(re.compile(r"value 8"))

    # ipympl (what the course's slider views draw on): a figure becomes a live canvas widget.
    _insert_below(page, echo)
    figure = cells.nth(3)
    _run_in(page, expect, figure, IPYMPL_PROBE)
    expect(figure.locator(".jp-OutputArea-output .jupyter-matplotlib-figure canvas").first).to_be_visible()
    expect(panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")).to_have_count(0)

    # First start, fresh settings: no prompt asking to fetch Jupyter news (make lab turns it off).
    expect(page.get_by_text(re.compile("Jupyter news", re.IGNORECASE))).to_have_count(0)


def _select(page, cell) -> None:
    """Make cell the active one, in command mode."""
    cell.locator(".jp-InputPrompt").click()
    page.keyboard.press("Escape")


def _insert_below(page, cell) -> None:
    _select(page, cell)
    page.keyboard.press("b")


def _run_in(page, expect, cell, code: str) -> None:
    """Type code into the (just inserted, active) cell and run it with Shift+Enter."""
    page.keyboard.press("Enter")  # command mode -> edit mode in the active cell
    editor = cell.locator(".jp-InputArea-editor .cm-content")
    expect(editor).to_be_focused()
    page.keyboard.insert_text(code)
    expect(editor).to_have_text(code)
    page.keyboard.press("Shift+Enter")
