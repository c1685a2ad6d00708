"""Runs INSIDE the grading sandbox: execute one notebook and report it to the grader through a pipe.

    python runner.py NOTEBOOK --report-fd FD [--copy-from DIR] --cell-timeout S ...

It owns the sandbox's side of a run: copying the submission from its read-only
mount into the sandbox's own writable space (``--copy-from``; a tmpfs with a
size quota), executing the notebook with nbclient (each cell interrupted at
its time limit, the outputs kept within a byte budget), and reporting on the
file descriptor ``--report-fd``. The report is one JSON object a line: a
heartbeat when the kernel is up and before each cell (the grader stops a
sandbox that goes silent, see grader/sandbox.py), then ``{"event": "done"}``
with the run's status, the executed notebook and the results files the
kernel recorded (base64). Nothing is written for the grader anywhere else.

The runner makes itself non-dumpable and the report descriptor
non-inheritable before the kernel starts, so the kernel cannot reach that
descriptor (and ptrace is denied anyway). It only uses nbformat and nbclient,
so it works where the grader's own code is not visible. Everything it sends
is untrusted on the grader's side.

Before the kernel starts, the runner writes an IPython start-up file into the
kernel's own ``IPYTHONDIR`` (inside the sandbox, a tmpfs), ``STARTUP``: it
reseeds the process-wide random generators (Python's ``random``, NumPy's
legacy ``np.random``, and torch's once torch is imported) before every cell,
from the cell's position in the run. No cell can then change the random
numbers a later cell draws, so a cell the fast mode skips (grader/illustration.py)
changes no graded result through them, and a student's function that draws
from a global generator gets the same numbers on every run. With ``--without
MODULE`` it also refuses imports of that module (a notebook graded without
torch); under bubblewrap the module's files are not there at all, see
grader/sandbox.py, and this import hook only gives the message.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import shutil
import stat
import sys
import time
from pathlib import Path

# jsonschema (under nbformat) imports rfc3987_syntax when it can, which compiles 38 grammars: about a second of
# CPU for every notebook graded, for an "iri" format that no notebook schema uses. Without it jsonschema skips that
# format check and nothing else changes.
sys.modules.setdefault("rfc3987_syntax", None)

import nbformat  # noqa: E402
from nbclient import NotebookClient  # noqa: E402
from nbclient.exceptions import DeadKernelError  # noqa: E402

_RESULT_NAME = re.compile(r"^[A-Za-z0-9_.\-]{1,100}\.json$")
MAX_RESULT_FILES = 200


class Reporter:
    """JSON lines on the report descriptor; a broken pipe (the grader gave up) ends the runner."""

    def __init__(self, fd: int):
        os.set_inheritable(fd, False)
        self.file = os.fdopen(fd, "wb", buffering=0)

    def send(self, **message) -> None:
        data = (json.dumps(message, ensure_ascii=True, default=str) + "\n").encode("ascii")
        try:
            self.file.write(data)
        except BrokenPipeError:
            os._exit(3)


class CappedClient(NotebookClient):
    """An nbclient that reports each cell, and stops keeping outputs past a byte budget."""

    max_output_bytes = 0   # set from --max-output-bytes

    def __init__(self, *args, reporter: Reporter | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self._seen = 0
        self._capped = False
        self._reporter = reporter

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        self._seen += len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        if self._seen > self.max_output_bytes:
            if not self._capped:
                self._capped = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"\n[grader] output over {self.max_output_bytes // 2**20} MB: the rest is dropped\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    async def async_start_new_kernel_client(self):
        result = await super().async_start_new_kernel_client()
        if self._reporter:
            self._reporter.send(event="kernel")
        return result

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        if self._reporter:
            self._reporter.send(event="cell", index=cell_index)
        start = time.monotonic()
        result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if time.monotonic() - start >= self.timeout and cell.cell_type == "code":
            # nbclient interrupted it: say so where the student will look.
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text=f"\n[grader] CellTimeoutError: the cell ran longer than {self.timeout} s and was interrupted\n"))
        return result


STARTUP = """\
# Written by the grader (grader/runner.py) before the kernel started.
def _grader_startup(without, message):
    import random
    import sys

    count = [0]
    seeders = {"numpy": lambda m: m.random.seed(count[0]), "torch": lambda m: m.manual_seed(count[0])}

    def reseed(info=None):
        # Every cell starts from generators seeded by its position: what a skipped cell drew or seeded
        # cannot reach a later cell.
        count[0] += 1
        random.seed(count[0])
        for name, seed in seeders.items():
            module = sys.modules.get(name)
            if module is not None and getattr(module, "__spec__", None) is not None:
                seed(module)

    class Seeded:
        # numpy or torch imported for the first time inside a cell: seeded as soon as it is loaded.
        def __init__(self, loader, seed):
            self._loader, self._seed = loader, seed

        def create_module(self, spec):
            return self._loader.create_module(spec)

        def exec_module(self, module):
            self._loader.exec_module(module)
            self._seed(module)

        def __getattr__(self, name):
            return getattr(self._loader, name)

    class Hook:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in without:
                raise ImportError(message.format(name=name.split(".")[0]))
            if name not in seeders:
                return None
            for finder in sys.meta_path:
                if finder is not self and hasattr(finder, "find_spec"):
                    spec = finder.find_spec(name, path, target)
                    if spec is not None:
                        if spec.loader is not None:
                            spec.loader = Seeded(spec.loader, seeders[name])
                        return spec
            return None

    sys.meta_path.insert(0, Hook())
    get_ipython().events.register("pre_run_cell", reseed)


_grader_startup(WITHOUT, MESSAGE)
del _grader_startup
"""
WITHOUT_MESSAGE = ("{name} is not available while this notebook is graded: its exercises are graded without it, "
                   "so compute with NumPy")


def write_startup(ipython_dir: Path, without: list[str]) -> Path:
    """The kernel's start-up file (see the module docstring) in ``ipython_dir``'s default profile."""
    folder = ipython_dir / "profile_default" / "startup"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "00-grader.py"
    code = STARTUP.replace("WITHOUT, MESSAGE", f"{tuple(without)!r}, {WITHOUT_MESSAGE!r}")
    path.write_text(code, encoding="utf-8")
    return path


def _not_dumpable() -> None:
    """No /proc/<runner>/fd or /proc/<runner>/mem for the kernel (it runs as the same user)."""
    try:
        import ctypes

        ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)  # PR_SET_DUMPABLE, 0
    except (OSError, AttributeError):
        pass


def copy_submission(source: Path, dest: Path) -> None:
    """The submission's regular files and folders, from the read-only mount into the writable space."""
    for folder, dirs, files in os.walk(source):
        rel = Path(folder).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(folder, d))]
        for name in files:
            src = Path(folder) / name
            if stat.S_ISREG(os.lstat(src).st_mode):
                shutil.copyfile(src, dest / rel / name)


def collect_results(folder: Path, max_bytes: int) -> tuple[dict[str, str], list[str]]:
    """The results files the kernel wrote (regular files only, within ``max_bytes`` together), base64."""
    found: dict[str, str] = {}
    skipped: list[str] = []
    total = 0
    try:
        names = sorted(os.listdir(folder))
    except OSError:
        return found, skipped
    for name in names[:MAX_RESULT_FILES]:
        if not _RESULT_NAME.match(name):
            skipped.append(name)
            continue
        try:
            fd = os.open(folder / name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
        except OSError:
            skipped.append(name)
            continue
        with os.fdopen(fd, "rb") as f:
            if not stat.S_ISREG(os.fstat(f.fileno()).st_mode):
                skipped.append(name)
                continue
            data = f.read(max_bytes - total + 1)
        total += len(data)
        if total > max_bytes:
            skipped.append(name)
            break
        found[name] = base64.b64encode(data).decode("ascii")
    return found, skipped


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("notebook", type=Path)
    p.add_argument("--report-fd", type=int, required=True)
    p.add_argument("--copy-from", type=Path, default=None)
    p.add_argument("--results-dir", type=Path, required=True)
    p.add_argument("--cell-timeout", type=int, required=True)
    p.add_argument("--kernel-start-timeout", type=int, required=True)
    p.add_argument("--max-output-bytes", type=int, required=True)
    p.add_argument("--max-result-bytes", type=int, required=True)
    p.add_argument("--without", action="append", default=[], help="a module the kernel may not import")
    args = p.parse_args(argv)

    reporter = Reporter(args.report_fd)
    _not_dumpable()
    reporter.send(event="start")
    if args.copy_from is not None:
        try:
            copy_submission(args.copy_from, args.notebook.parent)
        except OSError as exc:
            reporter.send(event="done", status="execution_failed", notebook=None, results={}, skipped=[],
                          detail=f"the submission does not fit in the sandbox's writable space ({exc.strerror})")
            return 0
    # The grader always sets IPYTHONDIR (grader/sandbox.py); run by hand, the runner uses a folder of its own,
    # never the user's ~/.ipython.
    os.environ.setdefault("IPYTHONDIR", str(args.notebook.parent.resolve() / ".cache" / "ipython"))
    write_startup(Path(os.environ["IPYTHONDIR"]), args.without)
    nb = nbformat.read(str(args.notebook), as_version=4)
    client = CappedClient(
        nb,
        reporter=reporter,
        timeout=args.cell_timeout,
        startup_timeout=args.kernel_start_timeout,
        kernel_name="python3",  # whatever the notebook's metadata says
        allow_errors=True,
        interrupt_on_timeout=True,
        # A cell past its time is interrupted and marked, and the notebook goes on.
        error_on_timeout={
            "ename": "CellTimeoutError",
            "evalue": f"the cell ran longer than {args.cell_timeout} s and was interrupted",
            "traceback": [f"CellTimeoutError: the cell ran longer than {args.cell_timeout} s and was interrupted"],
        },
        record_timing=False,
        # The sandbox is torn down right after the report; a graceful shutdown would only make the report wait.
        shutdown_kernel="immediate",
        resources={"metadata": {"path": str(args.notebook.parent)}},
    )
    client.max_output_bytes = args.max_output_bytes
    status, detail = "ok", ""
    try:
        client.execute()
    except DeadKernelError as exc:
        status, detail = "kernel_died", str(exc)[:300]
    except Exception as exc:  # nbclient gave up on the notebook
        status, detail = "execution_failed", f"{type(exc).__name__}: {str(exc)[:300]}"
    results, skipped = collect_results(args.results_dir, args.max_result_bytes)
    reporter.send(event="done", status=status, detail=detail, notebook=nb, results=results, skipped=skipped)
    return 0


if __name__ == "__main__":
    sys.exit(main())
