"""The class report: what the whole class got right and wrong, so the instructor knows what to re-teach.

It owns ``class_report.html`` and ``class_report.csv`` in the grading folder,
made from every submission's saved result (as grader/report.py's tables are):

* the statuses of the submissions (how many graded, timed out, ...);
* per assignment, the distribution of the scores (a histogram);
* per hidden test (graded test cell), its pass rate: the share of submissions
  that earned all of its points;
* per exercise, its pass rate (a bar chart per assignment);
* per exercise, how often each known mistake it diagnoses was made
  (``Exercise.diagnose``, through grader/verdict.py): "40 % of 25: divided by
  N-1 instead of N".

Every text is escaped; the plots are PNG images inside the page (no script,
nothing loaded from elsewhere), drawn with matplotlib's Agg backend.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter, defaultdict
from pathlib import Path

from grader import text
from grader.report import saved_results
from grader.settings import STATUSES

HTML_FILE = "class_report.html"
CSV_FILE = "class_report.csv"
CSV_COLUMNS = ["kind", "assignment", "name", "submissions", "rate", "detail"]


def summarize(results: list[dict]) -> dict:
    """The class report's figures, as plain data."""
    statuses = Counter(r.get("status", "") for r in results)
    by_assignment: dict[str, list[dict]] = defaultdict(list)
    for r in results:
        if r.get("assignment") and r.get("cells"):
            by_assignment[r["assignment"]].append(r)
    assignments = {}
    for aid, subs in sorted(by_assignment.items()):
        tests: dict[str, list[bool]] = defaultdict(list)
        exercises: dict[str, list[bool]] = defaultdict(list)
        mistakes: dict[str, Counter] = defaultdict(Counter)
        for r in subs:
            for c in r["cells"]:
                tests[f"{c['notebook']}/{c['grade_id']}"].append(c["score"] >= c["points"] > 0)
                for name, ok in (c.get("passed") or {}).items():
                    exercises[name].append(bool(ok))
                for name, hint in (c.get("mistakes") or {}).items():
                    mistakes[name][hint] += 1
        assignments[aid] = {
            "submissions": len(subs),
            "scores": [r["score"] / r["max_score"] if r.get("max_score") else 0.0 for r in subs],
            "max_score": max((r.get("max_score") or 0.0) for r in subs),
            "tests": {k: (len(v), sum(v) / len(v)) for k, v in sorted(tests.items())},
            "exercises": {k: (len(v), sum(v) / len(v)) for k, v in sorted(exercises.items())},
            "mistakes": {name: [(hint, n, n / len(exercises[name] or [0])) for hint, n in counter.most_common()]
                         for name, counter in sorted(mistakes.items())},
        }
    order = {s: i for i, s in enumerate(STATUSES)}
    ordered = dict(sorted(statuses.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))
    return {"statuses": ordered, "assignments": assignments}


def to_csv(summary: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(CSV_COLUMNS)
    total = sum(summary["statuses"].values())
    for status, n in summary["statuses"].items():
        w.writerow(["status", "", status, n, f"{n / total:.3f}" if total else "", ""])
    for aid, a in summary["assignments"].items():
        mean = sum(a["scores"]) / len(a["scores"])
        w.writerow(["assignment", aid, "mean score (share of the points)", a["submissions"], f"{mean:.3f}", ""])
        for name, (n, rate) in a["tests"].items():
            w.writerow(["hidden test", aid, name, n, f"{rate:.3f}", "share that earned every point"])
        for name, (n, rate) in a["exercises"].items():
            w.writerow(["exercise", aid, name, n, f"{rate:.3f}", "share that passed every hidden case"])
        for name, found in a["mistakes"].items():
            for hint, count, rate in found:
                w.writerow(["mistake", aid, name, count, f"{rate:.3f}", hint])
    return text.clean(buf.getvalue())


def _png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _plots(aid: str, a: dict) -> list[str]:
    import matplotlib

    matplotlib.use("Agg", force=True)
    from matplotlib.figure import Figure

    images = []
    fig = Figure(figsize=(5, 2.6))
    ax = fig.subplots()
    ax.hist([100 * s for s in a["scores"]], bins=[i * 10 for i in range(11)], color="#4878a8", edgecolor="white")
    ax.set(xlabel="score (% of the points)", ylabel="submissions", title=f"{aid}: scores")
    images.append(_png(fig))
    if a["exercises"]:
        names = list(a["exercises"])
        fig = Figure(figsize=(5, 0.35 * len(names) + 1.2))
        ax = fig.subplots()
        ax.barh(range(len(names)), [100 * a["exercises"][n][1] for n in names], color="#59a14f")
        ax.set_yticks(range(len(names)), [n.split(".", 1)[-1] for n in names])
        ax.invert_yaxis()
        ax.set(xlim=(0, 100), xlabel="passed every hidden case (%)", title=f"{aid}: exercises")
        images.append(_png(fig))
    return images


def to_html(summary: dict) -> str:
    e = html.escape
    parts = ["<!DOCTYPE html><html><head><meta charset='utf-8'>",
             "<meta http-equiv='Content-Security-Policy' content=\"default-src 'none'; img-src data:; "
             "style-src 'unsafe-inline'\">",
             "<title>Class report</title><style>body{font-family:sans-serif;max-width:60em;margin:auto}"
             "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 8px;text-align:left}"
             "td.n{text-align:right}</style></head><body><h1>Class report</h1>"]
    parts.append("<h2>Submissions</h2><table><tr><th>status</th><th>submissions</th></tr>")
    parts += [f"<tr><td>{e(s)}</td><td class='n'>{n}</td></tr>" for s, n in summary["statuses"].items()]
    parts.append("</table>")
    for aid, a in summary["assignments"].items():
        mean = 100 * sum(a["scores"]) / len(a["scores"])
        parts.append(f"<h2>{e(aid)}</h2><p>{a['submissions']} submission(s), mean score {mean:.0f} % of "
                     f"{a['max_score']:g} points.</p>")
        parts += [f"<img alt='plot' src='data:image/png;base64,{img}'>" for img in _plots(aid, a)]
        parts.append("<h3>Hidden tests</h3><table><tr><th>test cell</th><th>earned every point</th></tr>")
        parts += [f"<tr><td>{e(n)}</td><td class='n'>{100 * r:.0f} % of {k}</td></tr>"
                  for n, (k, r) in a["tests"].items()]
        parts.append("</table>")
        if a["mistakes"]:
            parts.append("<h3>Known mistakes</h3><table><tr><th>exercise</th><th>made by</th><th>mistake</th></tr>")
            for name, found in a["mistakes"].items():
                n_ex = a["exercises"].get(name, (0, 0))[0]
                parts += [f"<tr><td>{e(name)}</td><td class='n'>{100 * rate:.0f} % ({count} of {n_ex})</td>"
                          f"<td>{e(hint)}</td></tr>" for hint, count, rate in found]
            parts.append("</table>")
    parts.append("</body></html>")
    return text.clean("\n".join(parts))


def write(ws) -> dict[str, Path]:
    """Write the class report's page and table into the grading folder; returns their paths."""
    summary = summarize(saved_results(ws.root))
    paths = {"html": ws.root / HTML_FILE, "csv": ws.root / CSV_FILE}
    text.write_text(paths["csv"], to_csv(summary))
    text.write_text(paths["html"], to_html(summary))
    return paths
