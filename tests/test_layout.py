"""The repository keeps the shape docs/architecture.md fixes, and its pins agree."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", [
    "README.md", "docs/architecture.md", "docs/adding-a-notebook.md", "environment.yml", "pyproject.toml", "Makefile",
    "requirements.lock",
    "lib/dlcourse/__init__.py", "solutions", "course", "grader", "tests", "benchmarks", ".ci/run",
])
def test_top_level_layout(path):
    assert (REPO / path).exists(), f"{path} is part of the fixed layout (docs/architecture.md)"


def _lock() -> dict[str, str]:
    pins = {}
    for line in (REPO / "requirements.lock").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, _, version = line.partition("==")
            assert version, f"requirements.lock: {line!r} is not pinned exactly (name==version)"
            pins[_norm(name)] = version
    return pins


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower().split("[")[0]


def test_lock_pins_the_required_packages():
    lock = _lock()
    assert lock["torch"] == "2.13.0", "torch must be pinned to the CPU build 2.13.0"
    for pkg, major in [("jupyterlab", "4."), ("nbgrader", "0.9."), ("ipywidgets", "8.")]:
        assert lock[pkg].startswith(major), f"{pkg} {lock[pkg]} is not {major}x"
    for pkg in ["matplotlib", "numpy", "scikit-learn", "tqdm", "pytest", "ipympl", "ruff"]:
        assert pkg in lock, f"{pkg} missing from requirements.lock"


def test_environment_yml_agrees_with_the_lock():
    text = (REPO / "environment.yml").read_text()
    lock = _lock()
    pinned = re.findall(r"^\s*-\s*([A-Za-z0-9_.\-\[\]]+)\s*==?\s*([0-9][^\s#]*)", text, re.MULTILINE)
    assert pinned, "environment.yml pins nothing"
    seen = set()
    for name, version in pinned:
        key = _norm(name)
        if key == "python":
            assert version.startswith("3.11"), "environment.yml: python must be 3.11"
            continue
        assert key in lock, f"environment.yml pins {name} which requirements.lock lacks"
        assert lock[key] == version, f"{name}: environment.yml has {version}, requirements.lock {lock[key]}"
        seen.add(key)
    missing = set(lock) - seen
    assert not missing, f"requirements.lock pins what environment.yml does not: {sorted(missing)[:10]}"


def _notebooks():
    for folder in ("solutions", "course"):
        yield from sorted((REPO / folder).rglob("*.ipynb"))


@pytest.mark.parametrize("path", list(_notebooks()), ids=lambda p: str(p.relative_to(REPO)))
def test_notebooks_are_committed_without_outputs(path):
    nb = json.loads(path.read_text())
    for i, cell in enumerate(nb["cells"]):
        assert not cell.get("outputs"), f"{path.name}: cell {i} has outputs; clear them before committing"
        assert cell.get("execution_count") is None, f"{path.name}: cell {i} has an execution count"


@pytest.mark.parametrize("path", sorted((REPO / "course").rglob("*.ipynb")), ids=lambda p: p.parent.name)
def test_student_version_leaks_no_solution(path):
    text = path.read_text()
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "hidden_test("):
        assert marker not in text, f"{path}: {marker!r} must not appear in the student version"


# Written in pieces so that this file does not cite them itself.
_OUTSIDE = ("../" + "shared", "shared/" + "DESIGN", "shared/" + "lectures")


def test_no_file_cites_a_design_outside_the_repository():
    """A clone has no copy of the founders' brief: the design lives in docs/, and every citation points there."""
    import subprocess

    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    offenders = []
    for name in files:
        path = REPO / name
        if path.is_file() and (path.suffix in (".py", ".md", ".ipynb", ".toml", ".yml", ".cfg", ".txt")
                               or name in ("Makefile", ".ci/run")):
            text = path.read_text(errors="replace")
            if any(pattern in text for pattern in _OUTSIDE):
                offenders.append(name)
    assert not offenders, f"these files cite files outside the repository (cite docs/ instead): {offenders}"


EXAMPLE_NAMES = {"doe_jane_1234_01_regression.ipynb"}   # an LMS export's file name, shown as an example


def _cited_paths(text: str) -> set[str]:
    """Repository paths a document names in backticks: words with a slash or a known file suffix."""
    found = set()
    for span in re.findall(r"`([^`\n]+)`", text):
        for word in span.split():
            word = word.strip("()[],;:'\"").split("::")[0]
            if re.fullmatch(r"[\w./-]+\.(py|md|ipynb|toml|lock|yml|cfg|txt)", word) or (
                    "/" in word and re.fullmatch(r"(lib|grader|tests|benchmarks|docs|solutions|course|\.ci)/[\w./-]*",
                                                 word)):
                found.add(word)
    return found


@pytest.mark.parametrize("doc", ["README.md", "benchmarks/README.md", "docs/architecture.md",
                                 "docs/adding-a-notebook.md"])
def test_documents_cite_only_files_that_exist(doc):
    """A file a document names (in backticks) exists: under the repository root, or the library's (lib/), or
    beside the document. Paths with placeholders (<student>, NN_x, ...) are not file names and are skipped."""
    missing = []
    for path in _cited_paths((REPO / doc).read_text(encoding="utf-8")):
        if any(c in path for c in "<>*{}") or re.search(r"NN|_x\b|\bN\.", path):
            continue
        if path in EXAMPLE_NAMES:
            continue
        candidates = [REPO / path, REPO / "lib" / path, REPO / "course" / path, (REPO / doc).parent / path]
        bare = "/" not in path   # a bare file name: anywhere in the repository
        if not any(c.exists() for c in candidates) and not (bare and any(REPO.glob(f"**/{path}"))):
            missing.append(path)
    assert not missing, f"{doc} cites files that do not exist: {sorted(missing)}"
