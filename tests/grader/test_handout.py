"""grader.handout: the student hand-out installs on its own, runs every notebook, and computes no answer.

The slow test builds the hand-out, installs it in a fresh virtual environment (third-party packages come from
this repository's environment through a path entry, so nothing is downloaded; ``dlcourse`` comes from the
hand-out alone), then:

* executes every course notebook with the solutions pasted into its exercise cells: no error, so the visible
  tests pass against the recorded cases and the views run without the reference;
* calls every public function of the hand-out's library whose signature fits an exercise on that exercise's
  hidden cases, and fails if any of them earns the points (judged here, with the real descriptions).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from dlcourse import exercises
from dlcourse.checks import protocol
from grader import handout

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"
_MARKER = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*$", re.MULTILINE)


def test_the_handout_leaves_out_the_answers(tmp_path):
    out = handout.build(tmp_path / "handout")
    lib = out / "lib" / "dlcourse"
    assert not (lib / "reference").exists()
    assert sorted(p.name for p in (lib / "exercises").glob("*.py")) == ["__init__.py", "core.py", "recorded.py"]
    assert not [p for p in (lib / "exercises").iterdir() if p.is_dir() and p.name != "visible"]
    topics = {p.stem for p in (lib / "exercises" / "visible").glob("*.json")}
    assert topics == set(exercises.topics())
    assert sorted(p.name for p in (out / "course").iterdir()) == sorted(p.name for p in (REPO / "course").iterdir())
    text = "\n".join(p.read_text() for p in out.rglob("*.py"))
    assert "BEGIN SOLUTION" not in text and "from dlcourse.reference" not in text
    assert "allow-root" in (out / "Makefile").read_text()


def test_the_handout_refuses_to_overwrite_the_repository():
    with pytest.raises(handout.HandoutError):
        handout.build(REPO)


def with_solutions(course_nb: Path) -> nbformat.NotebookNode:
    """The released notebook with each exercise cell replaced by the instructor's solution (markers removed)."""
    nb = nbformat.read(str(course_nb), as_version=4)
    source = nbformat.read(str(SOLUTIONS / course_nb.parent.name / course_nb.name), as_version=4)
    solutions = {c.metadata.get("nbgrader", {}).get("grade_id"): c.source for c in source.cells
                 if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if cell.cell_type == "code" and grade_id in solutions:
            cell.source = _MARKER.sub("", solutions[grade_id])
    return nb


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> tuple[Path, Path]:
    """(hand-out folder, python of a fresh venv that has the hand-out's dlcourse and this repo's other packages)."""
    root = tmp_path_factory.mktemp("handout")
    out = handout.build(root / "handout")
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())
    # This environment's packages (numpy, torch, jupyter...) by a path entry: its .pth files, among them the
    # editable install of this repository's dlcourse, are not processed, so dlcourse comes from the hand-out.
    (site / "deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation",
                    "--no-index", str(out)], check=True, cwd=root)
    return out, python


@pytest.mark.slow
def test_the_installed_handout_is_the_handout(installed):
    _, python = installed
    probe = ("import dlcourse, importlib.util as u; print(dlcourse.__file__); "
             "print(u.find_spec('dlcourse.reference') is None)")
    lines = subprocess.run([str(python), "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert str(REPO) not in lines[0] and lines[1] == "True", lines


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(p.name for p in (REPO / "course").iterdir() if p.is_dir()))
def test_every_notebook_runs_from_the_handout_with_the_solutions_pasted_in(installed, name, tmp_path):
    out, python = installed
    course_nb = next((out / "course" / name).glob("*.ipynb"))
    path = tmp_path / course_nb.name
    nbformat.write(with_solutions(course_nb), str(path))
    run = subprocess.run(
        [str(python), "-m", "nbconvert", "--to", "notebook", "--execute", "--inplace",
         "--ExecutePreprocessor.timeout=300", str(path)],
        capture_output=True, text=True, cwd=tmp_path, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin",
                                                           "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stderr[-3000:]
    executed = nbformat.read(str(path), as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors, [f"{e.ename}: {e.evalue}" for e in errors]


LEAK_PROBE = r'''
import contextlib, inspect, io, json, pkgutil, importlib, signal, sys, time, warnings
import dlcourse
from dlcourse.checks import protocol
from dlcourse.checks.compare import compare_outputs
from dlcourse.graded import run_case

spec = json.loads(open(sys.argv[1]).read())
functions = []
for info in pkgutil.walk_packages(dlcourse.__path__, "dlcourse."):
    try:
        module = importlib.import_module(info.name)
    except Exception:
        continue
    for name, obj in vars(module).items():
        if not name.startswith("_") and inspect.isfunction(obj) and obj.__module__ == module.__name__:
            functions.append((f"{module.__name__}.{name}", obj))

def timeout(signum, frame):
    raise TimeoutError("too slow")

signal.signal(signal.SIGALRM, timeout)
survivors = {}
for exercise, entry in spec.items():
    cases = [protocol.decode(c) for c in entry["cases"]]
    expected = [None if e is None else protocol.decode(e) for e in entry["expected"]]
    shapes = entry["shapes"]
    for fname, fn in functions:
        try:
            inspect.signature(fn).bind(*cases[0]["args"], **cases[0].get("kwargs", {}))
        except TypeError:
            continue
        outcome, started = [], time.monotonic()
        for case, want, shape in zip(cases, expected, shapes):
            if time.monotonic() - started > 4:  # far slower than any exercise: not an answer
                outcome = None
                break
            signal.alarm(2)
            try:
                with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    result = run_case(fn, case)
            except BaseException as exc:
                result = {"error": type(exc).__name__}
            finally:
                signal.alarm(0)
            # A quick filter (the verdict is the parent's): stop at the first case that cannot pass.
            if ("outputs" not in result or [list(o.shape) for o in result["outputs"]] != shape
                    or (want is not None and not compare_outputs(result["outputs"], want).ok)):
                outcome = None
                break
            outcome.append(protocol.encode(result))
        if outcome is not None:
            survivors.setdefault(exercise, {})[fname] = outcome
print(json.dumps(survivors))
'''


@pytest.mark.slow
def test_no_function_of_the_handout_earns_an_exercises_points(installed, tmp_path):
    _, python = installed
    spec, cases = {}, {}
    for name, ex in exercises.all_exercises().items():
        data = [{**c, "repeat": False} for c in ex.case_data(4321)]  # one call each: a leak is a right answer
        cases[name] = [protocol.decode(protocol.encode(c)) for c in data]
        outputs = [ex.expected(c) for c in cases[name]]
        expected = [protocol.encode(o) if ex.check is None else None for o in outputs]
        shapes = [[list(a.shape) for a in o] for o in outputs]
        spec[name] = {"cases": [protocol.encode(c) for c in data], "expected": expected, "shapes": shapes}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    (tmp_path / "probe.py").write_text(LEAK_PROBE)
    run = subprocess.run([str(python), str(tmp_path / "probe.py"), str(tmp_path / "spec.json")],
                         capture_output=True, text=True, env={"MPLBACKEND": "Agg", "PATH": "/usr/bin:/bin"})
    assert run.returncode == 0, run.stderr[-3000:]
    results = json.loads(run.stdout.strip().splitlines()[-1])
    leaks = []
    for exercise, by_function in results.items():
        ex = exercises.get(exercise)
        for fname, outcome in by_function.items():
            decoded = [protocol.decode(r) for r in outcome]
            if all(ex.judge(c, r).ok for c, r in zip(cases[exercise], decoded, strict=True)):
                leaks.append(f"{fname} passes {exercise}")
    assert not leaks, "the hand-out computes answers: " + "; ".join(leaks)
