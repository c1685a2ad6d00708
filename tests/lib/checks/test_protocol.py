"""dlcourse.checks.protocol: plain data across the kernel boundary, never pickles."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dlcourse.checks import protocol
from dlcourse.checks.protocol import ProtocolError


@pytest.mark.parametrize("dtype", ["float64", "float32", "int64", "int32", "uint8", "bool"])
def test_arrays_round_trip(dtype):
    a = (np.arange(12).reshape(3, 4) % 3).astype(dtype)
    b = protocol.loads(protocol.dumps({"a": a, "t": (1, 2.5, None, "x")}))
    assert b["a"].dtype == a.dtype and np.array_equal(b["a"], a)
    assert b["t"] == [1, 2.5, None, "x"]


def test_zero_dimensional_arrays_keep_their_shape():
    out = protocol.loads(protocol.dumps([np.float64(2.5), np.array(3.0), np.ones((2, 3)).T]))
    assert out[0] == 2.5 and out[1].shape == () and out[2].shape == (3, 2)


def test_special_floats_and_rng():
    out = protocol.loads(protocol.dumps([float("nan"), float("inf"), {"__rng__": 3}]))
    assert np.isnan(out[0]) and out[1] == float("inf")
    assert isinstance(out[2], np.random.Generator)
    assert out[2].random() == np.random.default_rng(3).random()


@pytest.mark.parametrize("bad", [
    {"__array__": {"dtype": "object", "shape": [1], "data": ""}},
    {"__array__": {"dtype": "float64", "shape": [2], "data": "AAAA"}},
    {"__array__": {"dtype": "float64", "shape": [10**9], "data": ""}},
    {"__array__": {"dtype": "float64", "shape": [-1], "data": ""}},
    {"__array__": {"dtype": "float64", "shape": [1]}},
    {"__float__": "1e999"},
])
def test_malformed_data_is_refused(bad):
    with pytest.raises((ProtocolError, ValueError)):
        protocol.decode(bad)


def test_objects_cannot_be_encoded():
    with pytest.raises(ProtocolError):
        protocol.encode(object())
    with pytest.raises(ProtocolError):
        protocol.encode(np.array([object()]))


def test_deep_nesting_is_refused():
    data = []
    for _ in range(100):
        data = [data]
    with pytest.raises(ProtocolError):
        protocol.decode(json.loads(json.dumps(data)))


def test_kernel_side_reads_cases_and_writes_results(monkeypatch, tmp_path):
    monkeypatch.setenv(protocol.ENV_VAR, str(tmp_path))
    (tmp_path / protocol.INPUTS).write_text(json.dumps(
        {"exercises": {"t.f": [protocol.encode({"args": [np.ones(2)], "kwargs": {}})]}}))
    cases = protocol.read_cases("t.f")
    assert np.array_equal(cases[0]["args"][0], np.ones(2))
    assert protocol.read_cases("t.other") is None
    path = protocol.write_results("t.f", [{"outputs": [np.zeros(2)]}])
    data = protocol.decode(json.loads(path.read_text()))
    assert data["exercise"] == "t.f" and np.array_equal(data["results"][0]["outputs"][0], np.zeros(2))
    with pytest.raises(ProtocolError):
        protocol.write_results("../escape", [])
