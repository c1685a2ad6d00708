"""grader.feedback: pages a student can read (a summary at the top, verdicts that say which cell did not run,
formulas as MathML, tracebacks without library frames) and that still run and load nothing.

The first part needs no kernel; the last grades two broken submissions of 01 through the real CLI (slow)."""

from __future__ import annotations

import copy
import csv
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import nbformat
import pytest
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import ClearHiddenTests, GetGrades

from grader import feedback
from grader.hidden import graded_test_cells

REPO = Path(__file__).resolve().parents[2]
AID = "01_regression"
SOLUTION = REPO / "solutions" / AID / f"{AID}.ipynb"
STUDENT = REPO / "course" / AID / f"{AID}.ipynb"


class Elements(HTMLParser):
    """Every element of a page with its attributes, and its text, as a browser's tokenizer sees them."""

    def __init__(self, page: str):
        super().__init__()
        self.tags: list[tuple[str, dict]] = []
        self.words: list[str] = []
        self.feed(page)

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.words.append(data)

    def names(self) -> list[str]:
        return [t for t, _ in self.tags]


def _page(body: str) -> str:
    return feedback.sanitize(f"<!DOCTYPE html><html><head><title>t</title></head><body>{body}</body></html>")


# -- MathML ------------------------------------------------------------------------------------------

def test_tex_becomes_mathml_and_what_does_not_convert_stays_tex():
    frac = feedback.tex_to_mathml(r"\frac{1}{n}\sum_{i=1}^n x_i^2", display=True)
    assert frac.startswith('<math display="block">') and "<mfrac><mrow><mn>1</mn></mrow>" in frac
    assert "<munderover><mo>∑</mo>" in frac, "character references are written as the characters"
    assert feedback.tex_to_mathml(r"\frac{") is None and feedback.tex_to_mathml("  ") is None
    assert feedback.tex_to_mathml("{" * 3000 + "x" + "}" * 3000) is None   # too long: the source
    # latex2mathml's own serializer would hand back <script> here: the text is escaped
    text = feedback.tex_to_mathml(r"\text{</mtext><script>alert(1)</script>}")
    assert "<script" not in text and "&lt;script&gt;" in text
    assert "href" not in feedback.tex_to_mathml(r"\href{javascript:alert(1)}{x}")


def test_markdown_formulas_render_as_mathml_and_broken_tex_as_its_source():
    exporter = feedback.FeedbackExporter()
    context = {"cell": {}, "resources": {}}
    html = exporter.markdown2html(context, "Fit $\\hat y = X\\theta$ by\n\n$$\\theta = (X^\\top X)^{-1}X^\\top y$$\n\n"
                                           "\\begin{align} a &= b \\\\ c &= d \\end{align}\n\nand $\\frac{$ stays.")
    found = Elements(html)
    assert found.names().count("math") == 3
    assert ("math", {"display": "block"}) in found.tags and "mtable" in found.names()
    assert "$\\frac{$" in html, "TeX that does not convert keeps its source"
    again = exporter.markdown2html(context, "![x](attachment:missing.png) and $x$")   # a missing attachment
    assert "<math" in again


def test_the_sanitizer_keeps_presentational_mathml():
    formula = feedback.tex_to_mathml(r"\sqrt{x^2 + \lVert w \rVert_2^2} \leq \frac{a}{b}", display=True)
    page = _page(f"<p>{formula}</p>")
    assert formula in page
    assert {"math", "msqrt", "msup", "mfrac", "mo"} <= set(Elements(page).names())


HOSTILE_MATH = [
    '<math><maction actiontype="statusline"><mi>x</mi><mtext>PWNED</mtext></maction></math>',
    '<math href="javascript:alert(1)"><mi xlink:href="javascript:alert(2)">y</mi></math>',
    '<math><mrow><head><style><img src=x onerror=alert(3)></style></head></mrow></math>',
    '<math><mi><style><img src=x onerror=alert(4)></style></mi></math>',
    '<math><annotation-xml encoding="text/html"><img src=x onerror=alert(5)></annotation-xml></math>',
    '<math><mglyph src="https://evil.example/g.png"/><mtext><script>alert(6)</script></mtext></math>',
    '<math><mi onclick="alert(7)" mathcolor="red" style="background:url(https://evil.example/s)">z</mi></math>',
    '<math><mtext><table><tr><td><img src=x onerror=alert(8)></td></tr></table></mtext></math>',
    '<math><semantics><annotation encoding="javascript:alert(9)">t</annotation></semantics></math>',
    '<math><svg><script>alert(10)</script></svg><mi>v</mi><![CDATA[<img src=x onerror=alert(11)>]]></math>',
]


@pytest.mark.parametrize("snippet", HOSTILE_MATH)
def test_a_students_raw_math_with_anything_unsafe_is_neutralised(snippet):
    page = _page(f"<p>before {snippet} after</p><div class='next'>the rest of the page</div>")
    found = Elements(page)
    for tag, attrs in found.tags:
        assert tag in feedback.ALLOWED | feedback.MATH_ELEMENTS, tag
        for name, value in attrs.items():
            assert not name.startswith("on") and "href" not in name, (tag, name)
            assert "javascript" not in (value or "") and "evil.example" not in (value or ""), (tag, name, value)
    assert "actiontype" not in page and "maction" not in page and "annotation-xml" not in page
    assert "<script" not in page and "onerror" not in page and "alert(" not in page
    # a formula never swallows the page after it, and nothing but MathML is written inside one
    assert ("div", {"class": "next"}) in found.tags and "the rest of the page" in "".join(found.words)
    inside = re.findall(r"<math[^>]*>(.*?)</math>", page, re.DOTALL)
    for body in inside:
        assert set(re.findall(r"<(\w+)", body)) <= feedback.MATH_ELEMENTS, body


def test_an_unclosed_formula_is_closed_before_the_next_html_element():
    page = _page("<p><math><mi>x</mi><mrow><mn>1</p><h2>next</h2><mi>out</mi>")
    assert "<p><math><mi>x</mi><mrow><mn>1</mn></mrow></math></p><h2>next</h2>out" in page


def test_a_second_head_cannot_bring_a_style_sheet_into_the_body():
    page = _page("<head><style>body { display: none }</style></head><p>text</p>")
    assert "display: none" not in page and page.count("<head>") == 1


def test_images_without_alt_text_get_one():
    page = _page('<img src="data:image/png;base64,AAAA"><img src="data:image/png;base64,AAAA" alt="loss curve">')
    assert [a.get("alt") for t, a in Elements(page).tags if t == "img"] == [feedback.NO_ALT, "loss curve"]


def test_the_exporter_renders_in_one_pass_and_renders_a_shared_cell_once(monkeypatch):
    """The feedback step's cost: no BeautifulSoup pass over the finished page, and the cells every submission
    shares (the instructor's code and text) highlighted and rendered once per process."""
    import nbconvert.exporters.html as nbconvert_html
    from nbconvert.filters.highlight import Highlight2HTML

    def no_second_parse(*args, **kwargs):
        raise AssertionError("the page was parsed again")

    calls = []
    original = Highlight2HTML.__call__
    monkeypatch.setattr(nbconvert_html, "BeautifulSoup", no_second_parse)
    monkeypatch.setattr(Highlight2HTML, "__call__", lambda self, *a, **k: calls.append(a[0]) or original(self, *a, **k))
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("Minimise $J(\\theta)$"),
                nbformat.v4.new_code_cell("shared_instructor_code = 1  # 7f3a"),
                nbformat.v4.new_code_cell("student = 2")]
    first, _ = feedback.FeedbackExporter().from_notebook_node(nb)
    nb.cells[2].source = "student = 3"
    second, _ = feedback.FeedbackExporter().from_notebook_node(nb)
    assert calls.count("shared_instructor_code = 1  # 7f3a") == 1 and calls.count("student = 3") == 1
    assert "<math" in first and "<math" in second and "student</span>" in second


# -- tracebacks -------------------------------------------------------------------------------------------

def test_library_frames_are_trimmed_from_a_students_traceback():
    frames = ["\x1b[31m----\x1b[39m", "\x1b[31mLinAlgError\x1b[39m   Traceback (most recent call last)",
              "\x1b[36mCell\x1b[39m \x1b[32mIn[5]\x1b[39m\x1b[32m, line 14\x1b[39m\n---> 14 check = fit(X, y)\n",
              "Cell In[5], line 11, in fit(X, y)\n---> 11     return np.linalg.solve(X.T @ X, X.T @ y)\n",
              "File \x1b[32m/venv/lib/python3.11/site-packages/numpy/linalg/_linalg.py:451\x1b[39m, in solve(a, b)\n",
              "File /venv/lib/python3.11/site-packages/numpy/linalg/_linalg.py:144, in _raise(err, flag)\n",
              "File /submission/helpers.py:3, in mine()\n", "File /usr/lib/python3.11/json/decoder.py:9, in x()\n",
              "\x1b[31mLinAlgError\x1b[39m: Singular matrix"]
    trimmed = feedback.trim_traceback(frames)
    assert trimmed == [*frames[:4], "[2 frames inside numpy left out]\n", frames[6],
                       "[1 frame inside json left out]\n", frames[-1]]
    assert feedback.trim_traceback(frames[-1:]) == frames[-1:]   # a test cell's one-line error stays


def test_feedback_notes_show_the_final_verdict_and_trim_tracebacks():
    nb = nbformat.v4.new_notebook()
    test = nbformat.v4.new_code_cell("hidden_test('regression.mse', mse)")
    test.metadata["nbgrader"] = {"grade_id": "test_mse", "grade": True}
    fake = nbformat.v4.new_output("display_data", data={"text/plain": "Grader: 9 / 2 points (printed by the kernel)"})
    test.outputs = [fake, nbformat.v4.new_output("display_data", data={"text/plain": "Grader: 0 / 2 points."})]
    forged = copy.deepcopy(test)
    forged.metadata["nbgrader"]["grade_id"] = "test_other"
    forged.outputs = [nbformat.v4.new_output("stream", name="stdout", text="Grader: 2 / 2")]
    nb.cells = [test, forged]
    notes = feedback.FeedbackNotes(verdicts={"nb/test_mse": "Grader: 0 / 2 points.\n  - why", "nb/test_other": "x"})
    out, _ = notes.preprocess(nb, {"nbgrader": {"notebook": "nb"}})
    assert out.cells[0].outputs[-1]["data"]["text/plain"] == "Grader: 0 / 2 points.\n  - why"
    assert out.cells[0].outputs[0]["data"]["text/plain"].startswith("Grader: 9"), "only the grader's own output"
    assert out.cells[1].outputs[0]["text"] == "Grader: 2 / 2", "a stream is never taken for a verdict"


def test_the_exporter_configuration_keeps_nbgraders_steps_in_order():
    c = feedback.exporter_config([GetGrades, ClearHiddenTests, CSSHTMLHeaderPreprocessor], {"nb/t": "v"})
    assert c.GenerateFeedback.preprocessors == [GetGrades, ClearHiddenTests, feedback.FeedbackNotes,
                                                CSSHTMLHeaderPreprocessor]
    assert c.GenerateFeedback.exporter_class is feedback.FeedbackExporter and c.FeedbackNotes.verdicts == {"nb/t": "v"}
    assert feedback.FeedbackNotes in feedback.exporter_config(None, {}).GenerateFeedback.preprocessors


# -- the summary ------------------------------------------------------------------------------------------

def test_the_summary_names_every_exercise_and_every_written_answer_in_order():
    nb = nbformat.read(str(SOLUTION), as_version=4)
    graded = graded_test_cells(SOLUTION)
    first, second = list(graded)[:2]
    cells = [{"notebook": AID, "grade_id": first, "score": 2.0, "points": 2.0,
              "reasons": ["regression.mse: passed all 7 hidden cases"]},
             {"notebook": AID, "grade_id": second, "score": 0.0, "points": 2.0,
              "reasons": ["regression.x: cell `x` (the answer cell above) does not run: SyntaxError at line 3"]}]
    rows = feedback.summary_rows(nb, cells)
    by_hand = [c.metadata.nbgrader["grade_id"] for c in nb.cells
               if c.metadata.get("nbgrader", {}).get("grade") and c.metadata.nbgrader.get("solution")]
    assert [r["grade_id"] for r in rows if r["score"] is not None] == list(graded)
    assert [r["grade_id"] for r in rows if r["score"] is None] == by_hand and by_hand
    assert all(r["verdict"] == "graded by hand" for r in rows if r["score"] is None)
    assert rows[0]["title"].startswith("Exercise 1") and rows[0]["verdict"] == "passed all 7 hidden cases"
    assert rows[1]["verdict"].startswith("cell `x` (the answer cell above) does not run")
    assert all(r["verdict"] == "not graded" for r in rows[2:] if r["score"] is not None)
    page = _page(feedback.summary_html(rows))
    assert f'href="#{second}"' in page and "<code>x</code> (the answer cell above)" in page
    assert "0 / 2" in page and "– / 2" in page


# -- a notebook that cannot be read -------------------------------------------------------------------------

@pytest.mark.parametrize(("content", "says"), [
    ('{\n "cells": [\n  {"a": 1}\n  {"b": 2}\n ]\n}', "it is not valid JSON: Expecting ',' delimiter at line 4, "
                                                     "column 3; so it was not graded and every exercise in it scores "
                                                     "0: open it in a text editor at line 4, column 3"),
    ("", "the file is empty"), ('{"cells": 3}', "it is JSON but not a notebook"),
    ('{"nbformat": 4, "nbformat_minor": 5, "cells": []}', "it is JSON but not a notebook: "),
])
def test_an_unreadable_notebook_says_where_and_why(content, says):
    from grader.pipeline import unreadable

    with pytest.raises(Exception) as info:
        nb = nbformat.reads(content, as_version=4)
        nbformat.validate(nb)
    reason = unreadable("01_regression.ipynb", info.value)
    assert reason.startswith("01_regression.ipynb is not a readable notebook: ") and says in reason, reason


# -- end to end: two broken submissions through the real CLI -----------------------------------------------------

def _cell(nb, grade_id: str):
    return next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id)


def _broken() -> nbformat.NotebookNode:
    """The solution with the slow cells dropped and mistakes a student makes: cells that do not run."""
    nb = nbformat.read(str(SOLUTION), as_version=4)
    nb.cells = [c for c in nb.cells if not (c.cell_type == "code" and not c.metadata.get("nbgrader") and (
        "show(" in c.source or "train_logistic" in c.source or "theta_digits" in c.source))]
    _cell(nb, "mse").source = "def mse(y_hat, y):\n    d = y_hat - y\n      return np.mean(d ** 2)\n"
    _cell(nb, "normal_equations").source = ("def normal_equations(X, y):\n    A = X.T @ X\n"
                                            "    return np.linalg.solve(A, X.T @ y\n")
    _cell(nb, "mse_gradient").source = "scale = undefined_helper()\n" + _cell(nb, "mse_gradient").source
    _cell(nb, "sigmoid").source = _cell(nbformat.read(str(STUDENT), as_version=4), "sigmoid").source
    _cell(nb, "ridge_regression").source += "\n\ncheck = np.linalg.solve(np.zeros((2, 2)), np.ones(2))\n"
    _cell(nb, "q_learning_rate").source = ("The limit is $$\\eta < \\frac{2}{\\lambda_{\\max}}$$ and\n\n"
                                           "\\begin{align} a &= b \\\\ c &= d \\end{align}")
    _cell(nb, "q_mle").source = ("Look: " + "".join(HOSTILE_MATH[:2]) + " and $x^2$")
    return nb


@pytest.fixture(scope="module")
def graded(tmp_path_factory) -> dict:
    from grader.sandbox import bwrap_available

    root = tmp_path_factory.mktemp("feedback")
    broken = root / "subs" / "broken" / AID
    broken.mkdir(parents=True)
    nb = _broken()
    nbformat.write(nb, str(broken / f"{AID}.ipynb"))
    invalid = root / "subs" / "invalid" / AID
    invalid.mkdir(parents=True)
    lines = nbformat.writes(nbformat.read(str(STUDENT), as_version=4)).splitlines()
    cut = next(i for i, line in enumerate(lines) if i > 3 and line.endswith(","))
    lines[cut] = lines[cut].rstrip(",")      # a comma lost in an editor
    (invalid / f"{AID}.ipynb").write_text("\n".join(lines), encoding="utf-8")
    try:
        json.loads("\n".join(lines))
    except json.JSONDecodeError as exc:
        where = f"at line {exc.lineno}, column {exc.colno}"
    out = root / "out"
    proc = subprocess.run([sys.executable, "-m", "grader", "grade", str(root / "subs"), "--out", str(out),
                           "--jobs", "2", "--no-progress", *([] if bwrap_available() else ["--sandbox", "none"])],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 1, proc.stdout + proc.stderr   # one submission could not be graded
    results = {r["student"]: r for r in json.loads((out / "results.json").read_text())}
    rows = list(csv.DictReader(open(out / "results.csv", encoding="utf-8")))
    pages = {s: (out / "feedback" / s / AID / f"{AID}.html").read_text(encoding="utf-8") for s in results}
    return {"results": results, "rows": rows, "pages": pages, "submitted": nb, "where": where}


def _reasons(graded: dict, student: str) -> dict[str, str]:
    return {c["grade_id"]: " ".join(c["reasons"]) for c in graded["results"][student]["cells"]}


@pytest.mark.slow
def test_a_cell_that_does_not_run_is_named_in_every_verdict_it_cost(graded):
    reasons = _reasons(graded, "broken")
    expected = {
        "test_mse": "cell `mse` (the answer cell above) does not run: IndentationError at line 3: unexpected indent; "
                    "nothing it defines exists, so this test could not run",
        "test_normal_equations": "cell `normal_equations` (the answer cell above) does not run: SyntaxError at line "
                                 "3: ",
        "test_mse_gradient": "cell `mse_gradient` (the answer cell above) stopped at line 1 with NameError: name "
                             "'undefined_helper' is not defined, before it defined `mse_gradient`",
    }
    for grade_id, words in expected.items():
        assert words in reasons[grade_id], reasons[grade_id]
        assert "no results were recorded" not in reasons[grade_id]
    # truthful: a test cell that lost its points for its own reasons names no other cell
    assert "not implemented yet" in reasons["test_sigmoid"] and "cell `" not in reasons["test_sigmoid"]
    assert "does not run" not in reasons["test_ridge_regression"], "that cell ran up to its definition"
    page = graded["pages"]["broken"]
    for words in expected.values():   # under the test cell, and in the summary (names as code)
        assert words in page, words
        assert re.sub(r"`([^`]+)`", r"<code>\1</code>", words) in page, words


@pytest.mark.slow
def test_the_summary_at_the_top_lists_every_exercise_and_written_answer(graded):
    page = graded["pages"]["broken"]
    summary = page[page.index('<div id="summary">'):page.index("</table>")]
    assert page.index('<div id="summary">') < page.index("cell border-box-sizing"), "the summary comes first"
    results = {c["grade_id"]: c for c in graded["results"]["broken"]["cells"]}
    titles = feedback.cell_titles(graded["submitted"])
    for grade_id, cell in results.items():
        row = re.search(rf'href="#{grade_id}"[^>]*>([^<]*)</a> <code>{grade_id}</code></td>'
                        rf'<td class="points">([^<]*)</td><td>(.*?)</td></tr>', summary)
        assert row, f"{grade_id} is not in the summary"
        assert row.group(1) == titles[grade_id] and row.group(2) == f"{cell['score']:g} / {cell['points']:g}"
        assert row.group(3), grade_id
    by_hand = [c for c in graded["submitted"].cells if c.metadata.get("nbgrader", {}).get("grade")
               and c.metadata.nbgrader.get("solution")]
    assert summary.count("graded by hand") == len(by_hand) > 0 and "Question 1 (written)" in summary


@pytest.mark.slow
def test_formulas_are_mathml_in_the_page_and_a_hostile_one_is_neutralised(graded):
    page = graded["pages"]["broken"]
    inline = [t for c in graded["submitted"].cells if c.cell_type == "markdown"
              for t in re.findall(r"(?<![$\\])\$([^$]+?)(?<![$\\])\$", c.source)]
    converted = [t for t in inline if feedback.tex_to_mathml(t)]
    assert len(converted) > 50
    missing = [t for t in converted if feedback.tex_to_mathml(t) not in page]
    assert not missing, missing[:5]
    assert '<math display="block">' in page and "<mtable" in page   # $$...$$ and align in the written answer
    assert "maction" not in page and "actiontype" not in page and "javascript:alert" not in page
    assert "<script" not in page and "mathjax" not in page.lower() and "Content-Security-Policy" in page


@pytest.mark.slow
def test_library_frames_are_left_out_of_the_page(graded):
    page = graded["pages"]["broken"]
    assert "[2 frames inside numpy left out]" in page and "LinAlgError" in page
    assert "site-packages/numpy" not in page


@pytest.mark.slow
def test_an_unreadable_notebook_lists_every_exercise_at_zero_with_the_parse_error(graded):
    result = graded["results"]["invalid"]
    assert result["status"] == "invalid notebook"
    where = graded["where"]
    assert re.search(rf"not a readable notebook: it is not valid JSON: \w.* {where};", result["reason"]), result
    rows = [r for r in graded["rows"] if r["student_id"] == "invalid"]
    assert [r["cell"] for r in rows] == list(graded_test_cells(SOLUTION))
    assert all(r["cell_score"] == "0.0" and where in r["reason"] for r in rows)
    page = graded["pages"]["invalid"]
    assert "could not be graded" in page and page.count(where) == 2   # once, with what to do
    assert all(f"<code>{g}</code></td><td class=\"points\">0 / " in page for g in graded_test_cells(SOLUTION))
    by_hand = [c for c in graded["submitted"].cells if c.metadata.get("nbgrader", {}).get("grade")
               and c.metadata.nbgrader.get("solution")]
    assert page.count("not graded (the reason is above)") == len(rows) + len(by_hand)   # written answers too
