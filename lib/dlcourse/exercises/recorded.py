"""Visible tests without the reference: cases and expected outputs recorded when the hand-out is built.

The student hand-out (``python -m grader handout``) leaves out ``dlcourse.reference`` and the exercise
descriptions (``dlcourse.exercises.<topic>``): they compute the answers. A visible test
(``graded.check_against_reference``) then judges the student's function against a record made at build
time from the description: the seeded visible cases, the reference's outputs on them, the outputs of the
known mistakes (for the hints), and the tolerances. For an exercise whose outputs are random samples
(judged by a statistical ``check``), the record holds the moments of a reference sample instead, and the
student's sample must match them within a margin that grows as the sample shrinks.

The hidden cases are never recorded: they are drawn per student at grading time.
Records live in ``dlcourse/exercises/visible/<topic>.json`` inside the hand-out, as protocol data.
"""

from __future__ import annotations

import copy
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from dlcourse.checks import protocol
from dlcourse.checks.compare import Comparison, compare_outputs, flatten_outputs
from dlcourse.exercises.core import Exercise, float64_outputs, judge_call, matches_mistake

__all__ = ["RecordedExercise", "load", "record", "write_records"]

VISIBLE = Path(__file__).with_name("visible")
VISIBLE_SEED = 0  # the seed check_against_reference uses by default


def record(exercise: Exercise, seed: int = VISIBLE_SEED) -> dict[str, Any]:
    """What the hand-out needs to judge ``exercise``'s visible cases for ``seed`` (plain data)."""
    data = exercise.case_data(seed)
    cases = [protocol.decode(protocol.encode(c)) for c in data]
    entry: dict[str, Any] = {
        "name": exercise.name, "seed": seed, "mode": exercise.handout_mode, "names": list(exercise.names or []),
        "rtol": exercise.rtol, "atol": exercise.atol, "may_change": list(exercise.may_change),
        "float64": exercise.float64, "cases": data,
    }
    if entry["mode"] == "moments":
        entry["moments"] = [[_moments(o) for o in exercise.expected(c)] for c in cases]
    elif entry["mode"] == "outputs":
        entry["expected"] = [exercise.expected(c) for c in cases]
        entry["mistakes"] = [{"hint": m.hint, "outputs": [_outputs(m.fn, c) for c in cases]} for m in exercise.mistakes]
    return entry


def _outputs(fn: Any, case: dict[str, Any]) -> list[np.ndarray] | None:
    """A known mistake's outputs on one case (None where it does not apply); its overflow warnings are expected."""
    try:
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return flatten_outputs(fn(*copy.deepcopy(case["args"]), **copy.deepcopy(case.get("kwargs", {}))))
    except Exception:
        return None


def _moments(sample: np.ndarray) -> list[float]:
    s = np.asarray(sample, dtype=np.float64)
    return [float(s.size), float(s.mean()), float(s.std()), float(s.min()), float(s.max()), *map(float, s.shape)]


def write_records(exercises: dict[str, Exercise], folder: Path = VISIBLE) -> list[Path]:
    """One file per topic with the records of its exercises."""
    folder.mkdir(parents=True, exist_ok=True)
    by_topic: dict[str, dict[str, Any]] = {}
    for name, ex in sorted(exercises.items()):
        by_topic.setdefault(name.split(".", 1)[0], {})[name] = record(ex)
    paths = []
    for topic, records in by_topic.items():
        path = folder / f"{topic}.json"
        path.write_text(json.dumps(protocol.encode(records), allow_nan=False))
        paths.append(path)
    return paths


class RecordedExercise:
    """Judges a student's results on the recorded visible cases, as :class:`Exercise` judges live ones."""

    def __init__(self, entry: dict[str, Any]) -> None:
        self.name = entry["name"]
        self.mode = entry["mode"]
        self.seed = entry["seed"]
        self.names = tuple(entry["names"]) or None
        self.rtol, self.atol = entry["rtol"], entry["atol"]
        self.may_change = tuple(entry["may_change"])
        self.float64 = bool(entry.get("float64", False))
        self._cases = [protocol.encode(c) for c in entry["cases"]]  # kept encoded: decoded afresh for each use
        self._expected = entry.get("expected")
        self._moments = entry.get("moments")
        self._mistakes = entry.get("mistakes", [])

    def seeded_cases(self, seed: int) -> list[dict[str, Any]]:
        if seed != self.seed:
            raise KeyError(f"{self.name}: the hand-out records the visible cases of seed {self.seed} only")
        cases = [protocol.decode(c) for c in self._cases]
        return [{**c, "visible_index": i} for i, c in enumerate(cases)]

    def _index(self, case: dict[str, Any]) -> int:
        return int(case["visible_index"])

    def judge(self, case: dict[str, Any], result: Any) -> Comparison:
        label = case.get("label") or "a case"
        verdict = judge_call(self, label, result)
        if verdict is not None:
            return verdict
        outputs, i = result["outputs"], self._index(case)
        if self.float64 and not (precision := float64_outputs(outputs, self.names)).ok:
            return Comparison(False, f"{label}: {precision.message}")
        if self.mode == "none":
            return Comparison(True)  # left to the grader: its check may accept other answers than the reference's
        if self._moments is not None:
            return _compare_moments(label, outputs, self._moments[i], self.names)
        expected = self._expected[i]
        verdict = compare_outputs(outputs, expected, names=self.names, rtol=self.rtol, atol=self.atol)
        return verdict if verdict.ok else Comparison(False, f"{label}: {verdict.message}")

    def diagnose(self, case: dict[str, Any], result: Any) -> str:
        outputs = result.get("outputs") if isinstance(result, dict) else None
        if outputs is None:
            return ""
        i = self._index(case)
        right = self._expected[i] if self._expected is not None else None

        def is_right(candidate: list[np.ndarray]) -> bool:  # within this exercise's own tolerances
            return right is not None and compare_outputs(candidate, right, rtol=self.rtol, atol=self.atol).ok

        if is_right(outputs):
            return ""  # right on this case: wrong for another reason, which judge() names
        for mistake in self._mistakes:
            wrong = mistake["outputs"][i]
            if wrong is None or is_right(wrong):
                continue  # does not apply here, or gives the right answer here
            if matches_mistake(outputs, wrong):
                return f" Likely mistake: {mistake['hint']}"
        return ""


def _compare_moments(label: str, outputs: list[np.ndarray], moments: list[list[float]],
                     names: tuple[str, ...] | None) -> Comparison:
    """A random sample against the recorded moments of a reference sample drawn the same way."""
    if len(outputs) != len(moments):
        return Comparison(False, f"{label}: expected {len(moments)} output(s), your function returned {len(outputs)}")
    for k, (out, m) in enumerate(zip(outputs, moments, strict=True)):
        name = names[k] if names and k < len(names) else "result"
        size, mean, std, lo, hi, *shape = m
        if tuple(out.shape) != tuple(int(d) for d in shape):
            return Comparison(False, f"{label}: {name} has shape {out.shape}, expected {tuple(int(d) for d in shape)}")
        s = out.astype(np.float64)
        margin = 6 / np.sqrt(max(size, 1.0))  # six standard errors, relative: a correct sample never fails
        if abs(s.mean() - mean) > margin * max(std, 1e-12) + 1e-12:
            return Comparison(False, f"{label}: {name} has mean {s.mean():.4g}, expected about {mean:.4g}")
        if std > 0 and abs(s.std() / std - 1) > margin * 1.5:
            return Comparison(False, (f"{label}: {name} has standard deviation {s.std():.4g}, expected about "
                                      f"{std:.4g} (ratio {s.std() / std:.3f})"))
        spread = hi - lo
        if s.min() < lo - 0.5 * spread or s.max() > hi + 0.5 * spread:
            return Comparison(False, f"{label}: {name} has values in [{s.min():.4g}, {s.max():.4g}], "
                                     f"expected about [{lo:.4g}, {hi:.4g}]")
    return Comparison(True)


def load(name: str, folder: Path = VISIBLE) -> RecordedExercise:
    """The recorded exercise ``name`` (``topic.function``), or KeyError when the hand-out has none."""
    topic = name.split(".", 1)[0]
    path = folder / f"{topic}.json"
    if not path.is_file():
        raise KeyError(f"no recorded visible cases for {name!r} (this is neither a full checkout nor a hand-out)")
    records = json.loads(path.read_text())
    if name not in records:
        raise KeyError(f"no recorded visible cases for {name!r}; recorded: {sorted(records)}")
    raw = dict(records[name])
    cases = raw.pop("cases")  # stays encoded: random generators are made afresh for each use
    return RecordedExercise({**protocol.decode(raw), "cases": cases})
