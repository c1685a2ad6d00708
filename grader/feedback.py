"""Feedback pages, sanitized: nothing a student wrote can run or load anything where the page is opened.

nbgrader's feedback page is HTML made from the student's notebook: markdown
(which may hold raw HTML) and outputs. ``sanitize`` rewrites the page from its
tokens with an allowlist: known harmless elements (their text kept, elements
such as ``script``, ``iframe``, ``object``, ``svg`` or ``form`` dropped with
their content), known harmless attributes only (no ``on*`` handler, no
``srcset``), links to http(s), mailto or the page itself, images only as
inline ``data:`` PNG/JPEG/GIF, no inline style that could load or compute
anything, style sheets only in the page's head (without ``@import`` or remote
``url()``), no ``meta`` refresh. Every text and attribute is escaped again on
output. The template's own script (MathJax from a CDN) goes too, so formulas
show as their TeX source. A Content-Security-Policy that allows no script and
no remote resource is added on top, for browsers that honour it.
"""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from pathlib import Path

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
script iframe frame frameset object embed applet svg math template noscript noembed noframes textarea select
button form input xmp plaintext portal audio video source track canvas map area base link
""".split())
# Outputs and verdicts wrap instead of scrolling sideways (a verdict is one long line of plain text).
READABLE = "pre { white-space: pre-wrap; overflow-wrap: anywhere; }"

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


def _safe_href(value: str) -> bool:
    v = re.sub(r"[\x00-\x20]", "", value)
    m = _SCHEME.match(v)
    if m:
        return m.group(1).lower() in ("http", "https", "mailto")
    return not v.startswith("//")


def _safe_style(value: str) -> bool:
    return not _STYLE_BAD.search(value)


class _Sanitizer(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.drop_depth = 0
        self.drop_tag = ""
        self.in_head = False
        self.in_style = False
        self.csp_written = False

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
        if tag in DROPPED or (tag == "style" and not self.in_head):
            if not closed and tag not in VOID:
                self.drop_depth, self.drop_tag = 1, tag
            return
        if tag not in ALLOWED:
            return
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
        if tag == "a" and any(n == "href" for n, _ in kept):
            kept.append(("rel", "noopener noreferrer"))
        attr_text = "".join(f' {n}="{html.escape(v, quote=True)}"' for n, v in kept)
        self.out.append(f"<{tag}{attr_text}>")
        if tag == "head":
            self.in_head = True
            self._csp()
        if tag == "style":
            self.in_style = True

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
        if tag in ALLOWED and tag not in VOID:
            self.out.append(f"</{tag}>")
        if tag == "head":
            self.in_head = False
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
    body = "".join(parser.out)
    if not parser.csp_written:  # a page without <head>: the policy goes first
        body = (f'<meta http-equiv="Content-Security-Policy" content="{html.escape(CSP, quote=True)}">'
                f"<style>{READABLE}</style>" + body)
    return body


def sanitize_file(path: Path) -> None:
    """Sanitize a feedback page in place (atomically)."""
    page = path.read_text(encoding="utf-8", errors="replace")
    text.write_text(path, sanitize(page))
