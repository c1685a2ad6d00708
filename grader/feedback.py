"""Feedback pages a student can read, and that nothing a student wrote can make run or load anything.

nbgrader's ``generate_feedback`` makes the page from the autograded notebook,
with ``FeedbackExporter`` (set in ``exporter_config``) in place of nbconvert's
HTML exporter and ``FeedbackNotes`` among its preprocessors:

* formulas (``$...$``, ``$$...$$``, ``\\begin{align}...``) in markdown cells,
  the instructor's text and the student's answers alike, are converted to
  MathML on the grader (latex2mathml), which Chromium and Firefox render
  natively: no script and no network. TeX that does not convert stays as its
  escaped source;
* under each graded test cell the verdict is the submission's final one (the
  reasons ``collect`` explained, e.g. which earlier cell did not run);
* library frames are trimmed from the tracebacks of the student's cells (the
  frames of the student's own code and the error itself stay);
* the page is rendered once: nbconvert's second parse of the whole page (a
  BeautifulSoup pass that adds alt texts and tab stops) is skipped, the
  sanitizer adds the alt texts, and highlighted code and rendered markdown are
  memoized per process (the instructor's cells are the same in every
  submission).

Then ``finish_page`` puts a summary at the top (``summary_html``: every
exercise with its name, points and a one-line verdict, and the written answers,
graded by hand) and ``sanitize`` rewrites the page from its tokens with an
allowlist: known harmless elements (their text kept, elements such as
``script``, ``iframe``, ``object``, ``svg`` or ``form`` dropped with their
content), known harmless attributes only (no ``on*`` handler, no ``srcset``),
links to http(s), mailto or the page itself, images only as inline ``data:``
PNG/JPEG/GIF, no inline style that could load or compute anything, style
sheets only in the page's own head (without ``@import`` or remote ``url()``),
no ``meta`` refresh, and a presentational MathML subset (``MATH_ELEMENTS``
with ``MATH_ATTRIBUTES``: no ``href``, no ``maction``, no ``annotation-xml``,
nothing scriptable). Inside ``<math>`` only MathML is written: an HTML element
there closes the formula first, as a browser's parser would, so what the
browser builds is what was checked. Every text and attribute is escaped again
on output. The template's own script (MathJax from a CDN) goes too. A
Content-Security-Policy that allows no script and no remote resource is added
on top, for browsers that honour it.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterable
from html.parser import HTMLParser
from pathlib import Path
from xml.etree.ElementTree import Element

from jinja2 import BytecodeCache, pass_context
from nbconvert.exporters import HTMLExporter, TemplateExporter
from nbconvert.filters.highlight import Highlight2HTML
from nbconvert.filters.markdown_mistune import InvalidNotebook, IPythonRenderer, MarkdownWithMath
from nbconvert.filters.widgetsdatatypefilter import WidgetsDataTypeFilter
from nbconvert.preprocessors import Preprocessor
from traitlets import Bool, Dict
from traitlets.config import Config

from grader import text

CSP = ("default-src 'none'; img-src data:; style-src 'unsafe-inline'; font-src data:; "
       "base-uri 'none'; form-action 'none'")

ALLOWED = frozenset("""
html head body title meta style div span p a b i em strong u s strike sub sup small big br hr pre code kbd samp
var tt blockquote q cite abbr dfn mark del ins h1 h2 h3 h4 h5 h6 ul ol li dl dt dd table thead tbody tfoot tr th
td caption colgroup col img figure figcaption details summary section article header footer nav main aside
center font label wbr
""".split())
# Dropped with everything inside them.
DROPPED = frozenset("""
script iframe frame frameset object embed applet svg template noscript noembed noframes textarea select
button form input xmp plaintext portal audio video source track canvas map area base link
""".split())
# Presentational MathML (MathML Core's layout elements). Not here: maction (actions, statuslines), annotation-xml
# (it can hold HTML, an integration point browsers parse differently), mglyph (loads an image), mmultiscripts.
MATH_ELEMENTS = frozenset("""
math mi mn mo ms mtext mrow mfrac msqrt mroot msub msup msubsup munder mover munderover mtable mtr mtd mspace
mpadded mphantom menclose semantics annotation mstyle
""".split())
MATH_ATTRIBUTES = frozenset("""
display mathvariant mathsize mathcolor mathbackground dir displaystyle scriptlevel stretchy fence separator form
lspace rspace minsize maxsize movablelimits largeop symmetric accent accentunder linethickness numalign denomalign
bevelled columnalign rowalign columnspacing rowspacing columnlines rowlines columnspan rowspan frame framespacing
equalrows equalcolumns width height depth voffset notation encoding
""".split())
# A MathML attribute's value is a keyword, a length, a colour or a list of them: no scheme, quote, or markup.
_MATH_VALUE = re.compile(r"^[\w\s#.,%+\-()/]*$")
# Outputs and verdicts wrap instead of scrolling sideways (a verdict is one long line of plain text); the summary
# is a compact table; display formulas get room.
READABLE = ("pre { white-space: pre-wrap; overflow-wrap: anywhere; } "
            "table.summary { border-collapse: collapse; margin: 0.5em 0 1em; } "
            "table.summary th, table.summary td { border-bottom: 1px solid #ddd; padding: 0.2em 0.6em; "
            "text-align: left; vertical-align: top; } "
            "table.summary td.points { white-space: nowrap; } "
            "math[display=block] { margin: 0.5em 0; }")
NO_ALT = "a figure without a description"   # what an image that has no alt text says to a screen reader
MAX_TEX = 5000   # longer "formulas" (a student's stray $ around a page of text) stay as their source

VOID = frozenset("br hr img meta col wbr input source track area base link embed".split())
ATTRIBUTES = frozenset("""
class id title alt colspan rowspan align valign width height dir lang style href src start type open scope span
reversed name charset color size face border cellpadding cellspacing
""".split())
_IMAGE = re.compile(r"^data:image/(png|jpeg|gif);base64,[A-Za-z0-9+/=\s]*$", re.IGNORECASE)
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
_STYLE_BAD = re.compile(r"url\s*\(|expression|@import|\\|behavior|binding|javascript:|image-set|src\s*\(", re.I)
_CSS_IMPORT = re.compile(r"@import[^;]*;?", re.IGNORECASE)
_CSS_URL = re.compile(r"url\(\s*(?!['\"]?data:)[^)]*\)", re.IGNORECASE)
_HEAD_ONLY = frozenset(("head", "style"))


def _safe_href(value: str) -> bool:
    v = re.sub(r"[\x00-\x20]", "", value)
    m = _SCHEME.match(v)
    if m:
        return m.group(1).lower() in ("http", "https", "mailto")
    return not v.startswith("//")


def _safe_style(value: str) -> bool:
    return not _STYLE_BAD.search(value)


# -- formulas as MathML ---------------------------------------------------------------------------

def tex_to_mathml(tex: str, display: bool = False) -> str | None:
    """``tex`` as a MathML ``<math>`` element, or None where it does not convert.

    latex2mathml builds an element tree whose text holds character references (``&#x003B8;``) and, in
    ``\\text{...}``, whatever the TeX said; its own serializer unescapes everything, markup included. So the tree
    is written here: text unescaped once and escaped again, only ``MATH_ELEMENTS`` and ``MATH_ATTRIBUTES``."""
    from latex2mathml.converter import convert_to_element

    if not tex.strip() or len(tex) > MAX_TEX:
        return None
    out: list[str] = []
    try:
        _write_math(convert_to_element(tex, display="block" if display else "inline"), out)
    except Exception:  # latex2mathml raises many kinds (RecursionError too) for TeX it cannot read: keep the source
        return None
    return "".join(out)


def _write_math(element: Element, out: list[str]) -> None:
    tag = element.tag if isinstance(element.tag, str) else ""
    keep = tag in MATH_ELEMENTS
    if keep:
        attrs = "".join(f' {name}="{html.escape(str(value), quote=True)}"' for name, value in element.attrib.items()
                        if name in MATH_ATTRIBUTES and _MATH_VALUE.match(str(value)))
        out.append(f"<{tag}{attrs}>")
    if element.text:
        out.append(html.escape(html.unescape(element.text), quote=False))
    for child in element:
        _write_math(child, out)
        if child.tail:
            out.append(html.escape(html.unescape(child.tail), quote=False))
    if keep:
        out.append(f"</{tag}>")


class _MathRenderer(IPythonRenderer):
    """nbconvert's markdown renderer with formulas written as MathML (the source, escaped, where TeX fails)."""

    def block_math(self, body: str) -> str:
        return tex_to_mathml(body, display=True) or super().block_math(body)

    def inline_math(self, body: str) -> str:
        return tex_to_mathml(body) or super().inline_math(body)

    def latex_environment(self, name: str, body: str) -> str:
        return tex_to_mathml(f"\\begin{{{name}}}{body}\\end{{{name}}}", display=True) or super().latex_environment(
            name, body)

    def image(self, text: str, url: str, title: str | None = None) -> str:
        try:
            return super().image(text, url, title)
        except InvalidNotebook:   # an attachment the notebook does not have: its alt text, not a failed page
            return self.escape_html(text)


class _Templates(BytecodeCache):
    """Compiled templates kept for the life of the process: nbgrader makes a new exporter for every page."""

    def __init__(self) -> None:
        self.store: dict[str, bytes] = {}

    def load_bytecode(self, bucket) -> None:
        if bucket.key in self.store:
            bucket.bytecode_from_string(self.store[bucket.key])

    def dump_bytecode(self, bucket) -> None:
        self.store[bucket.key] = bucket.bytecode_to_string()


_TEMPLATES = _Templates()
_MEMO_CHARS = 8_000_000   # rendered cells kept per process; a course's instructor cells take about 2 MB
_MEMO: dict[tuple, str] = {}
_memo_chars = 0


def _memo(key: tuple, make: Callable[[], str]) -> str:
    """The value of ``make()``, kept under ``key``. It must depend on nothing but ``key``."""
    global _memo_chars
    hit = _MEMO.get(key)
    if hit is None:
        hit = make()
        if _memo_chars + len(hit) > _MEMO_CHARS:
            _MEMO.clear()   # a full memo starts again: the next pages fill it with what they share
            _memo_chars = 0
        _MEMO[key] = hit
        _memo_chars += len(hit)
    return hit


class FeedbackExporter(HTMLExporter):
    """nbconvert's HTML exporter for feedback pages: MathML formulas, one rendering pass, memoized cells."""

    def _create_environment(self):
        environment = super()._create_environment()
        environment.bytecode_cache = _TEMPLATES
        return environment

    @pass_context
    def markdown2html(self, context, source: str) -> str:
        cell = context.get("cell", {})
        attachments = cell.get("attachments", {}) if hasattr(cell, "get") else {}
        path = context.get("resources", {}).get("metadata", {}).get("path", "")

        def render() -> str:
            renderer = _MathRenderer(escape=False, attachments=attachments, embed_images=self.embed_images,
                                     path=path, anchor_link_text=self.anchor_link_text,
                                     exclude_anchor_links=self.exclude_anchor_links, **self.lexer_options)
            return MarkdownWithMath(renderer=renderer).render(source)

        if attachments or self.embed_images:   # the result depends on more than the source: not memoized
            return render()
        return _memo(("md", self.anchor_link_text, self.exclude_anchor_links, repr(self.lexer_options), source),
                     render)

    def from_notebook_node(self, nb, resources=None, **kw):
        """HTMLExporter's conversion without its BeautifulSoup pass over the finished page (alt texts, which
        ``sanitize`` adds, and tab stops, which it would remove); code highlighting memoized."""
        langinfo = nb.metadata.get("language_info", {})
        lexer = langinfo.get("pygments_lexer", langinfo.get("name", None))
        highlight = self.filters.get("highlight_code", Highlight2HTML(pygments_lexer=lexer, parent=self))
        resources = self._init_resources(resources)

        def highlight_code(source: str, language: str | None = None, metadata=None) -> str:
            magics = metadata.get("magics_language") if metadata else None
            return _memo(("code", lexer, language, magics, source), lambda: highlight(source, language, metadata))

        self.register_filter("highlight_code", highlight_code)
        self.register_filter("filter_data_type", WidgetsDataTypeFilter(
            notebook_metadata=self._nb_metadata, parent=self, resources=resources))
        return TemplateExporter.from_notebook_node(self, nb, resources, **kw)


# -- what the page says under the cells -------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
_LIBRARY_FILE = re.compile(r"^\s*File\s+(?P<path>\S+?):\d+")
_LIBRARY_DIRS = ("/site-packages/", "/dist-packages/", "/lib/python3")


def _library(frame: str) -> str | None:
    """The package a traceback frame is in, or None for the student's own code (a notebook cell, a file of the
    submission): only frames in an installed library, the standard library or the course library count."""
    m = _LIBRARY_FILE.match(_ANSI.sub("", frame))
    if not m:
        return None
    path = m.group("path")
    if path.startswith("<frozen"):
        return "python"
    for marker in _LIBRARY_DIRS:
        if marker in path:
            rest = path.split(marker, 1)[1].split("/")
            if marker == "/lib/python3":   # .../lib/python3.11/json/decoder.py: the standard library
                return rest[1] if len(rest) > 2 and rest[1] not in ("site-packages", "dist-packages") else "python"
            return rest[0].removesuffix(".py")
    if "/dlcourse/" in path:
        return "dlcourse"
    return None


def trim_traceback(frames: list[str]) -> list[str]:
    """An IPython traceback (header, frames, error line) without the frames inside libraries: each run of them
    becomes one line naming the packages. The header, the student's frames and the error itself stay."""
    if len(frames) < 3:
        return list(frames)
    kept: list[str] = [frames[0]]
    run: list[str] = []

    def flush() -> None:
        if run:
            names = ", ".join(dict.fromkeys(run))
            kept.append(f"[{len(run)} frame{'s' if len(run) > 1 else ''} inside {names} left out]\n")
            run.clear()

    for frame in frames[1:-1]:
        package = _library(frame)
        if package is None:
            flush()
            kept.append(frame)
        else:
            run.append(package)
    flush()
    kept.append(frames[-1])
    return kept


class FeedbackNotes(Preprocessor):
    """What the feedback adds to the autograded notebook: the final verdict under each graded test cell (the
    reasons ``collect`` wrote, keyed ``notebook/grade_id``), and tracebacks without library frames."""

    enabled = Bool(True, help="run while generating feedback").tag(config=True)
    verdicts = Dict({}, help="'notebook/grade_id' -> the verdict to show under that test cell").tag(config=True)

    def preprocess(self, nb, resources):
        notebook = resources.get("nbgrader", {}).get("notebook", "")
        for cell in nb.cells:
            if cell.cell_type != "code":
                continue
            grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
            verdict = self.verdicts.get(f"{notebook}/{grade_id}") if grade_id else None
            outputs = cell.get("outputs", [])
            if verdict is not None and outputs and _is_verdict(outputs[-1]):
                outputs[-1]["data"]["text/plain"] = verdict   # the grader's verdict is always the last output
            for out in outputs:
                if out.get("output_type") == "error" and isinstance(out.get("traceback"), list):
                    out["traceback"] = trim_traceback(out["traceback"])
        return nb, resources


def _is_verdict(output) -> bool:
    data = output.get("data", {}) if output.get("output_type") == "display_data" else {}
    return isinstance(data.get("text/plain"), str) and data["text/plain"].startswith("Grader:")


def exporter_config(preprocessors: Iterable[type] | None, verdicts: dict[str, str]) -> Config:
    """The configuration that makes nbgrader's generate_feedback write pages with ``FeedbackExporter`` and
    ``FeedbackNotes`` (added to ``preprocessors``, the configured list or else nbgrader's own, before the page's
    style sheet is made)."""
    if preprocessors is None:
        from nbgrader.converters import GenerateFeedback

        preprocessors = GenerateFeedback.class_traits()["preprocessors"].default()
    steps = [p for p in preprocessors if p is not FeedbackNotes]
    where = next((i for i, p in enumerate(steps) if p.__name__ == "CSSHTMLHeaderPreprocessor"), len(steps))
    steps.insert(where, FeedbackNotes)
    c = Config()
    c.GenerateFeedback.exporter_class = FeedbackExporter
    c.GenerateFeedback.preprocessors = steps
    c.FeedbackNotes.verdicts = dict(verdicts)
    return c


# -- the summary at the top --------------------------------------------------------------------------

_HEADING = re.compile(r"^ {0,3}#{1,6}[ \t]+(.+?)[ \t#]*$", re.MULTILINE)
_MARKUP = re.compile(r"[*`]+|\$")
_CODE = re.compile(r"`([^`<>]+)`")   # `name` in a verdict, as code


def cell_titles(nb) -> dict[str, str]:
    """grade_id -> the heading above the cell in the notebook (``Exercise 2: fit by the normal equations``),
    for every cell that has a grade_id; the grade_id itself where no heading comes before it."""
    titles, last = {}, ""
    for cell in nb.cells:
        if cell.cell_type == "markdown":
            heads = [h for h in _HEADING.findall(cell.source) if not re.match(r"(BEGIN|END) SOLUTION", h)]
            if heads:
                last = _MARKUP.sub("", heads[-1]).strip()
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id:
            titles[grade_id] = last or grade_id
    return titles


def summary_rows(source_nb, cells: list[dict]) -> list[dict]:
    """One row per graded cell of the source notebook, in its order: each graded test cell with its points and
    one-line verdict (from ``cells``, the submission's results for this notebook), and each cell graded by hand
    (written answers, tasks). Keys: grade_id, title, score (None: by hand), points, verdict."""
    by_id = {c["grade_id"]: c for c in cells}
    titles = cell_titles(source_nb)
    rows = []
    for cell in source_nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if not grade_id or not (meta.get("grade") or meta.get("task")):
            continue
        automatic = cell.cell_type == "code" and meta.get("grade") and not meta.get("solution")
        if automatic:
            result = by_id.get(grade_id, {})
            rows.append({"grade_id": grade_id, "title": titles[grade_id], "score": float(result.get("score", 0.0)),
                         "points": float(result.get("points", meta.get("points", 0))),
                         "verdict": one_line(result) if result else "not graded"})
        else:
            rows.append({"grade_id": grade_id, "title": titles[grade_id], "score": None,
                         "points": float(meta.get("points", 0)), "verdict": "graded by hand"})
    return rows


def one_line(cell: dict, width: int = 300) -> str:
    """A graded cell's verdict in one line: that it passed, or the first reason it did not."""
    reasons = [str(r) for r in cell.get("reasons", [])]
    if cell.get("points", 0) and cell.get("score", 0) >= cell["points"]:
        line = reasons[0] if len(reasons) == 1 else f"passed ({len(reasons)} exercises)"
    else:
        failed = [r for r in reasons if ": passed all" not in r] or reasons or ["no points"]
        line = failed[0]
    line = " ".join(re.sub(r"^[\w.]+: ", "", line, count=1).split())   # "regression.mse: ..." -> "..."
    return line if len(line) <= width else line[:width - 1].rsplit(" ", 1)[0] + " …"


def summary_html(rows: list[dict], heading: str = "Summary", links: bool = True) -> str:
    """The summary table (escaped here; the page is sanitized afterwards all the same), each exercise a link to
    its cell unless ``links`` is false."""
    e = html.escape
    parts = [f'<div id="summary"><h4>{e(heading)}</h4><table class="summary">'
             "<tr><th>exercise</th><th>points</th><th>verdict</th></tr>"]
    for r in rows:
        points = f"{r['score']:g} / {r['points']:g}" if r["score"] is not None else f"– / {r['points']:g}"
        verdict = _CODE.sub(r"<code>\1</code>", e(r["verdict"]))
        title = f'<a href="#{e(r["grade_id"], quote=True)}">{e(r["title"])}</a>' if links else e(r["title"])
        parts.append(f'<tr><td>{title} <code>{e(r["grade_id"])}</code></td><td class="points">{points}</td>'
                     f"<td>{verdict}</td></tr>")
    parts.append("</table></div>")
    return "".join(parts)


def _with_summary(page: str, summary: str) -> str:
    """The page with ``summary`` in place of nbgrader's list of graded cells (the template writes it first, before
    any cell); at the start of the body where there is none."""
    start = page.find('<div id="toc">')
    if start != -1:
        end = page.find("</div>", start)
        if end != -1:
            return page[:start] + summary + page[end + len("</div>"):]
    m = re.search(r"<body[^>]*>", page)
    at = m.end() if m else 0
    return page[:at] + summary + page[at:]


def failure_page(title: str, reason: str, rows: list[dict]) -> str:
    """A feedback page for a notebook that could not be graded at all: the reason once, then every exercise (at
    0) and written answer, none of them graded."""
    e = html.escape
    rows = [{**r, "verdict": "not graded (the reason is above)"} for r in rows]
    return (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{e(title)}</title></head><body>"
            f"<h1>{e(title)}</h1><p><strong>This notebook could not be graded.</strong></p><pre>{e(reason)}</pre>"
            f"{summary_html(rows, links=False)}</body></html>")


# -- the sanitizer -------------------------------------------------------------------------------------

class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.drop_depth = 0
        self.drop_tag = ""
        self.head = "before"   # the page's own head: before, in, after (a second <head> is not honoured)
        self.in_style = False
        self.csp_written = False
        self.math: list[str] = []   # the open MathML elements, outermost first

    def handle_decl(self, decl: str) -> None:
        if decl.lower().startswith("doctype") and not self.drop_depth:
            self.out.append("<!DOCTYPE html>")

    def handle_starttag(self, tag: str, attrs) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs, closed: bool) -> None:
        if self.drop_depth:
            if tag == self.drop_tag and not closed and tag not in VOID:
                self.drop_depth += 1
            return
        if tag in DROPPED or (tag == "style" and self.head != "in"):
            if not closed and tag not in VOID:
                self.drop_depth, self.drop_tag = 1, tag
            return
        if tag in MATH_ELEMENTS and (self.math or tag == "math"):
            self._math_start(tag, attrs, closed)
            return
        if tag not in ALLOWED:
            return   # an element we do not know (maction, annotation-xml, ...): its text stays, the tag goes
        self._close_math()   # an HTML element ends a formula, as in a browser's parser
        if tag == "head" and self.head != "before":
            return
        if tag not in ("html", "head", "title", "meta", "style"):
            self.head = "after"   # the body has begun: no head (and so no style sheet) after this
        kept = []
        for name, value in attrs:
            value = text.clean(value or "")
            if name not in ATTRIBUTES:
                continue
            if name == "href" and (tag != "a" or not _safe_href(value)):
                continue
            if name == "src" and (tag != "img" or not _IMAGE.match(value)):
                continue
            if name == "style" and not _safe_style(value):
                continue
            kept.append((name, value))
        if tag == "meta" and not any(n == "charset" for n, _ in kept):
            return  # no http-equiv (refresh, cookies), no name/content pairs of the student's
        if tag == "img" and not any(n == "src" for n, _ in kept):
            return
        if tag == "img" and not any(n == "alt" for n, _ in kept):
            kept.append(("alt", NO_ALT))
        if tag == "a" and any(n == "href" for n, _ in kept):
            kept.append(("rel", "noopener noreferrer"))
        attr_text = "".join(f' {n}="{html.escape(v, quote=True)}"' for n, v in kept)
        self.out.append(f"<{tag}{attr_text}>")
        if tag == "head":
            self.head = "in"
            self._csp()
        if tag == "style":
            self.in_style = True

    def _math_start(self, tag: str, attrs, closed: bool) -> None:
        if tag == "math" and self.math:
            return   # no formula inside a formula
        kept = [(n, text.clean(v or "")) for n, v in attrs if n in MATH_ATTRIBUTES]
        attr_text = "".join(f' {n}="{html.escape(v, quote=True)}"' for n, v in kept if _MATH_VALUE.match(v))
        self.out.append(f"<{tag}{attr_text}>")
        if closed:   # <mspace/>: written as start and end tags, which every parser reads the same way
            self.out.append(f"</{tag}>")
        else:
            self.math.append(tag)

    def _close_math(self, down_to: str | None = None) -> None:
        """Close the open MathML elements: all of them, or those down to the innermost ``down_to``."""
        while self.math:
            tag = self.math.pop()
            self.out.append(f"</{tag}>")
            if tag == down_to:
                return

    def _csp(self) -> None:
        if not self.csp_written:
            self.out.append(f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP, quote=True)}">')
            self.out.append(f"<style>{READABLE}</style>")
            self.csp_written = True

    def handle_endtag(self, tag: str) -> None:
        if self.drop_depth:
            if tag == self.drop_tag:
                self.drop_depth -= 1
            return
        if self.math:
            if tag in self.math:
                self._close_math(down_to=tag)
                return
            if tag in MATH_ELEMENTS or tag not in ALLOWED:
                return   # the end of an element that was never opened, or of one that was left out
            self._close_math()
        if tag in ALLOWED and tag not in VOID and not (tag == "head" and self.head != "in"):
            self.out.append(f"</{tag}>")
        if tag == "head" and self.head == "in":
            self.head = "after"
        if tag == "style":
            self.in_style = False

    def handle_data(self, data: str) -> None:
        if self.drop_depth:
            return
        data = text.clean(data)
        if self.in_style:
            css = _CSS_URL.sub("none", _CSS_IMPORT.sub("", data))
            self.out.append(css.replace("</", "<\\/"))
        else:
            self.out.append(html.escape(data, quote=False))

    def handle_comment(self, data: str) -> None:
        pass  # comments go (old browsers ran conditional ones)

    def handle_pi(self, data: str) -> None:
        pass

    def unknown_decl(self, data: str) -> None:
        pass


def sanitize(page: str) -> str:
    """The page rewritten from its tokens with the allowlist above, a Content-Security-Policy in its head."""
    parser = _Sanitizer()
    parser.feed(page)
    parser.close()
    parser._close_math()
    body = "".join(parser.out)
    if not parser.csp_written:  # a page without <head>: the policy goes first
        body = (f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP, quote=True)}">'
                f"<style>{READABLE}</style>" + body)
    return body


def finish_page(path: Path, summary: str | None = None) -> None:
    """Put ``summary`` (``summary_html``) at the top of a feedback page and sanitize it, in place (atomically)."""
    page = path.read_text(encoding="utf-8", errors="replace")
    if summary is not None:
        page = _with_summary(page, summary)
    text.write_text(path, sanitize(page))


def sanitize_file(path: Path) -> None:
    """Sanitize a feedback page in place (atomically)."""
    finish_page(path)
