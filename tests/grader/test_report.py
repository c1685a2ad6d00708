"""grader.report, grader.feedback and grader.text: what the grader writes, whatever a submission put in it."""

from __future__ import annotations

import csv
import json
from html.parser import HTMLParser

import pytest

from grader import feedback, report, text
from grader.pipeline import Submission, Workspace, save_result

NASTY = "lone \udcff surrogate, NUL \x00, bidi \u202e, newline\nend"


def test_clean_escapes_what_utf8_cannot_hold():
    out = text.clean(NASTY)
    out.encode("utf-8")
    assert "\\udcff" in out and "\\x00" in out and "\u202e" in out
    assert text.clean(b"\xff".decode("utf-8", "surrogateescape")) == "\\udcff"
    assert text.name("a\nb\udcfe.txt") == "a\\nb\\udcfe.txt"
    assert not text.is_utf8_name("x\udcff") and text.is_utf8_name("ünïcode")


def test_write_text_is_atomic_and_never_fails_on_text(tmp_path):
    path = tmp_path / "f.txt"
    text.write_text(path, NASTY)
    assert "\\udcff" in path.read_text(encoding="utf-8")
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]


def _saved(ws, student, assignment="01_regression", **kw) -> Submission:
    sub = Submission(student, assignment, ws.root / "x", **kw)
    save_result(ws, sub)
    return sub


def test_results_tables_hold_every_saved_submission_once_with_escaped_text(tmp_path):
    ws = Workspace(tmp_path)
    cell = {"notebook": "nb", "grade_id": "test_a", "score": 1.0, "points": 2.0, "reasons": [NASTY]}
    _saved(ws, "bob", status="graded", cells=[cell])
    _saved(ws, "alice", status="error", reason=NASTY)
    _saved(ws, "bob", status="graded", cells=[cell, {**cell, "grade_id": "test_b"}])   # regraded: replaces
    _saved(ws, "eve\udcff", "", status="error", reason="refused")                     # an id that is no folder
    results = report.saved_results(ws.root)
    assert [(r["student"], r["status"]) for r in results] == [
        ("alice", "error"), ("bob", "graded"), ("eve\\udcff", "error")]   # saved already escaped
    table = report.results_csv(results)
    table.encode("utf-8")
    rows = list(csv.DictReader(table.splitlines(keepends=True)))
    assert [(r["student_id"], r["cell"]) for r in rows] == [
        ("alice", ""), ("bob", "test_a"), ("bob", "test_b"), ("eve\\udcff", "")]
    assert "\\udcff" in rows[0]["reason"] and "\\x00" in rows[1]["reason"]


def test_export_survives_an_ascii_only_locale(tmp_path, monkeypatch):
    import locale

    monkeypatch.setattr(locale, "getpreferredencoding", lambda *a, **k: "ascii")
    ws = Workspace(tmp_path)
    _saved(ws, "alice", status="error", reason=NASTY + " é")
    paths = report.export(ws)
    assert "é" in paths["results"].read_text(encoding="utf-8")
    assert json.loads(paths["json"].read_text(encoding="utf-8"))[0]["reason"].endswith(" é")
    assert paths["grades"].exists()


# -- feedback pages ----------------------------------------------------------------

HOSTILE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>t</title>
<script src="https://cdn.example/mathjax.js"></script>
<style>body { color: black; } @import url(https://evil.example/x.css);
.a { background: url(https://evil.example/b.png) }</style><link rel="stylesheet" href="https://evil.example/s.css"></head><body>
<p>Answer: <b>bold</b> &amp; 2 &lt; 3</p>
<script>alert(1)</script><img src=x onerror=alert(2)><img src="https://evil.example/t.png">
<img src="data:image/png;base64,iVBORw0KGgo=" alt="plot">
<a href="javascript:alert(3)">click</a> <a href="https://docs.example/ok">docs</a>
<div style="background:url(https://evil.example/c.png)">styled</div><div style="color: red">red</div>
<iframe src="https://evil.example/frame"></iframe><svg onload="alert(4)"><script>alert(5)</script></svg>
<style>p { background: url(https://evil.example/d.png) }</style>
<meta http-equiv="refresh" content="0;url=https://evil.example/">
<object data="https://evil.example/o.swf"></object><form action="https://evil.example/f"><input value=x></form>
<p onclick="alert(6)" onmouseover=alert(7)>handlers</p><a href=" jav&#x09;ascript:alert(8)">tab</a>
<math><mtext><script>alert(9)</script></mtext></math><!--[if IE]><script>alert(10)</script><![endif]-->
<base href="https://evil.example/"><img srcset="https://evil.example/s.png 2x" src="data:image/png;base64,AA==">
</body></html>"""


class Audit(HTMLParser):
    """An independent look at a page: what could run or load."""

    def __init__(self):
        super().__init__()
        self.problems, self.text, self.csp = [], [], False

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "iframe", "object", "embed", "base", "link", "form", "svg"):
            self.problems.append(tag)
        for name, value in attrs:
            v = (value or "").lower()
            if name.startswith("on") or name in ("srcset", "action", "formaction"):
                self.problems.append(f"{tag}.{name}")
            if name in ("src", "href", "style", "content") and ("evil.example" in v or "javascript" in v):
                if not (tag == "meta" and name == "content" and "content-security-policy" in str(attrs).lower()):
                    self.problems.append(f"{tag}.{name}={v}")
            if tag == "meta" and name == "http-equiv" and v == "content-security-policy":
                self.csp = True
            if tag == "meta" and name == "http-equiv" and v == "refresh":
                self.problems.append("refresh")

    def handle_data(self, data):
        self.text.append(data)
        if "evil.example" in data and ("@import" in data or "url(" in data):
            self.problems.append(f"css: {data.strip()[:80]}")


def test_feedback_keeps_the_text_and_loses_everything_that_runs_or_loads():
    page = feedback.sanitize(HOSTILE)
    audit = Audit()
    audit.feed(page)
    assert audit.problems == [] and audit.csp
    words = "".join(audit.text)
    assert "Answer: bold & 2 < 3" in words and "styled" in words and "handlers" in words and "docs" in words
    assert 'href="https://docs.example/ok"' in page and 'style="color: red"' in page
    assert 'src="data:image/png;base64,iVBORw0KGgo="' in page
    assert "body { color: black; }" in page
    assert "alert" not in page


@pytest.mark.parametrize("snippet", [
    "<scr<script>ipt>alert(1)</script>", "<img/src/onerror=alert(1)>", "<a href='&#106;avascript:alert(1)'>x</a>",
    "<<script>script>alert(1)</script>", "<div><style>x{}</style><script>alert(1)</script></div>",
    "<noscript><p title='</noscript><img src=x onerror=alert(1)>'></noscript>",
])
def test_feedback_tricks(snippet):
    page = feedback.sanitize(f"<html><head></head><body>{snippet}</body></html>")
    audit = Audit()
    audit.feed(page)
    assert audit.problems == [], page
    assert "onerror" not in page and "<script" not in page


def test_feedback_outputs_and_verdicts_wrap_instead_of_scrolling():
    page = feedback.sanitize("<html><head><title>t</title></head><body><pre>" + "x" * 500 + "</pre></body></html>")
    assert feedback.READABLE in page and "white-space: pre-wrap" in page
    bare = feedback.sanitize("<pre>verdict</pre>")  # a page without a head gets it too
    assert feedback.READABLE in bare
