"""The grading protocol: how hidden inputs reach a student's kernel and results leave it.

While grading, the grader sets ``DLCOURSE_GRADING_DIR`` to a folder inside the
submission's own working copy and writes ``inputs.json`` there: for each
exercise, the cases (arguments) to call the student's function on. The test
cell calls the function and writes what it returned to
``outputs/<exercise>.json``. Nothing is judged in the kernel; the grader reads
those files in its own process and compares with the reference.

Everything crossing that boundary is plain JSON: numbers, strings, lists,
string-keyed dicts and arrays encoded as ``{"__array__": {dtype, shape, data}}``
with the raw bytes in base64, from a short list of numeric dtypes. Nothing is
ever pickled, so reading a student's file cannot run the student's code.
A ``{"__rng__": seed}`` stands for a fresh ``numpy.random.Generator``.
"""

from __future__ import annotations

import base64
import json
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

ENV_VAR = "DLCOURSE_GRADING_DIR"
INPUTS = "inputs.json"
OUTPUTS = "outputs"

# The only dtypes that cross the boundary; anything else is refused on decode.
DTYPES = {
    "bool": np.bool_,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "float16": np.float16,
    "float32": np.float32,
    "float64": np.float64,
}
MAX_ELEMENTS = 5_000_000  # per array: far above any exercise, far below a memory bomb
MAX_DEPTH = 16
_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}$")


class ProtocolError(ValueError):
    """Data that does not follow the protocol (malformed, too large, a forbidden type)."""


def grading() -> bool:
    """True inside a kernel that the grader started."""
    return bool(os.environ.get(ENV_VAR))


def grading_dir() -> Path:
    return Path(os.environ[ENV_VAR])


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ProtocolError(f"bad exercise name {name!r}")
    return name


# -- encoding ---------------------------------------------------------------

def encode(obj: Any, _depth: int = 0) -> Any:
    """Turn numbers, arrays, lists, tuples and str-keyed dicts into JSON-ready data."""
    if _depth > MAX_DEPTH:
        raise ProtocolError("data nested too deeply")
    if isinstance(obj, np.random.Generator):
        raise ProtocolError("a Generator cannot be encoded; pass {'__rng__': seed} instead")
    if obj is None or isinstance(obj, (bool, str)):
        return obj
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if np.isfinite(f) else {"__float__": repr(f)}
    if isinstance(obj, np.ndarray) or isinstance(obj, np.generic):
        arr = np.asarray(obj)  # keeps 0-d arrays 0-d (ascontiguousarray would not)
        name = arr.dtype.name
        if name not in DTYPES:
            raise ProtocolError(f"arrays of dtype {name} cannot be sent")
        return {
            "__array__": {
                "dtype": name,
                "shape": list(arr.shape),
                "data": base64.b64encode(arr.astype(arr.dtype.newbyteorder("<"), order="C").tobytes()).decode(),
            }
        }
    if isinstance(obj, (list, tuple)):
        return [encode(v, _depth + 1) for v in obj]
    if isinstance(obj, dict):
        if "__rng__" in obj:
            return {"__rng__": int(obj["__rng__"])}
        if not all(isinstance(k, str) for k in obj):
            raise ProtocolError("dict keys must be strings")
        return {k: encode(v, _depth + 1) for k, v in obj.items()}
    raise ProtocolError(f"cannot encode a {type(obj).__name__}")


def decode(data: Any, _depth: int = 0) -> Any:
    """The inverse of :func:`encode`; refuses anything else (no pickles, no objects)."""
    if _depth > MAX_DEPTH:
        raise ProtocolError("data nested too deeply")
    if data is None or isinstance(data, (bool, int, float, str)):
        return data
    if isinstance(data, list):
        return [decode(v, _depth + 1) for v in data]
    if isinstance(data, dict):
        if set(data) == {"__array__"}:
            return _decode_array(data["__array__"])
        if set(data) == {"__rng__"}:
            return np.random.default_rng(int(data["__rng__"]))
        if set(data) == {"__float__"}:
            text = data["__float__"]
            if text not in ("nan", "inf", "-inf"):
                raise ProtocolError("bad special float")
            return float(text)
        return {str(k): decode(v, _depth + 1) for k, v in data.items()}
    raise ProtocolError(f"unexpected {type(data).__name__} in protocol data")


def _decode_array(spec: Any) -> np.ndarray:
    if not isinstance(spec, dict) or set(spec) != {"dtype", "shape", "data"}:
        raise ProtocolError("malformed array")
    dtype = DTYPES.get(spec["dtype"]) if isinstance(spec["dtype"], str) else None
    if dtype is None:
        raise ProtocolError(f"dtype {spec['dtype']!r} is not allowed")
    shape = spec["shape"]
    if not isinstance(shape, list) or len(shape) > 8 or not all(
        isinstance(s, int) and not isinstance(s, bool) and 0 <= s for s in shape
    ):
        raise ProtocolError("malformed shape")
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if count > MAX_ELEMENTS:
        raise ProtocolError(f"array too large ({count} elements)")
    if not isinstance(spec["data"], str):
        raise ProtocolError("malformed array data")
    raw = base64.b64decode(spec["data"], validate=True)
    dt = np.dtype(dtype).newbyteorder("<")
    if len(raw) != count * dt.itemsize:
        raise ProtocolError("array data does not match its shape")
    return np.frombuffer(raw, dtype=dt).astype(np.dtype(dtype)).reshape(shape)


def dumps(obj: Any) -> str:
    return json.dumps(encode(obj), allow_nan=False)


def loads(text: str | bytes) -> Any:
    return decode(json.loads(text))


# -- the kernel's side --------------------------------------------------------

def read_cases(name: str) -> list[dict[str, Any]] | None:
    """The grader's cases for ``name``, decoded; None when it sent none."""
    path = grading_dir() / INPUTS
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    cases = data.get("exercises", {}).get(check_name(name))
    if cases is None:
        return None
    return [decode(c) for c in cases]


def write_results(name: str, results: list[dict[str, Any]]) -> Path:
    """Write this exercise's results (each ``{"outputs": [...]}`` or ``{"error": str}``)."""
    out_dir = grading_dir() / OUTPUTS
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"{check_name(name)}.json"
    path.write_text(json.dumps({"exercise": name, "results": [encode(r) for r in results]}, allow_nan=False))
    return path
