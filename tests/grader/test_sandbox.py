"""grader.sandbox: the pieces, and one real run in bubblewrap."""

from __future__ import annotations

import os
from pathlib import Path

import nbformat
import pytest

from grader import sandbox
from grader.sandbox import Limits, UnsafeFileError, safe_read


def test_safe_read_accepts_a_plain_file(tmp_path):
    (tmp_path / "a.json").write_text("{}")
    assert safe_read(tmp_path / "a.json", tmp_path, 100) == b"{}"


def test_safe_read_refuses_links_out_devices_fifos_and_big_files(tmp_path):
    (tmp_path / "out").symlink_to("/etc/passwd")
    with pytest.raises(UnsafeFileError, match="outside"):
        safe_read(tmp_path / "out", tmp_path, 100)
    (tmp_path / "zero").symlink_to("/dev/zero")
    with pytest.raises(UnsafeFileError):
        safe_read(tmp_path / "zero", tmp_path, 100)
    os.mkfifo(tmp_path / "fifo")
    with pytest.raises(UnsafeFileError, match="regular"):
        safe_read(tmp_path / "fifo", tmp_path, 100)
    (tmp_path / "big").write_bytes(b"x" * 101)
    with pytest.raises(UnsafeFileError, match="larger"):
        safe_read(tmp_path / "big", tmp_path, 100)
    with pytest.raises(UnsafeFileError, match="missing"):
        safe_read(tmp_path / "nope", tmp_path, 100)


def test_bwrap_command_hides_the_answers(tmp_path):
    cmd = sandbox.bwrap_command(tmp_path, "nb.ipynb", Limits(), tmp_path)
    joined = " ".join(cmd)
    assert "--unshare-all" in cmd and "--clearenv" in cmd and "--die-with-parent" in cmd
    for name in sandbox.HIDDEN_PACKAGES:
        assert f"dlcourse/{name}/__init__.py" in joined
    assert "solutions" not in joined and "gradebook" not in joined
    assert f"--bind {tmp_path} /submission" in joined


@pytest.mark.skipif(not sandbox.bwrap_available(), reason="bubblewrap is not installed")
def test_a_real_run_sees_only_its_submission(tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "numpy.py").write_text("raise SystemExit('shadowed')\n")
    nb = nbformat.v4.new_notebook()
    repo = Path(__file__).resolve().parents[2]
    nb.cells = [nbformat.v4.new_code_cell(src) for src in [
        "import numpy, os\nprint('numpy from', numpy.__file__)\nprint('cwd', os.getcwd())",
        "try:\n    import dlcourse.reference.layers\n    print('LEAK')\n"
        "except ImportError as e:\n    print('blocked:', e)",
        f"print('solutions visible:', os.path.exists({str(repo / 'solutions')!r}))",
        "import socket\ntry:\n    socket.create_connection(('1.1.1.1', 80), timeout=1)\n    print('NET')\n"
        "except OSError:\n    print('no network')",
        "print('env', sorted(os.environ))",
    ]]
    nbformat.write(nb, str(work / "t.ipynb"))
    limits = Limits(cell_timeout=30, notebook_timeout=120)
    result = sandbox.run_notebook(work, "t.ipynb", limits, use_bwrap=True)
    assert result.status == "ok", result.detail
    text = str([c.get("outputs") for c in result.notebook["cells"]])
    assert "numpy from /" in text and "/submission" in text and "shadowed" not in text
    assert "blocked: dlcourse.reference is not available while grading" in text and "LEAK" not in text
    assert "solutions visible: False" in text and "no network" in text and "NET'" not in text
    assert str(tmp_path) not in text
