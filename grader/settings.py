"""Every grading setting, in one place: the limits, and the names the grader shares with the kernel.

``Limits`` is built once from the command line (grader/cli.py) and passed down
unchanged: to the pipeline (staging sizes), to nbgrader's autograde
preprocessors (grader/execute.py, through the nbgrader configuration), to the
sandbox (timeouts, memory, quotas) and, on its command line, to the runner
inside the sandbox (cell timeout, output budget). Nothing below restates a
default.

The names shared with the kernel come from their owners: the grading folder's
environment variable from the library's protocol (through grader/verdict.py,
the grader's one door to the judging code) and the hidden packages here.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

MB = 2**20

# Library packages a submission must not reach while grading: the answers, and how they are judged.
# The sandbox replaces them with a module that raises ImportError; grader/static.py looks for them in
# the student's code (the only guard left with --sandbox none).
HIDDEN_PACKAGES = ("reference", "exercises")


@dataclass(frozen=True)
class Limits:
    """What one submission may use. Seconds and megabytes (MB = 2**20 bytes)."""

    cell_timeout: int = 120            # one cell; then it is interrupted and the notebook goes on
    notebook_timeout: int = 900        # the whole notebook; then everything is killed
    stall_grace: int = 30              # silence from the runner past the cell timeout: the sandbox is frozen
    kernel_start_timeout: int = 60     # starting the kernel
    memory_mb: int = 3072              # the kernel and all it starts (cgroup, else address space)
    max_processes: int = 64
    max_file_mb: int = 64              # largest file the kernel may write (RLIMIT_FSIZE)
    scratch_mb: int = 512              # size of each writable tmpfs in the sandbox: /submission and /tmp
    max_output_mb: int = 20            # cell outputs kept from one notebook
    max_notebook_mb: int = 100         # the executed notebook read back from the runner
    max_result_mb: int = 50            # the results files of one notebook, together
    max_staged_notebook_mb: int = 50   # a submitted notebook
    max_submission_mb: int = 200       # a whole submission folder

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if not isinstance(value, int) or isinstance(value, bool) or value <= 0:
                raise ValueError(f"Limits.{f.name} must be a positive whole number, got {value!r}")

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def report_bytes(self) -> int:
        """The most the runner may send back: the executed notebook plus its results files."""
        return (self.max_notebook_mb + self.max_result_mb) * MB


SANDBOX_MODES = ("bwrap", "none")

# How a submission ends (grader/pipeline.py): every status but the first means it could not be fully graded.
GRADED = "graded"
STATUSES = (GRADED, "timed out", "crashed", "invalid notebook", "missing notebook", "refused")

# A cell the instructor marks with this tag in the source notebook is only illustration (a long training demo,
# a widget, a plot): the fast grading mode (grader/illustration.py) may skip it when nothing graded needs it.
ILLUSTRATION_TAG = "illustration"
