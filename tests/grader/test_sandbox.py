"""grader.sandbox: the command line, the report reader, and real runs in bubblewrap."""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path

import nbformat
import pytest

from grader import sandbox
from grader.settings import HIDDEN_PACKAGES, Limits
from grader.verdict import GRADING_ENV_VAR

needs_bwrap = pytest.mark.skipif(not sandbox.bwrap_available(), reason="bubblewrap is not installed")


def test_bwrap_command_hides_the_answers_and_caps_the_writable_space(tmp_path):
    limits = Limits(scratch_mb=77)
    cmd = sandbox.bwrap_command(tmp_path, "nb.ipynb", limits, tmp_path, seccomp_fd=5, report_fd=6)
    joined = " ".join(cmd)
    assert "--unshare-all" in cmd and "--unshare-user" in cmd and "--clearenv" in cmd
    assert "--die-with-parent" in cmd and "--cap-drop" in cmd
    assert "--seccomp 5" in joined and "--report-fd 6" in joined
    for name in HIDDEN_PACKAGES:
        assert f"dlcourse/{name}/__init__.py" in joined
    assert "solutions" not in joined and "gradebook" not in joined
    assert f"--ro-bind {tmp_path} /input" in joined               # the submission, read-only
    size = str(77 * 2**20)
    assert f"--size {size} --tmpfs /submission" in joined and f"--size {size} --tmpfs /tmp" in joined
    assert "--bind " not in joined                                 # no writable bind of the grader's disk
    assert f"--setenv {GRADING_ENV_VAR} /submission/.grading" in joined
    if "--disable-userns" in os.popen("bwrap --help 2>&1").read():
        assert "--disable-userns" in cmd


def test_kernel_env_is_the_whole_environment(tmp_path):
    env = sandbox.kernel_env(tmp_path)
    assert env[GRADING_ENV_VAR] == str(tmp_path / ".grading")
    assert env["PYTHONSAFEPATH"] == "1" and "HOME" in env
    assert not set(env) & {"USER", "SSH_AUTH_SOCK", "PWD", "VIRTUAL_ENV"}


# -- the report reader, fed by hand ------------------------------------------------

def _reader(lines: list[bytes], limits: Limits, delays: list[float] | None = None, close: bool = True):
    r, w = os.pipe()

    def feed():
        try:
            for i, line in enumerate(lines):
                if delays:
                    time.sleep(delays[i])
                os.write(w, line)
        except OSError:
            pass   # the reader gave up first: that is what some tests check
        if close:
            os.close(w)

    t = threading.Thread(target=feed, daemon=True)
    t.start()
    try:
        return sandbox._read_report(r, limits, time.monotonic())
    finally:
        os.close(r)
        t.join()
        if not close:
            os.close(w)


def test_reader_returns_the_final_report_without_waiting_for_the_end():
    done = json.dumps({"event": "done", "status": "ok", "notebook": {"cells": []}, "results": {}}).encode() + b"\n"
    start = time.monotonic()
    status, _, report = _reader([b'{"event": "start"}\n', b'{"event": "cell", "index": 0}\n', done],
                                     Limits(notebook_timeout=30), close=False)   # the pipe stays open
    assert status == "ok" and report["notebook"] == {"cells": []}
    assert time.monotonic() - start < 5


def test_reader_stops_a_silent_run_after_a_cell_timeout_and_the_grace():
    limits = Limits(cell_timeout=1, stall_grace=1, kernel_start_timeout=1, notebook_timeout=60)
    start = time.monotonic()
    status, detail, report = _reader([b'{"event": "kernel"}\n'], limits, close=False)
    assert status == "stalled" and report is None and "stopped answering" in detail
    assert time.monotonic() - start < 10


def test_reader_enforces_the_notebook_timeout_even_with_heartbeats():
    limits = Limits(cell_timeout=5, stall_grace=5, notebook_timeout=2)
    status, _, _ = _reader([b'{"event": "cell", "index": %d}\n' % i for i in range(10)], limits,
                           delays=[0.5] * 10, close=False)
    assert status == "timeout"


@pytest.mark.parametrize(("lines", "status"), [
    ([b"not json\n"], "no_result"),
    ([b'{"event": "start"}\n'], "ok"),     # ended without a report: run_notebook calls it "killed"
    ([b"x" * (3 * 2**20)], "no_result"),   # past the report budget
])
def test_reader_refuses_garbage_and_oversize(lines, status):
    limits = Limits(max_notebook_mb=1, max_result_mb=1)
    got, _, report = _reader(lines, limits)
    assert got == status and report is None


# -- real runs -----------------------------------------------------------------------

def _notebook(work: Path, *sources: str) -> None:
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(s) for s in sources]
    nbformat.write(nb, str(work / "t.ipynb"))


def _text(result) -> str:
    return str([c.get("outputs") for c in result.notebook["cells"]])


@needs_bwrap
def test_a_real_run_sees_only_its_submission_and_leaves_nothing_on_disk(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "numpy.py").write_text("raise SystemExit('shadowed')\n")
    (work / ".grading").mkdir()
    (work / ".grading" / "inputs.json").write_text("{}")
    repo = Path(__file__).resolve().parents[2]
    _notebook(work, *[
        "import numpy, os\nprint('numpy from', numpy.__file__)\nprint('cwd', os.getcwd())",
        "try:\n    import dlcourse.reference.layers\n    print('LEAK')\n"
        "except ImportError as e:\n    print('blocked:', e)",
        f"print('solutions visible:', os.path.exists({str(repo / 'solutions')!r}))",
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n    print('NET')\n"
        "except OSError:\n    print('no network')",
        "print('env', sorted(os.environ))",
        "os.makedirs('.grading/outputs', exist_ok=True)\nopen('.grading/outputs/a.b.json', 'w').write('{}')\n"
        "os.symlink('/etc/passwd', '.grading/outputs/c.d.json')\nopen('left-behind.txt', 'w').write('x')",
        "try:\n    open('/input/t.ipynb', 'a')\nexcept OSError as e:\n    print('input read-only', e.errno)",
    ])
    limits = Limits(cell_timeout=30, notebook_timeout=120)
    result = sandbox.run_notebook(work, "t.ipynb", limits, use_bwrap=True)
    assert result.status == "ok", result.detail
    text = _text(result)
    assert "numpy from /" in text and "/submission" in text and "shadowed" not in text
    assert "blocked: dlcourse.reference is not available while grading" in text and "LEAK" not in text
    assert "solutions visible: False" in text and "no network" in text and "NET'" not in text
    assert "input read-only 30" in text     # EROFS
    assert str(tmp_path) not in text
    assert result.results == {"a.b.json": b"{}"}   # the link was not followed
    written = {p.name for p in work.rglob("*")}
    assert "left-behind.txt" not in written and "outputs" not in written, "the run wrote onto the grader's disk"


@needs_bwrap
def test_a_full_quota_ptrace_and_new_namespaces_are_refused_quickly(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _notebook(work, *[
        "n = 0\ntry:\n    while True:\n        open(f'/submission/f{n}', 'wb').write(b'x' * 2**23); n += 1\n"
        "except OSError as e:\n    print('full', e.errno)",
        "import ctypes, os\nlibc = ctypes.CDLL(None, use_errno=True)\n"
        "print('ptrace', libc.ptrace(16, 1, 0, 0), ctypes.get_errno())\n"          # PTRACE_ATTACH to pid 1
        "print('ptrace-parent', libc.ptrace(0x4206, os.getppid(), 0, 0), ctypes.get_errno())\n"   # PTRACE_SEIZE
        "print('userns', libc.unshare(0x10000000), ctypes.get_errno())",
        "print('still running')",
    ])
    limits = Limits(cell_timeout=20, notebook_timeout=120, scratch_mb=48)
    start = time.monotonic()
    result = sandbox.run_notebook(work, "t.ipynb", limits, use_bwrap=True)
    assert result.status == "ok", result.detail
    text = _text(result)
    assert "full 28" in text                                             # ENOSPC inside, not on our disk
    assert "ptrace -1 1" in text and "ptrace-parent -1 1" in text and "userns -1 1" in text
    assert "still running" in text
    assert time.monotonic() - start < 60


@needs_bwrap
def test_a_frozen_runner_costs_one_cell_timeout_not_the_notebook_timeout(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _notebook(work, "import os, signal\nos.kill(os.getppid(), signal.SIGSTOP)", "print('never')")
    limits = Limits(cell_timeout=3, stall_grace=3, notebook_timeout=300)
    start = time.monotonic()
    result = sandbox.run_notebook(work, "t.ipynb", limits, use_bwrap=True)
    assert result.status == "stalled" and result.notebook is None
    assert time.monotonic() - start < 60


@needs_bwrap
def test_a_submission_larger_than_the_quota_is_told_so(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    _notebook(work, "print('hi')")
    (work / "big.bin").write_bytes(b"x" * (3 * 2**20))
    result = sandbox.run_notebook(work, "t.ipynb", Limits(scratch_mb=2, notebook_timeout=60), use_bwrap=True)
    assert result.status == "execution_failed" and "does not fit" in result.detail
