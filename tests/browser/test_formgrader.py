"""Hand grading in nbgrader's formgrader, in headless Chromium, started the way README says.

A solution of 01_regression is graded with `python -m grader grade`; then, in the grading folder,
`../.venv/bin/jupyter lab --no-browser` (with `--allow-root` as root, as README says) serves formgrader on that
run's gradebook (the grading folder's nbgrader_config.py). In the browser: the Manual Grading list shows the
submission with its automatic score, the submission's page shows the written answer with a score box, a score typed
there is saved, and `python -m grader export` then writes it into grades.csv.
"""

from __future__ import annotations

import csv
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
from labserver import REPO, SERVER_START_S, USER_SETTINGS, Lab, browser_page, free_port, missing

pytestmark = pytest.mark.slow

AID = "01_regression"
WRITTEN = "q_learning_rate"   # a written answer of 01, graded by hand


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> Path:
    if shutil.which("bwrap") is None:
        missing("bubblewrap is missing: apt-get install bubblewrap")
    root = tmp_path_factory.mktemp("formgrader")
    sub = root / "submitted" / "alice" / AID
    sub.mkdir(parents=True)
    shutil.copy(REPO / "solutions" / AID / f"{AID}.ipynb", sub)
    out = root / "grading"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(root / "submitted"), "--out", str(out),
                           "--fast", "--jobs", "1", "--no-progress"], cwd=REPO, capture_output=True, text=True,
                          timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def _formgrader(grading: Path, home: Path) -> Lab:
    """README's command, run in the grading folder, with private per-user state and a known port and token."""
    settings = home / "settings"
    for name, values in USER_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(json.dumps(values))
    env = {k: v for k, v in os.environ.items() if not k.startswith(("JUPYTER", "JPY_"))}
    env.update(HOME=str(home), JUPYTER_CONFIG_DIR=str(home / "config"), JUPYTER_RUNTIME_DIR=str(home / "runtime"),
               JUPYTERLAB_SETTINGS_DIR=str(settings), JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"))
    port, token = free_port(), secrets.token_hex(16)
    command = [str(REPO / ".venv" / "bin" / "jupyter"), "lab", "--no-browser",
               *(["--allow-root"] if os.geteuid() == 0 else []),
               f"--port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
               "--ServerApp.ip=127.0.0.1"]
    log = home / "lab.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(command, cwd=grading, env=env, stdin=subprocess.DEVNULL, stdout=out,
                                stderr=subprocess.STDOUT, start_new_session=True)
    lab = Lab(proc, port, token, log, command, home)
    lab.wait_until_up(SERVER_START_S)
    return lab


def _submission(lab: Lab) -> dict:
    [found] = lab.get_json(f"formgrader/api/submitted_notebooks/{AID}/{AID}")
    return found


def test_a_score_given_by_hand_in_formgrader_reaches_grades_csv(chromium, graded, tmp_path, screenshots):
    from playwright.sync_api import expect

    lab = _formgrader(graded, tmp_path / "home")
    try:
        before = _submission(lab)
        assert before["student"] == "alice" and before["needs_manual_grade"]
        assert before["code_score"] == before["max_code_score"] > 0, before   # every automatic point, as graded
        assert before["written_score"] == 0 and before["max_written_score"] > 0
        with browser_page(chromium, lab, screenshots / "formgrader-failure.png", width=1200, height=900) as page:
            # As README says: log in with the URL the server prints (JupyterLab), then open formgrader.
            page.goto(lab.url("lab"))
            expect(page.locator("#jp-main-dock-panel")).to_be_visible()
            page.goto(f"{lab.base}/formgrader/gradebook/{AID}/{AID}")
            row = page.locator("tr", has_text="Submission #1")
            expect(row).to_have_count(1)
            expect(row).to_contain_text(f"{before['score']:g} / {before['max_score']:g}")
            page.goto(f"{lab.base}/formgrader/submissions/{before['id']}/?index=0")
            box = page.locator(f"input#{WRITTEN}")
            expect(box).to_be_visible()
            box.scroll_into_view_if_needed()
            box.fill("2")
            box.press("Tab")   # formgrader saves a score when its box loses focus
            deadline = time.monotonic() + 30
            while _submission(lab)["written_score"] != 2 and time.monotonic() < deadline:
                time.sleep(0.5)
            assert _submission(lab)["written_score"] == 2, "formgrader did not save the score typed in"
            page.screenshot(path=str(screenshots / "formgrader.png"))
    finally:
        lab.stop()
    proc = subprocess.run([sys.executable, "-m", "grader", "export", "--out", str(graded)], cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    with (graded / "grades.csv").open(encoding="utf-8") as f:
        [row] = [r for r in csv.DictReader(f) if r["student_id"] == "alice"]
    assert float(row["raw_score"]) == before["score"] + 2, row


def test_readme_gives_the_command_this_test_runs():
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    assert "cd grading && ../.venv/bin/jupyter lab --no-browser" in readme
    assert "--allow-root" in readme and "token" in readme
