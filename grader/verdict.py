"""Trusted verdicts: the student's results on hidden inputs against the reference.

Runs in the grader's own process. The kernel only ever sees the cases (as
data) and hands back results (as data); it cannot reach the comparison.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass, field
from pathlib import Path

from dlcourse import exercises
from dlcourse.checks import protocol

MAX_OUTPUT_BYTES = 50_000_000  # one exercise's results file


@dataclass
class CellVerdict:
    grade_id: str
    points: float
    score: float
    reasons: list[str] = field(default_factory=list)

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


def write_inputs(directory: Path, cases: dict[str, list[dict]]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / protocol.OUTPUTS).mkdir(exist_ok=True)
    for stale in [*(directory / protocol.OUTPUTS).glob("*.json"), *directory.glob("run-*.json")]:
        stale.unlink()
    path = directory / protocol.INPUTS
    data = {"exercises": {n: list(cs) for n, cs in cases.items()}}
    path.write_text(json.dumps(data, allow_nan=False))
    return path


def read_results(directory: Path, name: str) -> tuple[list | None, str]:
    """The kernel's results for one exercise, decoded defensively; (None, reason) if unusable."""
    path = directory / protocol.OUTPUTS / f"{protocol.check_name(name)}.json"
    if not path.is_file():
        return None, "no results were recorded (the test cell did not reach hidden_test, or it was removed)"
    if path.stat().st_size > MAX_OUTPUT_BYTES:
        return None, "the recorded results are too large"
    try:
        data = protocol.decode(json.loads(path.read_text()))
    except (ValueError, protocol.ProtocolError, RecursionError) as exc:
        return None, f"the recorded results are malformed ({str(exc)[:200]})"
    if not isinstance(data, dict) or data.get("exercise") != name or not isinstance(data.get("results"), list):
        return None, "the recorded results are malformed"
    return data["results"], ""


def judge_exercise(name: str, cases: list[dict], directory: Path) -> tuple[bool, str]:
    results, why = read_results(directory, name)
    if results is None:
        return False, f"{name}: {why}"
    if len(results) != len(cases):
        return False, f"{name}: expected results for {len(cases)} cases, found {len(results)}"
    exercise = exercises.get(name)
    for encoded, result in zip(cases, results, strict=True):
        try:
            verdict = exercise.judge(protocol.decode(encoded), result)
        except Exception as exc:  # malformed data must never crash the grader
            return False, f"{name}: could not judge a result ({type(exc).__name__})"
        if not verdict.ok:
            return False, f"{name}: {verdict.message}"
    return True, f"{name}: passed all {len(cases)} hidden cases"


def judge_cell(grade_id: str, points: float, names: list[str], cases: dict[str, list[dict]],
               directory: Path) -> CellVerdict:
    """Points in proportion to the exercises of the cell that pass every hidden case."""
    if not names:
        return CellVerdict(grade_id, points, 0.0, ["this test cell has no hidden_test: it cannot be graded safely"])
    reasons, passed = [], 0
    for name in names:
        ok, why = judge_exercise(name, cases[name], directory)
        passed += ok
        reasons.append(why)
    return CellVerdict(grade_id, points, round(points * passed / len(names), 6), reasons)
