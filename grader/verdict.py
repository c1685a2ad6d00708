"""Trusted verdicts: the student's results on hidden inputs, judged against the reference.

This module is the grader's one door to the library's judging code (the
exercise descriptions with their ``Exercise.judge``, and the data protocol): every other
grader module reaches them through the names defined here. It owns the hidden
cases (drawn from a seed only the grader knows), decoding the results a kernel
recorded (untrusted bytes, never unpickled), the points of a graded cell, and
(``explain_failures``) the words that say which earlier cell of the executed
notebook did not run when that cost a test cell its points.
It runs in the grader's own process; the kernel only ever sees the cases (as
data) and hands back results (as data), so it cannot reach the comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

from dlcourse import exercises
from dlcourse.checks import protocol
from grader.settings import MB, Limits

# The protocol's names, shared with the kernel (defined once, in the library).
GRADING_ENV_VAR = protocol.ENV_VAR
INPUTS = protocol.INPUTS
OUTPUTS = protocol.OUTPUTS


@dataclass
class CellVerdict:
    grade_id: str
    points: float
    score: float
    reasons: list[str] = field(default_factory=list)
    passed: dict[str, bool] = field(default_factory=dict)     # exercise -> passed every hidden case
    mistakes: dict[str, str] = field(default_factory=dict)    # exercise -> the known mistake it was diagnosed with

    def text(self) -> str:
        head = f"Grader: {self.score:g} / {self.points:g} points."
        return "\n".join([head, *(f"  - {r}" for r in self.reasons)])


def seed_for(secret: bytes, *parts: str) -> int:
    """A seed nobody can guess without the grader's secret, fixed per student and exercise
    so that grading twice gives the same result."""
    digest = hmac.new(secret, "/".join(parts).encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "little")


def hidden_cases(name: str, seed: int) -> list[dict]:
    """The cases, encoded as the protocol's plain data. They are decoded afresh for every
    use, so the kernel and the grader see the same values (and fresh random generators)."""
    exercise = exercises.get(name)
    return [protocol.encode(c) for c in exercise.case_data(seed)]


def inputs_json(cases: dict[str, list[dict]]) -> str:
    """The kernel's ``inputs.json``: for each exercise, its cases."""
    return json.dumps({"exercises": {n: list(cs) for n, cs in cases.items()}}, allow_nan=False)


def write_inputs(directory: Path, cases: dict[str, list[dict]]) -> Path:
    """A protocol folder outside any sandbox (``inputs.json``, an empty ``outputs/``), for running test cells in
    this process, as the tests of the notebooks' tests do. Grading itself hands the cases to the sandbox."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / OUTPUTS).mkdir(exist_ok=True)
    for stale in (directory / OUTPUTS).glob("*.json"):
        stale.unlink()
    path = directory / INPUTS
    path.write_text(inputs_json(cases), encoding="utf-8")
    return path


def results_in(directory: Path, max_bytes: int) -> dict[str, bytes]:
    """The results files of a protocol folder: regular files only, none larger than ``max_bytes``."""
    found = {}
    for path in sorted((directory / OUTPUTS).glob("*.json")):
        st = os.lstat(path)
        if stat.S_ISREG(st.st_mode) and st.st_size <= max_bytes:
            found[path.name] = path.read_bytes()
    return found


def results_file(name: str) -> str:
    """The name of the file in which the kernel records ``name``'s results."""
    return f"{protocol.check_name(name)}.json"


def read_results(results: dict[str, bytes], name: str, max_bytes: int) -> tuple[list | None, str]:
    """The kernel's results for one exercise, decoded defensively; (None, reason) if unusable."""
    data = results.get(results_file(name))
    if data is None:
        return None, "no results were recorded (the test cell did not reach hidden_test, or it was removed)"
    if len(data) > max_bytes:
        return None, "the recorded results are too large"
    try:
        decoded = protocol.decode(json.loads(data))
    except (ValueError, protocol.ProtocolError, RecursionError) as exc:
        return None, f"the recorded results are malformed ({str(exc)[:200]})"
    if not isinstance(decoded, dict) or decoded.get("exercise") != name or not isinstance(decoded.get("results"), list):
        return None, "the recorded results are malformed"
    return decoded["results"], ""


def judge_exercise(name: str, cases: list[dict], results: dict[str, bytes], max_bytes: int) -> tuple[bool, str]:
    ok, why, _ = diagnose_exercise(name, cases, results, max_bytes)
    return ok, why


def diagnose_exercise(name: str, cases: list[dict], results: dict[str, bytes],
                      max_bytes: int) -> tuple[bool, str, str]:
    """(passed, reason, mistake): ``mistake`` is the hint of the exercise's known mistake that the first failed
    case's result matches (``Exercise.diagnose``), or ""."""
    found, why = read_results(results, name, max_bytes)
    if found is None:
        return False, f"{name}: {why}", ""
    if len(found) != len(cases):
        return False, f"{name}: expected results for {len(cases)} cases, found {len(found)}", ""
    exercise = exercises.get(name)
    for encoded, result in zip(cases, found, strict=True):
        try:
            verdict = exercise.judge(protocol.decode(encoded), result)
        except Exception as exc:  # malformed data must never crash the grader
            return False, f"{name}: could not judge a result ({type(exc).__name__})", ""
        if not verdict.ok:
            try:
                hint = exercise.diagnose(protocol.decode(encoded), result).strip()
            except Exception:  # untrusted data: a diagnosis that fails is no diagnosis
                hint = ""
            hint = hint.removeprefix("Likely mistake:").strip()
            message = verdict.message if not hint or hint in verdict.message else f"{verdict.message} Likely " \
                f"mistake: {hint}"
            return False, f"{name}: {message}", hint
    return True, f"{name}: passed all {len(cases)} hidden cases", ""


def judge_cell(grade_id: str, points: float, names: list[str], cases: dict[str, list[dict]],
               results: dict[str, bytes] | Path, max_bytes: int | None = None) -> CellVerdict:
    """Points in proportion to the exercises of the cell that pass every hidden case.

    ``results`` maps results file names to their bytes (what the sandbox handed back), or is a protocol folder
    (see ``write_inputs``). ``max_bytes`` defaults to the default ``Limits``."""
    if max_bytes is None:
        max_bytes = Limits().max_result_mb * MB
    if isinstance(results, Path):
        results = results_in(results, max_bytes)
    if not names:
        return CellVerdict(grade_id, points, 0.0, ["this test cell has no hidden_test: it cannot be graded safely"])
    reasons, passed, outcome, mistakes = [], 0, {}, {}
    for name in names:
        ok, why, mistake = diagnose_exercise(name, cases[name], results, max_bytes)
        passed += ok
        reasons.append(why)
        outcome[name] = ok
        if mistake:
            mistakes[name] = mistake
    return CellVerdict(grade_id, points, round(points * passed / len(names), 6), reasons, outcome, mistakes)


# -- why a test cell lost its points: an earlier cell that did not run --------------------------------------------

NO_RESULTS = "no results were recorded"
_SYNTAX_ERRORS = ("SyntaxError", "IndentationError", "TabError")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_CELL_LINE = re.compile(r"Cell In\[\d+\], line (\d+)")
_SYNTAX_WHERE = re.compile(r"^(?P<message>.*?)\s*\([^()]*, line (?P<line>\d+)\)$", re.DOTALL)
_UNDEFINED = re.compile(r"NameError: name '(\w+)' is not defined")


def explain_failures(nb, cells: list[dict]) -> list[dict]:
    """``cells`` (the graded cells of one notebook, as ``SaveVerdicts`` reported them) with reasons that say why a
    test cell could not run, read from the executed notebook ``nb``; the input is not changed.

    A test cell whose function is not defined (a ``NameError`` in the cell, or raised by a function it called)
    names the earlier cell that failed and defines that name at its top level: an answer cell with a
    ``SyntaxError`` defines nothing at all; one that raised (a ``NameError`` at its top level) stopped before the
    definition. Only a cell above the test cell whose output is an error is ever named; a test cell that stopped on
    its own error says which."""
    code = [c for c in nb.cells if c.get("cell_type") == "code"]
    where = {c.get("metadata", {}).get("nbgrader", {}).get("grade_id"): i for i, c in enumerate(code)}
    explained = []
    for cell in cells:
        position = where.get(cell.get("grade_id"))
        if position is None:
            explained.append(cell)
            continue
        reasons = [_explain_reason(code, position, str(r)) for r in cell.get("reasons", [])]
        explained.append({**cell, "reasons": reasons})
    return explained


def _explain_reason(code: list, position: int, reason: str) -> str:
    name, _, why = reason.partition(": ")
    test_error = _error_output(code[position])
    if why.startswith(NO_RESULTS):
        undefined = _UNDEFINED.search(f"{test_error.get('ename')}: {test_error.get('evalue')}") if test_error else None
        if undefined:
            failed = _failed_definition(code, position, undefined.group(1))
            if failed:
                return f"{name}: {_cause(*failed, undefined.group(1))}, so this test could not run"
        if test_error:
            return (f"{name}: this test cell stopped with {_one_line(test_error)} before it reached hidden_test, so "
                    f"{NO_RESULTS}")
        return reason
    undefined = _UNDEFINED.search(why)
    if undefined:
        failed = _failed_definition(code, position, undefined.group(1))
        if failed:
            return f"{reason}; {_cause(*failed, undefined.group(1))}, so `{undefined.group(1)}` does not exist"
    return reason


def _error_output(cell) -> dict | None:
    return next((o for o in cell.get("outputs", []) if o.get("output_type") == "error"), None)


def _failed_definition(code: list, position: int, name: str) -> tuple | None:
    """(cell, its error, whether it is the nearest answer cell above) for the last cell above ``position`` that
    failed and defines ``name`` at its top level."""
    n = re.escape(name)
    pattern = re.compile(rf"^(?:(?:async\s+)?def|class)\s+{n}\b|^(?:[\w.]+\s*,\s*)*{n}\s*(?:,[^=\n]*)?"
                         rf"(?::[^=\n]*)?=(?!=)|^(?:from\s+\S+\s+)?import\s.*\b{n}\b", re.MULTILINE)
    answers = [i for i in range(position) if code[i].get("metadata", {}).get("nbgrader", {}).get("solution")]
    for i in range(position - 1, -1, -1):
        error = _error_output(code[i])
        if error and pattern.search(str(code[i].get("source", ""))):
            return code[i], error, bool(answers) and answers[-1] == i
    return None


def _cause(cell, error: dict, nearest: bool, name: str) -> str:
    meta = cell.get("metadata", {}).get("nbgrader", {})
    grade_id = meta.get("grade_id")
    if grade_id and meta.get("solution"):
        label = f"cell `{grade_id}` ({'the' if nearest else 'an'} answer cell above)"
    elif grade_id:
        label = f"cell `{grade_id}` above"
    else:
        first = next((ln.strip() for ln in str(cell.get("source", "")).splitlines() if ln.strip()), "")
        label = f"the cell above that starts `{first[:60]}`"
    ename = str(error.get("ename", "Error"))
    if ename in _SYNTAX_ERRORS:
        m = _SYNTAX_WHERE.match(str(error.get("evalue", "")))
        message, line = (m.group("message"), m.group("line")) if m else (str(error.get("evalue", "")), None)
        at = f" at line {line}" if line else ""
        return f"{label} does not run: {ename}{at}: {message[:200]}; nothing it defines exists"
    m = _CELL_LINE.search(_ANSI.sub("", "\n".join(map(str, error.get("traceback", [])))))
    at = f" at line {m.group(1)}" if m else ""
    return f"{label} stopped{at} with {_one_line(error)}, before it defined `{name}`"


def _one_line(error: dict) -> str:
    return " ".join(f"{error.get('ename', 'Error')}: {error.get('evalue', '')}".split())[:200]
