"""Generate the student version (course/) from the instructor notebooks (solutions/).

nbgrader generate_assignment does the work: solutions become named stubs,
hidden tests disappear, outputs are cleared, cells are locked and
checksummed. A throw-away gradebook records nothing that matters here.
"""

from __future__ import annotations

import filecmp
import json
import shutil
import tempfile
from pathlib import Path

from grader.course import COURSE, REPO, SOLUTIONS, assignments, nbgrader_config


class ReleaseError(RuntimeError):
    pass


def generate(dest: Path = COURSE, *, source: Path = SOLUTIONS, only: list[str] | None = None) -> list[str]:
    """Write the student version of every assignment into ``dest``; returns the ids."""
    from nbgrader.apps import NbGraderAPI

    ids = only or assignments(source)
    with tempfile.TemporaryDirectory(prefix="dlcourse-release-") as tmp:
        staging = Path(tmp) / "release"
        config = nbgrader_config(
            Path(tmp),
            db_url=f"sqlite:///{tmp}/gradebook.db",
            source=str(source),
            release=str(staging),
        )
        api = NbGraderAPI(config=config)
        for aid in ids:
            result = api.generate_assignment(aid, force=True, create=True)
            if not result["success"]:
                details = result.get("log", "") + result.get("error", "")
                raise ReleaseError(f"generate_assignment {aid} failed:\n{details}")
            target = dest / aid
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(staging / aid, target)
            for nb in target.glob("*.ipynb"):
                _normalize(nb)
    return ids


def _normalize(path: Path) -> None:
    """Stable JSON (sorted keys, one trailing newline) so regenerating changes nothing."""
    nb = json.loads(path.read_text())
    path.write_text(json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n")


def stale(course: Path = COURSE, *, source: Path = SOLUTIONS) -> list[str]:
    """Files of ``course`` that differ from a fresh release (empty when in sync)."""
    with tempfile.TemporaryDirectory(prefix="dlcourse-check-") as tmp:
        fresh = Path(tmp)
        generate(fresh, source=source)
        return _diff(fresh, course, course)


def _diff(fresh: Path, current: Path, base: Path) -> list[str]:
    out = []
    cmp = filecmp.dircmp(fresh, current, ignore=["__pycache__", ".ipynb_checkpoints"])
    rel = current.relative_to(base.parent) if current != base else Path(base.name)
    out += [f"{rel / n}: missing (run make release)" for n in cmp.left_only]
    out += [f"{rel / n}: not generated from solutions/" for n in cmp.right_only]
    for name in cmp.common_files:
        if (fresh / name).read_bytes() != (current / name).read_bytes():
            out.append(f"{rel / name}: out of date (run make release)")
    for sub in cmp.common_dirs:
        out += _diff(fresh / sub, current / sub, base)
    return out


if __name__ == "__main__":  # pragma: no cover
    print(generate(), REPO)
