"""Every course notebook in headless Chromium against `make lab`: run, slide, validate; and a feedback page.

One `make lab LAB_DIR=<copy>` serves a temporary copy of the notebooks, so that running, saving and validating
never write into course/ or solutions/ (teardown fails if a lab wrote there: labserver.written_by_a_lab):

    <copy>/NN_topic/NN_topic.ipynb             the solution version (solutions/), which has the answers
    <copy>/unsolved/01_regression/...ipynb     the released version (course/), every exercise a stub

For each notebook the test opens the solution version, runs all cells from the Run menu, and proves that every
code cell ran (each prompt numbered; Run All stops at the first error) and that no output is an error or any
other stderr text, first on the page and then in the notebook it saves (outputs of type "error" and stderr
streams). Then it moves one slider of each slider view (`dlcourse.widgets.show`: a VBox of sliders above an ipympl
canvas) from the keyboard and proves that the picture changed: the canvas's pixels (``toDataURL``) before and after
differ. nbgrader's Validate button is pressed on a solved and an unsolved notebook and the verdict in its dialog is
read. Last, a small submission is graded with `python -m grader grade` and its feedback page opened in Chromium.

Screenshots: one per notebook (a slider view in sight), both Validate dialogs and the feedback page, in the folder
conftest.py names; DLCOURSE_UPDATE_SCREENSHOTS=1 also rewrites the three that README shows (docs/screenshots/).
"""

from __future__ import annotations

import io
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest
from labserver import REPO, Lab, browser_page, missing, running_lab, snapshot, written_by_a_lab

pytestmark = pytest.mark.slow

SOLUTIONS, COURSE = REPO / "solutions", REPO / "course"
NOTEBOOKS = sorted(p.parent.name for p in SOLUTIONS.glob("*/*.ipynb"))
VALIDATED = "01_regression"  # the quickest notebook to run: Validate executes it again, inside the server
UNSOLVED = "unsolved"  # the folder of the copy that holds the released version of VALIDATED
DOCS = REPO / "docs" / "screenshots"

RUN_ALL_S = 240  # a whole notebook, on a busy 2-core machine (headless, each takes 3-20 s on an idle one)
VALIDATE_MS = 240_000
PICTURE_S = 30  # a slider change reaching the canvas
KEY_PRESSES = 3
DOC_WIDTH = 1200  # README's pictures

_SHOW = re.compile(r"^show\(", re.MULTILINE)
_PROMPT = re.compile(r"^\[(\d+|\*| )\]:$")


def _path(name: str, unsolved: bool = False) -> str:
    return f"{UNSOLVED}/{name}/{name}.ipynb" if unsolved else f"{name}/{name}.ipynb"


def _code_cells(nb: nbformat.NotebookNode) -> list[nbformat.NotebookNode]:
    return [c for c in nb.cells if c.cell_type == "code"]


def _views_in(nb: nbformat.NotebookNode) -> int:
    """How many slider views the notebook shows: the code cells with a line that starts with show(."""
    return sum(bool(_SHOW.search(c.source)) for c in _code_cells(nb))


# --- the server on a copy ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def served(tmp_path_factory) -> Path:
    """The folder the lab serves: a copy of every solution notebook, and the released version of VALIDATED."""
    root = tmp_path_factory.mktemp("served")
    for name in NOTEBOOKS:
        (root / name).mkdir()
        shutil.copyfile(SOLUTIONS / _path(name), root / _path(name))
    (root / UNSOLVED / VALIDATED).mkdir(parents=True)
    shutil.copyfile(COURSE / _path(VALIDATED), root / _path(VALIDATED, unsolved=True))
    return root


@pytest.fixture(scope="module")
def lab(served, tmp_path_factory):
    """`make lab LAB_DIR=<served>` for the whole module; it must leave course/ and solutions/ as they were."""
    before = {root: snapshot(root) for root in (COURSE, SOLUTIONS)}
    with running_lab(tmp_path_factory.mktemp("lab-home"), lab_dir=served) as server:
        yield server
    found = [change for root, taken in before.items() for change in written_by_a_lab(root, taken)]
    assert not found, "the lab on a copy wrote into the repository: " + ", ".join(found)


def test_lab_serves_the_copy(lab, served):
    listing = {item["name"] for item in lab.get_json("api/contents")["content"]}
    assert listing == {*NOTEBOOKS, UNSOLVED}, sorted(listing)
    assert f"Serving notebooks from local directory: {served}" in lab.log.read_text(errors="replace")


# --- every notebook ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_runs_and_its_views_follow_their_sliders(name, lab, served, chromium, screenshots, browser_report,
                                                           update_docs):
    from playwright.sync_api import expect

    nb = nbformat.read(str(served / _path(name)), as_version=4)
    n_code, n_views = len(_code_cells(nb)), _views_in(nb)
    assert n_views >= 1, f"{name} shows no slider view"
    started = time.monotonic()
    with browser_page(chromium, lab, screenshots / f"{name}-failure.png") as page:
        panel = _open(page, lab, _path(name), workspace=name)
        _run_all(page, panel, n_code)
        ran = time.monotonic() - started

        stderr = panel.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']")
        texts = [t[:400] for t in stderr.all_text_contents()]
        assert not texts, f"{name}: {len(texts)} output(s) on stderr (an error or a warning):\n" + "\n---\n".join(texts)

        views = panel.locator(".jp-OutputArea-output .widget-vbox").filter(
            has=page.locator(".jupyter-matplotlib-figure")).filter(has=page.locator(".widget-slider"))
        expect(views).to_have_count(n_views)
        for i in range(n_views):
            _slide_and_compare(page, views.nth(i), f"{name}, view {i + 1} of {n_views}")

        _center(views.first)
        page.screenshot(path=str(screenshots / f"{name}.png"))
        if update_docs and name == VALIDATED:
            page.set_viewport_size({"width": DOC_WIDTH, "height": 800})
            _center(views.first)
            _write_doc_picture(page.screenshot(), "notebook-view.png")

        _save(page, panel)
    lab.shut_down_sessions(_path(name))

    # The notebook as saved: every code cell executed, no error output and nothing on stderr.
    saved = nbformat.read(str(served / _path(name)), as_version=4)
    unrun = [i for i, c in enumerate(_code_cells(saved)) if c.execution_count is None]
    assert not unrun, f"{name}: code cells {unrun} did not run"
    bad = [f"{o.get('ename', 'stderr')}: {o.get('evalue', o.get('text', ''))[:300]}"
           for c in _code_cells(saved) for o in c.outputs
           if o.output_type == "error" or (o.output_type == "stream" and o.name == "stderr")]
    assert not bad, f"{name}: " + "\n".join(bad)
    browser_report.append(f"{name}: Run All {ran:.1f} s, with {n_views} views slid and saved "
                          f"{time.monotonic() - started:.1f} s")


def _open(page, lab: Lab, path: str, workspace: str):
    """Open the notebook at path in a workspace of its own (nothing from other tests reopens); wait for its kernel."""
    from playwright.sync_api import expect

    page.goto(lab.url(f"lab/workspaces/{workspace}/tree/{path}"), wait_until="domcontentloaded")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)").filter(has=page.locator(".jp-Notebook .jp-Cell"))
    expect(panel).to_have_count(1)
    expect(page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")).to_contain_text(Path(path).name)
    kernel_status = page.locator('#jp-main-statusbar .jp-StatusBar-TextItem[title^="Change kernel"]')
    expect(kernel_status).to_have_text(re.compile(r"^Python 3 \(ipykernel\) \| Idle$"))
    # Fold the file browser away (View > Show Left Sidebar): the notebook gets the width of the figures.
    left = page.locator("#jp-left-stack")
    if left.is_visible():
        page.keyboard.press("Escape")
        page.keyboard.press("Control+b")
        expect(left).to_be_hidden()
    return panel


def _menu(page, menu: str, item: re.Pattern[str]) -> None:
    page.locator("#jp-menu-panel .lm-MenuBar-itemLabel", has_text=menu).click()
    page.locator(".lm-Menu:visible .lm-Menu-itemLabel").filter(has_text=item).first.click()


def _prompts(panel) -> list[str]:
    return panel.locator(".jp-CodeCell .jp-InputPrompt").all_text_contents()


def _run_all(page, panel, n_code: int) -> None:
    """Run > Run All Cells, then wait until every code cell shows an execution number (or the run stopped)."""
    _menu(page, "Run", re.compile(r"^Run All Cells$"))
    started = time.monotonic()
    while True:
        prompts = [p.strip() for p in _prompts(panel)]
        odd = [p for p in prompts if not _PROMPT.match(p)]
        assert not odd, f"unexpected input prompts {odd[:5]}"
        numbered = [p for p in prompts if p[1:-2].isdigit()]
        if len(prompts) == n_code and len(numbered) == n_code:
            break
        waited = time.monotonic() - started
        # Queued cells show [*] until they run; a cell that raises ends the run, and the rest go back to [ ].
        assert "[*]:" in prompts or waited < 10, (
            f"Run All stopped after {len(numbered)} of {n_code} code cells: an error ends a run")
        assert waited < RUN_ALL_S, f"Run All did not finish in {RUN_ALL_S} s: {len(numbered)} of {n_code} ran"
        time.sleep(0.5)
    counts = [int(p[1:-2]) for p in prompts]
    assert counts == sorted(counts) and len(set(counts)) == n_code, f"cells did not run in order: {counts}"
    from playwright.sync_api import expect

    expect(panel.locator(".jp-Notebook-ExecutionIndicator")).to_have_attribute("data-status", "idle")


_CANVAS_PIXELS = """canvas => {
    const blank = document.createElement('canvas');
    blank.width = canvas.width;
    blank.height = canvas.height;
    const pixels = canvas.toDataURL();
    return canvas.width > 0 && pixels !== blank.toDataURL() ? pixels : null;
}"""


def _picture(canvas, what: str, unlike: str | None = None) -> str:
    """The canvas's pixels once drawn and steady (three reads 0.4 s apart agree), and different from unlike."""
    deadline = time.monotonic() + PICTURE_S
    reads: list[str | None] = []
    while time.monotonic() < deadline:
        reads = [*reads[-2:], canvas.evaluate(_CANVAS_PIXELS)]
        if len(reads) == 3 and reads[0] is not None and len(set(reads)) == 1 and reads[0] != unlike:
            return reads[0]
        time.sleep(0.4)
    if unlike is not None:
        raise AssertionError(f"{what}: the picture did not change within {PICTURE_S} s of moving the slider")
    raise AssertionError(f"{what}: the figure was not drawn within {PICTURE_S} s")


def _slide_and_compare(page, view, what: str) -> None:
    """Move the view's first slider a few steps with the keyboard; its readout and its picture must change."""
    from playwright.sync_api import expect

    _center(view)
    canvas = view.locator(".jupyter-matplotlib-canvas-div canvas").first
    before = _picture(canvas, what)
    slider = view.locator(".widget-slider").first
    readout = slider.locator(".widget-readout")
    start = readout.inner_text()
    slider.locator(".noUi-handle").focus()
    for _ in range(KEY_PRESSES):
        page.keyboard.press("ArrowRight")
    if readout.inner_text() == start:  # at its maximum: the other way
        for _ in range(KEY_PRESSES):
            page.keyboard.press("ArrowLeft")
    expect(readout).not_to_have_text(start)
    _picture(canvas, what, unlike=before)


def _center(locator) -> None:
    locator.evaluate("e => e.scrollIntoView({block: 'center'})")


def _save(page, panel) -> None:
    """File > Save Notebook, and wait until the tab is no longer marked as changed."""
    from playwright.sync_api import expect

    _menu(page, "File", re.compile(r"^Save( Notebook)?$"))
    tab = page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current")
    expect(tab).not_to_have_class(re.compile(r"\bjp-mod-dirty\b"))


# --- Validate ------------------------------------------------------------------------------------------------


def _validate(page, panel) -> tuple[str, str]:
    """Press Validate; the class of the verdict ("validation-success", ...) and its text, from the dialog."""
    from playwright.sync_api import expect

    panel.locator(".jp-NotebookPanel-toolbar .validate-button").click()
    message = page.locator(".jp-Dialog #validation-message")
    expect(message).to_be_visible(timeout=VALIDATE_MS)
    expect(page.locator(".jp-Dialog .jp-Dialog-header")).to_have_text("Validation Results")
    kind = next(c for c in message.get_attribute("class").split() if c.startswith("validation-"))
    return kind, message.inner_text()


def test_validate_on_the_solved_notebook(lab, chromium, screenshots):
    with browser_page(chromium, lab, screenshots / "validate-solved-failure.png", DOC_WIDTH, 860) as page:
        panel = _open(page, lab, _path(VALIDATED), workspace="validate-solved")
        kind, text = _validate(page, panel)
        page.screenshot(path=str(screenshots / "validate-solved.png"))
        assert kind == "validation-success", text
        assert text.strip() == "Success! Your notebook passes all the tests."
    lab.shut_down_sessions(_path(VALIDATED))


def test_validate_on_the_unsolved_notebook_names_the_failing_cells(lab, served, chromium, screenshots, update_docs):
    released = nbformat.read(str(served / _path(VALIDATED, unsolved=True)), as_version=4)
    graded = [c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade")]
    with browser_page(chromium, lab, screenshots / "validate-unsolved-failure.png", DOC_WIDTH, 860) as page:
        panel = _open(page, lab, _path(VALIDATED, unsolved=True), workspace="validate-unsolved")
        kind, text = _validate(page, panel)
        page.screenshot(path=str(screenshots / "validate-unsolved.png"))
        if update_docs:
            _write_doc_picture(page.screenshot(), "validate.png")
        assert kind == "validation-failed", text
        blocks = page.locator(".jp-Dialog #validation-message .jp-RenderedText")
        shown = [b.strip() for b in blocks.all_inner_texts()]  # (innerText: the lines are <br>s)
    lab.shut_down_sessions(_path(VALIDATED, unsolved=True))

    # Every graded cell fails, in the notebook's order, each as "The following cell failed:", its source, its
    # error: the test cells on the stubs' NotImplementedError, the written answers for want of one.
    assert text.count("The following cell failed:") == len(graded) == len(shown) // 2, text[:2000]
    sources, errors = shown[0::2], shown[1::2]
    assert sources == [c.source.strip() for c in graded], "the failing cells are not the graded ones"
    for cell, error in zip(graded, errors, strict=True):
        expected = "NotImplementedError" if cell.cell_type == "code" else "did not provide a response"
        assert expected in error, f"{cell.metadata['nbgrader']['grade_id']}: {error[:500]}"


# --- a feedback page -------------------------------------------------------------------------------------------

# A student of 01_regression: mse sums where it should average (a mistake the grader names), the normal equations
# and the gradient right (the instructor's code), everything else untouched.
_SUMMED = "return float(np.sum((y_hat - y) ** 2))"
_STUB = re.compile(r"raise NotImplementedError\(.*\)")


def _submission(root: Path) -> Path:
    solution = nbformat.read(str(SOLUTIONS / _path(VALIDATED)), as_version=4)
    answers = {c.metadata["nbgrader"]["grade_id"]: re.sub(r"^[ \t]*### (BEGIN|END) SOLUTION\n?", "", c.source,
                                                          flags=re.MULTILINE).rstrip() + "\n"
               for c in _code_cells(solution) if c.metadata.get("nbgrader", {}).get("solution")}
    nb = nbformat.read(str(COURSE / _path(VALIDATED)), as_version=4)
    for cell in _code_cells(nb):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id == "mse":
            assert _STUB.search(cell.source), cell.source
            cell.source = _STUB.sub(_SUMMED, cell.source)
        elif grade_id in ("normal_equations", "mse_gradient"):
            cell.source = answers[grade_id]
    folder = root / "submitted" / "ada" / VALIDATED
    folder.mkdir(parents=True)
    nbformat.write(nb, str(folder / f"{VALIDATED}.ipynb"))
    return root / "submitted"


def test_feedback_page_in_chromium(chromium, tmp_path, screenshots, update_docs):
    if shutil.which("bwrap") is None:
        missing("bubblewrap is missing: apt-get install bubblewrap")
    out = tmp_path / "grading"
    proc = subprocess.run(
        [sys.executable, "-m", "grader", "grade", str(_submission(tmp_path)), "--out", str(out), "--fast",
         "--jobs", "1", "--no-progress"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    feedback = out / "feedback" / "ada" / VALIDATED / f"{VALIDATED}.html"
    assert feedback.is_file(), sorted(str(p.relative_to(out)) for p in out.rglob("*.html"))

    from playwright.sync_api import expect

    with browser_page(chromium, None, screenshots / "feedback-failure.png", width=DOC_WIDTH, height=900) as page:
        outside: list[str] = []
        page.on("request", lambda r: outside.append(r.url) if not r.url.startswith(("file:", "data:")) else None)
        page.goto(feedback.as_uri())
        score = re.compile(r"01_regression \(Score: \d+(\.\d+)? / \d+(\.\d+)?\)")
        expect(page.get_by_text(score).first).to_be_visible()
        # The wrong mse: its grade cell scores 0, and the verdict under it names the mistake.
        verdict = page.locator("pre", has_text=re.compile(r"^Grader: 0 / 2 points")).filter(has_text="regression.mse:")
        expect(verdict).to_have_count(1)
        expect(verdict).to_contain_text(re.compile(r"Likely mistake: .*summed.*mean", re.IGNORECASE))
        passed = re.compile(r"regression\.normal_equations: passed all \d+ hidden cases")
        expect(page.get_by_text(passed).first).to_be_visible()
        expect(page.get_by_text(re.compile(r"regression\.gradient_descent: not implemented yet")).first).to_be_visible()
        assert page.locator("script").count() == 0, "a script survived the sanitizer"
        assert not outside, f"the page asked for something outside itself: {outside[:5]}"
        # In sight: the student's mse, its grade cell, the visible test's output and the grader's verdict.
        page.locator("h3", has_text="Exercise 1").first.evaluate("e => e.scrollIntoView({block: 'start'})")
        page.evaluate("window.scrollBy(0, -16)")
        page.screenshot(path=str(screenshots / "feedback.png"))
        if update_docs:
            _write_doc_picture(page.screenshot(), "feedback.png")


# --- README's pictures -----------------------------------------------------------------------------------------


def _write_doc_picture(png: bytes, name: str) -> None:
    """A screenshot as README shows it: DOC_WIDTH pixels wide, 256 colours (JupyterLab's flat colours survive)."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    if image.width != DOC_WIDTH:
        image = image.resize((DOC_WIDTH, round(image.height * DOC_WIDTH / image.width)), Image.Resampling.LANCZOS)
    DOCS.mkdir(parents=True, exist_ok=True)
    image.quantize(colors=256, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(
        DOCS / name, optimize=True)
    assert (DOCS / name).stat().st_size < 300_000, f"{name} is {(DOCS / name).stat().st_size} bytes"


def test_readme_pictures_exist():
    """The pictures README shows are committed (regenerate them with DLCOURSE_UPDATE_SCREENSHOTS=1)."""
    from PIL import Image

    for name in ("notebook-view.png", "validate.png", "feedback.png"):
        path = DOCS / name
        assert path.is_file(), f"{name} is missing: run DLCOURSE_UPDATE_SCREENSHOTS=1 pytest tests/browser"
        assert path.stat().st_size < 300_000, f"{name}: {path.stat().st_size} bytes"
        with Image.open(path) as image:
            assert image.format == "PNG" and image.width == DOC_WIDTH, (name, image.format, image.size)
