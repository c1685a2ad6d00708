"""Text the grader writes, made safe to write: whatever a submission put in it, whatever the locale.

A submission controls much of the text that ends up in reasons, logs, CSV and
JSON files: file names (bytes that are not UTF-8 arrive as lone surrogates),
its outputs and error messages (lone surrogates, NUL, control characters).
Everything the grader writes goes through ``clean`` (or ``name`` for a file
name shown in a reason) and is written as UTF-8, so no text can stop a batch
or an export with a UnicodeEncodeError.
"""

from __future__ import annotations

import os
from pathlib import Path


def clean(text: object) -> str:
    """``text`` as a str that encodes to UTF-8: lone surrogates and NUL become backslash escapes."""
    s = text if isinstance(text, str) else str(text)
    return s.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")


def clean_data(value):
    """``value`` (JSON-like data) with every string, keys included, passed through ``clean``."""
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, dict):
        return type(value)((clean_data(k), clean_data(v)) for k, v in value.items())
    if isinstance(value, list):
        return [clean_data(v) for v in value]
    return value


def name(value: str | os.PathLike) -> str:
    """A file name to show in one line of a reason: escaped, with no control characters."""
    s = clean(os.fspath(value))
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)


def is_utf8_name(value: str | Path) -> bool:
    """False for a name whose bytes were not UTF-8 (Python shows those as lone surrogates)."""
    try:
        os.fspath(value).encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def write_text(path: Path, text: str) -> None:
    """Write ``text`` as UTF-8 (escaping what cannot be encoded) through a temporary file, atomically."""
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8", errors="backslashreplace", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
