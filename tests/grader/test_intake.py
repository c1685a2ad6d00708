"""grader.intake: an LMS archive (nbgrader's zip_collect conventions, a roster) becomes the submissions tree; files
that cannot be mapped are named with the reason; the command line grades what could be mapped and says what not."""

from __future__ import annotations

import csv
import io
import zipfile
from pathlib import Path

import pytest

from grader import cli, intake, pipeline

REPO = Path(__file__).resolve().parents[2]
SOLUTIONS = REPO / "solutions"


def _archive(path: Path, members: dict[str, bytes], times: dict[str, tuple] | None = None) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(times or {}).get(name, (2026, 11, 1, 12, 0, 0)))
            zf.writestr(info, data)
    return path


def _roster(path: Path) -> Path:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerows([["student_id", "email", "lms_login"], ["alice", "", ""],
                 ["bob", "Bob.Builder@uni.example", "bbuilder_1234"], ["carol", "carol@uni.example", ""]])
    path.write_text(buf.getvalue())
    return path


def test_an_lms_archive_becomes_the_submissions_tree(tmp_path):
    members = {
        "alice_01_regression.ipynb": b"old",
        "alice_01_regression (1).ipynb": b"new",                     # submitted again: the newer one counts
        "bob.builder@uni.example_02_backprop.ipynb": b"bob",          # an e-mail address, mapped by the roster
        "export/bbuilder_1234_01_regression.ipynb": b"bob-lms",       # an LMS login with '_' in it, in a folder
        "carol@uni.example/03_optimizers.ipynb": b"carol",            # a folder per student
        "mallory@evil.example_01_regression.ipynb": b"?",             # not in the roster
        "dave_99_unknown.ipynb": b"?",                                # no such notebook
        "../escape_01_regression.ipynb": b"?",                        # outside the folder
        "readme.txt": b"ignored",
    }
    times = {"alice_01_regression (1).ipynb": (2026, 11, 2, 12, 0, 0)}
    archive = _archive(tmp_path / "export.zip", members, times)
    dest = tmp_path / "tree"
    problems = intake.from_archive(archive, dest, SOLUTIONS, roster=_roster(tmp_path / "roster.csv"))
    tree = {str(p.relative_to(dest)): p.read_bytes() for p in sorted(dest.rglob("*.ipynb"))}
    assert tree == {
        "alice/01_regression/01_regression.ipynb": b"new",
        "bob/01_regression/01_regression.ipynb": b"bob-lms",
        "bob/02_backprop/02_backprop.ipynb": b"bob",
        "carol/03_optimizers/03_optimizers.ipynb": b"carol",
    }
    said = {p.file: p.reason for p in problems}
    assert "newest one is graded" in said["alice_01_regression.ipynb"]
    assert "'mallory@evil.example' is not in the roster" in said["mallory@evil.example_01_regression.ipynb"]
    assert "cannot be mapped to an assignment: no assignment has a notebook '99_unknown'" in said[
        "dave_99_unknown.ipynb"]
    assert "refused" in said["../escape_01_regression.ipynb"]
    assert not (tmp_path / "escape_01_regression.ipynb").exists()
    assert len(problems) == 4


def test_without_a_roster_only_plain_ids_are_mapped(tmp_path):
    archive = _archive(tmp_path / "a.zip", {"alice_01_regression.ipynb": b"a", "eve@x.example_01_regression.ipynb":
                                            b"e"})
    problems = intake.from_archive(archive, tmp_path / "tree", SOLUTIONS)
    assert (tmp_path / "tree" / "alice" / "01_regression" / "01_regression.ipynb").read_bytes() == b"a"
    assert [str(p) for p in problems] == ["eve@x.example_01_regression.ipynb: cannot be mapped to a student: "
                                          "'eve@x.example' is no plain id: pass a roster (--roster) to map it"]


def test_a_pattern_of_ones_own_in_nbgraders_convention(tmp_path):
    archive = _archive(tmp_path / "a.zip", {"sub_attempt_s042_01_regression.ipynb": b"x"})
    pattern = r"sub_attempt_(?P<student_id>s\d+)_(?P<file_id>.+)\.ipynb"
    assert intake.from_archive(archive, tmp_path / "tree", SOLUTIONS, pattern=pattern) == []
    assert (tmp_path / "tree" / "s042" / "01_regression" / "01_regression.ipynb").exists()


def test_a_roster_with_an_id_that_is_no_plain_id_is_refused(tmp_path):
    (tmp_path / "r.csv").write_text("id,email\nbad id,x@y\n")
    with pytest.raises(ValueError, match="not a plain id"):
        intake.read_roster(tmp_path / "r.csv")


def test_the_command_line_grades_an_archive_and_says_what_it_could_not_map(tmp_path, monkeypatch, capsys):
    seen = {}

    def fake(submissions, out, **kw):
        seen["tree"] = sorted(str(p.relative_to(submissions)) for p in submissions.rglob("*.ipynb"))
        return [pipeline.Submission("alice", "01_regression", submissions, status="graded")]

    monkeypatch.setattr(pipeline, "grade_batch", fake)
    archive = _archive(tmp_path / "a.zip", {"alice_01_regression.ipynb": b"a", "zed@x.example_01_regression.ipynb":
                                            b"z"})
    assert cli.main(["grade", str(archive), "--out", str(tmp_path / "out"), "--no-progress"]) == 1
    assert seen["tree"] == ["alice/01_regression/01_regression.ipynb"]
    err = capsys.readouterr().err
    assert "error: zed@x.example_01_regression.ipynb: cannot be mapped to a student" in err
