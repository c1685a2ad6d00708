"""nbgrader's Execute step, replaced: run the notebook in the sandbox, keep only its outputs.

Registered in place of ``nbgrader.preprocessors.Execute`` in the autograde
pipeline (grader/course.py). For each notebook it

1. rebuilds the submission's working copy from scratch (nothing a previous run
   left there survives, and no symbolic link was staged into it),
2. hands the kernel this student's hidden cases (``.grading/inputs.json``),
3. executes the notebook in the sandbox (grader/sandbox.py) with limits,
4. harvests the recorded results into the grader's own protocol folder, which
   the submission never sees, reading each file defensively,
5. copies the outputs back into nbgrader's notebook, by position, keeping only
   inert output types (no HTML or JavaScript from a student's kernel reaches
   the feedback an instructor opens), and records how the run went.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import nbformat
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Enum, Integer, Unicode

from dlcourse.checks import protocol
from grader import sandbox

SAFE_MIME = ("text/plain", "image/png", "image/jpeg", "text/latex")
MAX_RESULT_BYTES = 50_000_000


class SandboxedExecute(NbGraderPreprocessor):
    """Execute the notebook in the grading sandbox (see grader/sandbox.py)."""

    work_root = Unicode("", help="folder of the submissions' working copies (one per student and assignment)"
                        ).tag(config=True)
    protocol_root = Unicode("", help="the grader's folder of hidden inputs and harvested results").tag(config=True)
    sandbox = Enum(["auto", "bwrap", "none"], "auto",
                   help="bwrap: require bubblewrap; none: limits and timeouts only; auto: bwrap when it works"
                   ).tag(config=True)
    cell_timeout = Integer(120, help="seconds a cell may run").tag(config=True)
    notebook_timeout = Integer(900, help="seconds the whole notebook may run").tag(config=True)
    memory_mb = Integer(3072, help="memory for the kernel and all it starts").tag(config=True)

    def preprocess(self, nb, resources):
        info = resources["nbgrader"]
        student, assignment, nb_id = info["student"], info["assignment"], info["notebook"]
        source = Path(resources["metadata"]["path"])
        work = Path(self.work_root) / student / assignment
        pdir = Path(self.protocol_root) / student / assignment
        _rebuild(work, source)
        nbformat.write(nb, str(work / f"{nb_id}.ipynb"))
        (work / ".grading").mkdir()
        shutil.copyfile(pdir / protocol.INPUTS, work / ".grading" / protocol.INPUTS)

        use_bwrap = self._use_bwrap()
        limits = sandbox.Limits(cell_timeout=self.cell_timeout, notebook_timeout=self.notebook_timeout,
                                memory_mb=self.memory_mb)
        result = sandbox.run_notebook(work, f"{nb_id}.ipynb", limits, use_bwrap=use_bwrap)
        harvested = _harvest(work, pdir)
        _merge_outputs(nb, result.notebook)
        status = {"notebook": nb_id, "status": result.status, "detail": result.detail,
                  "seconds": round(result.seconds, 2), "sandbox": result.sandbox, "recorded": harvested}
        (pdir / f"run-{nb_id}.json").write_text(json.dumps(status))
        self.log.info("executed %s/%s/%s: %s", student, assignment, nb_id, status)
        return nb, resources

    def _use_bwrap(self) -> bool:
        if self.sandbox == "none":
            return False
        ok = sandbox.bwrap_available()
        if self.sandbox == "bwrap" and not ok:
            raise RuntimeError("bubblewrap (bwrap) is required (--sandbox bwrap) but does not work here")
        if not ok:
            self.log.warning(WARNING)
        return ok


WARNING = ("NO SANDBOX: bubblewrap (bwrap) is missing or cannot create namespaces here. Submissions run with "
           "limits and timeouts only, as the grader's user, and can read what that user can read. "
           "Install bubblewrap (apt-get install bubblewrap) before grading real submissions.")


def _rebuild(work: Path, source: Path) -> None:
    """A fresh working copy: the submission's regular files and folders, nothing else."""
    if work.exists():
        shutil.rmtree(work)
    shutil.copytree(source, work, symlinks=True, ignore=_not_plain)
    for path in sorted(work.rglob("*"), reverse=True):  # links cannot come from the staged copy, but be sure
        if path.is_symlink():
            path.unlink()


def _not_plain(folder: str, names: list[str]) -> set[str]:
    base = Path(folder)
    skip = {".grading", ".executed"}
    return {n for n in names if n in skip or (base / n).is_symlink()
            or not ((base / n).is_file() or (base / n).is_dir())}


def _harvest(work: Path, pdir: Path) -> list[str]:
    """Copy what the kernel recorded into the grader's own folder, refusing anything odd."""
    inputs = json.loads((pdir / protocol.INPUTS).read_text())
    out_dir = pdir / protocol.OUTPUTS
    out_dir.mkdir(parents=True, exist_ok=True)
    found = []
    for name in inputs.get("exercises", {}):
        src = work / ".grading" / protocol.OUTPUTS / f"{protocol.check_name(name)}.json"
        try:
            data = sandbox.safe_read(src, work, MAX_RESULT_BYTES)
        except sandbox.UnsafeFileError:
            continue
        (out_dir / src.name).write_bytes(data)
        found.append(name)
    return found


def _merge_outputs(nb, executed: dict | None) -> None:
    """Outputs of the executed copy, by cell position, inert types only."""
    cells = executed.get("cells") if isinstance(executed, dict) else None
    if not isinstance(cells, list) or len(cells) != len(nb.cells):
        return
    for cell, done in zip(nb.cells, cells, strict=True):
        if cell.cell_type != "code" or not isinstance(done, dict):
            continue
        outputs = []
        for out in done.get("outputs", []) if isinstance(done.get("outputs"), list) else []:
            clean = _clean_output(out)
            if clean is not None:
                outputs.append(clean)
        cell.outputs = outputs
        count = done.get("execution_count")
        cell.execution_count = count if isinstance(count, int) else None


def _clean_output(out) -> nbformat.NotebookNode | None:
    if not isinstance(out, dict):
        return None
    kind = out.get("output_type")
    if kind == "stream":
        name = out.get("name") if out.get("name") in ("stdout", "stderr") else "stdout"
        text = out.get("text", "")
        text = "".join(text) if isinstance(text, list) else str(text)
        return nbformat.v4.new_output("stream", name=name, text=text)
    if kind == "error":
        tb = out.get("traceback", [])
        tb = [str(t) for t in tb] if isinstance(tb, list) else []
        return nbformat.v4.new_output("error", ename=str(out.get("ename", "Error")),
                                      evalue=str(out.get("evalue", "")), traceback=tb)
    if kind in ("display_data", "execute_result"):
        data = out.get("data", {})
        if not isinstance(data, dict):
            return None
        kept = {}
        for k in SAFE_MIME:
            if k in data:
                v = data[k]
                kept[k] = "".join(v) if isinstance(v, list) else str(v)
        if not kept:
            return None
        if kind == "execute_result":
            return nbformat.v4.new_output("execute_result", data=kept, execution_count=None)
        return nbformat.v4.new_output("display_data", data=kept)
    return None
