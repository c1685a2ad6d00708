"""grader.classreport: the class's figures from saved results: score distribution, pass rate of every hidden test and
exercise, and how often each known mistake was made; an inert, escaped page and a CSV."""

from __future__ import annotations

import csv
import io
import json

from grader import classreport
from grader.pipeline import Workspace


def _cell(grade_id, score, points, passed, mistakes=None):
    return {"notebook": "nb", "grade_id": grade_id, "score": score, "points": points, "reasons": [],
            "passed": passed, "mistakes": mistakes or {}}


def _results():
    mse, var = "regression.mse", "stats.variance"
    n_minus_1 = "you divided by N-1; the variance of the data divides by N."
    return [
        {"student": "alice", "assignment": "a1", "status": "graded", "score": 4, "max_score": 4,
         "cells": [_cell("test_mse", 2, 2, {mse: True}), _cell("test_var", 2, 2, {var: True})]},
        {"student": "bob", "assignment": "a1", "status": "graded", "score": 2, "max_score": 4,
         "cells": [_cell("test_mse", 2, 2, {mse: True}), _cell("test_var", 0, 2, {var: False}, {var: n_minus_1})]},
        {"student": "carol", "assignment": "a1", "status": "timed out", "score": 0, "max_score": 4,
         "cells": [_cell("test_mse", 0, 2, {mse: False}), _cell("test_var", 0, 2, {var: False}, {var: n_minus_1})]},
        {"student": "dave", "assignment": "a1", "status": "graded", "score": 2, "max_score": 4,
         "cells": [_cell("test_mse", 0, 2, {mse: False}), _cell("test_var", 2, 2, {var: True})]},
        {"student": "<script>", "assignment": "", "status": "refused", "score": 0, "max_score": 0, "cells": [],
         "reason": "odd"},
    ]


def test_the_figures_of_the_class():
    s = classreport.summarize(_results())
    assert s["statuses"] == {"graded": 3, "timed out": 1, "refused": 1}
    a = s["assignments"]["a1"]
    assert a["submissions"] == 4 and a["scores"] == [1.0, 0.5, 0.0, 0.5]
    assert a["tests"] == {"nb/test_mse": (4, 0.5), "nb/test_var": (4, 0.5)}
    assert a["exercises"]["stats.variance"] == (4, 0.5)
    assert a["mistakes"]["stats.variance"] == [("you divided by N-1; the variance of the data divides by N.", 2, 0.5)]


def test_the_csv_says_how_often_each_mistake_was_made():
    rows = list(csv.DictReader(io.StringIO(classreport.to_csv(classreport.summarize(_results())))))
    mistake = [r for r in rows if r["kind"] == "mistake"]
    assert mistake == [{"kind": "mistake", "assignment": "a1", "name": "stats.variance", "submissions": "2",
                        "rate": "0.500", "detail": "you divided by N-1; the variance of the data divides by N."}]
    assert {r["name"]: r["rate"] for r in rows if r["kind"] == "hidden test"} == {"nb/test_mse": "0.500",
                                                                                "nb/test_var": "0.500"}


def test_the_page_is_inert_and_escaped(tmp_path):
    ws = Workspace(tmp_path)
    for r in _results():
        folder = tmp_path / "runs" / (r["student"] if r["assignment"] else ".refused") / (r["assignment"] or "x")
        folder.mkdir(parents=True)
        (folder / "result.json").write_text(json.dumps(r))
    paths = classreport.write(ws)
    page = paths["html"].read_text()
    assert "<script" not in page.replace("&lt;script&gt;", "")
    assert "50 % (2 of 4)" in page and "divided by N-1" in page
    assert page.count("data:image/png;base64,") == 2       # the scores and the exercises of a1
    assert "default-src 'none'" in page
    assert paths["csv"].exists()
