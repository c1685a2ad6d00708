"""grader.runner (the sandbox's side of a run): copying in, collecting results, and its report."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat

from grader import runner


def test_copy_submission_copies_regular_files_only(tmp_path):
    src, dest = tmp_path / "in", tmp_path / "out"
    (src / "sub").mkdir(parents=True)
    (src / "nb.ipynb").write_text("{}")
    (src / "sub" / "data.csv").write_text("1,2")
    (src / "link").symlink_to("/etc/passwd")
    (src / "dirlink").symlink_to(src / "sub")
    os.mkfifo(src / "fifo")
    dest.mkdir()
    runner.copy_submission(src, dest)
    assert sorted(str(p.relative_to(dest)) for p in dest.rglob("*")) == ["nb.ipynb", "sub", "sub/data.csv"]


def test_collect_results_takes_regular_named_files_within_the_budget(tmp_path):
    (tmp_path / "a.b.json").write_text('{"x": 1}')
    (tmp_path / "c.d.json").symlink_to("/etc/passwd")
    (tmp_path / "bad name.json").write_text("{}")
    os.mkfifo(tmp_path / "e.f.json")
    found, skipped = runner.collect_results(tmp_path, max_bytes=100)
    assert {k: base64.b64decode(v) for k, v in found.items()} == {"a.b.json": b'{"x": 1}'}
    assert set(skipped) == {"c.d.json", "bad name.json", "e.f.json"}
    (tmp_path / "z.z.json").write_bytes(b"x" * 200)
    found, skipped = runner.collect_results(tmp_path, max_bytes=100)
    assert "z.z.json" in skipped and "z.z.json" not in found
    assert runner.collect_results(tmp_path / "missing", 100) == ({}, [])


def test_a_run_reports_each_cell_then_the_notebook_and_its_results(tmp_path):
    """The real runner (no sandbox): a kernel, two cells, and a results file."""
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print('hello')"),
                nbformat.v4.new_code_cell("import os\nos.makedirs('out', exist_ok=True)\n"
                                          "open('out/a.b.json', 'w').write('[1]')\nprint('\\udcff')"),
                nbformat.v4.new_markdown_cell("text")]
    nbformat.write(nb, str(tmp_path / "t.ipynb"))
    r, w = os.pipe()
    cmd = [sys.executable, str(Path(runner.__file__)), str(tmp_path / "t.ipynb"), "--report-fd", str(w),
           "--results-dir", str(tmp_path / "out"), "--cell-timeout", "30", "--kernel-start-timeout", "60",
           "--max-output-bytes", "100000", "--max-result-bytes", "1000"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        lines = [json.loads(line) for line in f]
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    assert [m["event"] for m in lines] == ["start", "kernel", "cell", "cell", "cell", "done"]
    done = lines[-1]
    assert done["status"] == "ok"
    assert done["notebook"]["cells"][0]["outputs"][0]["text"] == "hello\n"
    assert base64.b64decode(done["results"]["a.b.json"]) == b"[1]"


def _run(tmp_path, cells, *extra):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(c) for c in cells]
    nbformat.write(nb, str(tmp_path / "t.ipynb"))
    r, w = os.pipe()
    cmd = [sys.executable, str(Path(runner.__file__)), str(tmp_path / "t.ipynb"), "--report-fd", str(w),
           "--results-dir", str(tmp_path / "out"), "--cell-timeout", "30", "--kernel-start-timeout", "60",
           "--max-output-bytes", "100000", "--max-result-bytes", "1000", *extra]
    env = {k: v for k, v in os.environ.items() if k != "IPYTHONDIR"}
    proc = subprocess.Popen(cmd, cwd=tmp_path, pass_fds=(w,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=env)
    os.close(w)
    with os.fdopen(r, "rb") as f:
        done = [json.loads(line) for line in f][-1]
    assert proc.wait(timeout=60) == 0, proc.stderr.read()
    return done["notebook"]["cells"]


def _text(cell) -> str:
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell["outputs"])


def test_every_cell_starts_from_generators_seeded_by_its_position(tmp_path):
    """What a cell draws from (or seeds) the global generators never reaches a later cell: a cell that the fast
    mode skips cannot change a graded result through them."""
    draw = "import random, numpy as np, torch\nprint(random.random(), np.random.rand(), torch.rand(1).item())"
    first = _run(tmp_path, ["x = 1", "import numpy as np; np.random.seed(123); np.random.rand(50)", draw])
    second = _run(tmp_path, ["x = 1", "# skipped", draw])
    assert _text(first[2]) == _text(second[2]) != ""
    moved = _run(tmp_path, ["x = 1", draw, "# skipped"])   # another position, other numbers
    assert _text(moved[1]) != _text(first[2])
    assert not (Path.home() / ".ipython" / "profile_default" / "startup" / "00-grader.py").exists()


def test_a_module_the_notebook_is_graded_without_cannot_be_imported(tmp_path):
    cells = ["import numpy as np\nprint(np.ones(2).sum())", "import torch", "from torch import nn",
             "import importlib\nimportlib.import_module('torch.nn')"]
    out = _run(tmp_path, cells, "--without", "torch")
    assert _text(out[0]).strip() == "2.0"
    for cell in out[1:]:
        assert cell["outputs"][0]["ename"] == "ImportError", cell["outputs"]
        assert "torch is not available while this notebook is graded" in _text(cell)
