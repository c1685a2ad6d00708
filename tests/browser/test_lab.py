"""`make lab` in a real browser: JupyterLab on course/, with the nbgrader and widget extensions working.

The server is started through the Makefile with LAB_ARGS only (labserver.running_lab), so the default folder it
serves, course/, is what is tested here; test_notebooks.py runs every notebook on a copy (LAB_DIR).

The notebook is opened from course/ itself, so the test never writes there: autosave is switched off
in the private user settings, the page is closed without saving, and LAB_ARGS send the checkpoint that
JupyterLab makes on opening a notebook to a temporary folder. Anything a lab could have written under
course/ (a new file or folder, a notebook saved with outputs) fails the test at teardown, after checkpoint
folders and the opened notebook have been put back as they were.
"""

from __future__ import annotations

import html
import json
import re
import shutil
from pathlib import Path

import pytest
from labserver import REPO, browser_page, running_lab, snapshot, written_by_a_lab

pytestmark = pytest.mark.slow

COURSE = REPO / "course"
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


# --- the server ------------------------------------------------------------------------------------------------


def _restore(root: Path, before: dict[Path, bytes | None]) -> list[str]:
    """Undo what a lab session wrote under root; returns what it wrote (labserver.written_by_a_lab).

    Only what JupyterLab itself writes is undone (new checkpoint folders; the notebook the test opened, if it was
    saved with outputs or removed), so that a concurrent `make release` or an editor's work under course/ is
    neither reported nor reverted.
    """
    found = written_by_a_lab(root, before)
    for p in root.rglob(".ipynb_checkpoints"):
        if p not in before and p.is_dir():
            shutil.rmtree(p, ignore_errors=True)
    opened = root / NOTEBOOK
    saved = any(change.startswith(f"modified {opened.relative_to(REPO)} ") for change in found)
    if before.get(opened) is not None and (saved or not opened.is_file()):
        opened.write_bytes(before[opened])
        if not saved:
            found.append(f"removed {opened.relative_to(REPO)}")
    return found


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """`make lab LAB_ARGS=...` on its default folder, course/; course/ must be as it was afterwards."""
    before = snapshot(COURSE)
    found: list[str] = []
    try:
        with running_lab(tmp_path_factory.mktemp("lab-home")) as server:
            server.course_before = before
            yield server
    finally:
        found = _restore(COURSE, before)
    assert not found, "course/ changed while the lab ran: " + ", ".join(found)


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


def test_notebook_widgets_and_nbgrader_in_browser(lab, chromium, tmp_path):
    # A context of its own, closed without saving: autosave is off and nothing asks to save.
    with browser_page(chromium, lab, tmp_path / "lab-failure.png") as page:
        _drive_notebook(page, lab)

    # Opening the notebook made its checkpoint where LAB_ARGS said, and nothing under course/ was written
    # (no save, no checkpoint); teardown restores course/ regardless, and fails if it had to.
    assert lab.get_json(f"api/contents/{NOTEBOOK}/checkpoints"), "no checkpoint for the opened notebook"
    assert (lab.checkpoints / "01_regression-checkpoint.ipynb").is_file(), sorted(lab.checkpoints.glob("*"))
    assert not written_by_a_lab(COURSE, lab.course_before), written_by_a_lab(COURSE, lab.course_before)


def _drive_notebook(page, lab) -> None:
    from playwright.sync_api import expect

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
