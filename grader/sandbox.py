"""Execute a submission's notebook in a sandbox, with limits, from the grader's side.

With bubblewrap (``bwrap``) the notebook runs in fresh namespaces: no network,
its own process tree, a read-only view of just the system libraries, Python and
the course library, a private /tmp, and the submission's own working copy
(mounted at /submission) as the only writable place. Solutions, the gradebook,
other submissions, the grader and ``dlcourse.reference`` are not there.

Around it, on both paths: a cgroup per run caps processes and memory (when the
machine lets us create one), rlimits cap CPU time, file size and core dumps,
nbclient caps each cell's time and the output kept, and a wall-clock timeout
kills the whole run. Without bubblewrap the grader warns loudly and keeps the
limits and timeouts; see README ("What the sandbox protects against").
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import dlcourse

RUNNER = Path(__file__).with_name("runner.py")
INSIDE = Path("/submission")
INSIDE_RUNNER = "/opt/dlcourse-grader/runner.py"
CGROUP_ROOT = Path("/sys/fs/cgroup")
# Library parts a submission must not reach while grading: the answers, and how they are judged.
HIDDEN_PACKAGES = ("reference", "exercises")
BLOCKER = 'raise ImportError("{name} is not available while grading: your function must compute its result itself")\n'


@dataclass(frozen=True)
class Limits:
    cell_timeout: int = 120          # seconds per cell (then the cell is interrupted)
    notebook_timeout: int = 900      # seconds for the whole notebook (then everything is killed)
    memory_mb: int = 3072            # kernel and all it starts
    max_processes: int = 64
    max_file_mb: int = 64            # largest file it may write
    max_output_mb: int = 20          # outputs kept from the notebook
    max_notebook_mb: int = 100       # executed notebook read back


@dataclass
class RunResult:
    notebook: dict | None            # the executed notebook as JSON data, or None
    status: str                      # ok, timeout, kernel_died, killed, execution_failed, no_result
    detail: str
    seconds: float
    sandbox: str                     # "bwrap" or "none"


def bwrap_available() -> bool:
    exe = shutil.which("bwrap")
    if not exe:
        return False
    probe = subprocess.run([exe, "--unshare-all", "--ro-bind", "/", "/", "true"], capture_output=True, timeout=30)
    return probe.returncode == 0


def _library_root() -> Path:
    return Path(dlcourse.__file__).resolve().parent.parent  # the folder holding dlcourse/


def _env(inside: bool, work: Path) -> dict[str, str]:
    """The kernel's whole environment: nothing of the grader's."""
    home = INSIDE if inside else work
    venv_bin = str(Path(sys.executable).parent)
    return {
        "PATH": f"{venv_bin}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "PYTHONSAFEPATH": "1",            # files beside the notebook never shadow packages
        "PYTHONDONTWRITEBYTECODE": "1",
        "PYTHONNOUSERSITE": "1",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": str((INSIDE if inside else work) / ".cache" / "matplotlib"),
        "IPYTHONDIR": "/tmp/ipython" if inside else str(work / ".cache" / "ipython"),
        "JUPYTER_RUNTIME_DIR": "/tmp/jupyter" if inside else str(work / ".cache" / "jupyter"),
        "JUPYTER_CONFIG_DIR": "/tmp/jupyter-config" if inside else str(work / ".cache" / "jupyter-config"),
        "JUPYTER_PLATFORM_DIRS": "1",
        "OMP_NUM_THREADS": "1",  # one kernel per core when grading in parallel; small models lose nothing
        "OPENBLAS_NUM_THREADS": "1",
        "MKL_NUM_THREADS": "1",
        "DLCOURSE_GRADING_DIR": str((INSIDE if inside else work) / ".grading"),
    }


def bwrap_command(work: Path, notebook: str, limits: Limits, blocker_dir: Path) -> list[str]:
    """The bubblewrap command line: a whitelist of read-only binds plus /submission."""
    prefix = Path(sys.prefix)          # the virtual environment
    base = Path(sys.base_prefix)       # the Python it was made from
    lib = _library_root()
    cmd = ["bwrap", "--unshare-all", "--die-with-parent", "--new-session", "--cap-drop", "ALL",
           "--uid", "65534", "--gid", "65534", "--hostname", "sandbox"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "lib", "lib64", "sbin"):
        p = Path("/") / top
        if p.is_symlink():
            cmd += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            cmd += ["--ro-bind", str(p), str(p)]
    for etc in ("ld.so.cache", "ld.so.conf", "ld.so.conf.d", "fonts", "localtime", "nsswitch.conf",
                "passwd", "group", "hosts", "mime.types"):
        if (Path("/etc") / etc).exists():
            cmd += ["--ro-bind", f"/etc/{etc}", f"/etc/{etc}"]
    cmd += ["--proc", "/proc", "--dev", "/dev", "--size", str(512 * 2**20), "--tmpfs", "/tmp"]
    for path in dict.fromkeys([base, prefix, lib]):   # dedupe, keep order
        if not str(path).startswith("/usr/"):
            cmd += ["--ro-bind", str(path), str(path)]
    for name in HIDDEN_PACKAGES:
        hidden = lib / "dlcourse" / name
        cmd += ["--tmpfs", str(hidden), "--ro-bind", str(blocker_dir / f"{name}.py"), str(hidden / "__init__.py")]
    cmd += ["--ro-bind", str(RUNNER), INSIDE_RUNNER]
    cmd += ["--bind", str(work), str(INSIDE), "--chdir", str(INSIDE), "--clearenv"]
    for key, value in _env(True, work).items():
        cmd += ["--setenv", key, value]
    cmd += [sys.executable, INSIDE_RUNNER, str(INSIDE / notebook), str(INSIDE / ".executed" / notebook),
            "--cell-timeout", str(limits.cell_timeout), "--max-output-bytes", str(limits.max_output_mb * 2**20)]
    return cmd


def plain_command(work: Path, notebook: str, limits: Limits) -> list[str]:
    return [sys.executable, str(RUNNER), str(work / notebook), str(work / ".executed" / notebook),
            "--cell-timeout", str(limits.cell_timeout), "--max-output-bytes", str(limits.max_output_mb * 2**20)]


class Cgroups:
    """A pids and a memory cgroup (v1 or v2) for one run, when this machine lets us make them."""

    def __init__(self, limits: Limits):
        self.dirs: list[Path] = []
        name = f"dlcourse-{uuid.uuid4().hex[:12]}"
        v2 = CGROUP_ROOT / "cgroup.controllers"
        settings = {"pids": {"pids.max": str(limits.max_processes)},
                    "memory": {"memory.limit_in_bytes": str(limits.memory_mb * 2**20)}}
        try:
            if v2.exists():
                d = CGROUP_ROOT / name
                d.mkdir()
                self.dirs.append(d)
                (d / "pids.max").write_text(str(limits.max_processes))
                (d / "memory.max").write_text(str(limits.memory_mb * 2**20))
                (d / "memory.swap.max").write_text("0")
            else:
                for controller, files in settings.items():
                    d = CGROUP_ROOT / controller / name
                    d.mkdir()
                    self.dirs.append(d)
                    for f, v in files.items():
                        (d / f).write_text(v)
        except OSError:
            self.remove()
            self.dirs = []

    @property
    def active(self) -> bool:
        return bool(self.dirs)

    def enter(self) -> None:
        """Called in the child before exec: move it (and so all it starts) into the cgroups."""
        for d in self.dirs:
            (d / "cgroup.procs").write_text(str(os.getpid()))

    def oom_killed(self) -> bool:
        for d in self.dirs:
            for f in ("memory.oom_control", "memory.events"):
                p = d / f
                if p.exists() and any(
                    line.split()[0] in ("oom_kill", "oom") and line.split()[-1] != "0"
                    for line in p.read_text().splitlines() if line.split()
                ):
                    return True
        return False

    def kill_all(self) -> None:
        for d in self.dirs:
            try:
                for pid in (d / "cgroup.procs").read_text().split():
                    try:
                        os.kill(int(pid), signal.SIGKILL)
                    except ProcessLookupError:
                        pass
            except OSError:
                pass

    def remove(self) -> None:
        for d in self.dirs:
            for _ in range(50):
                try:
                    d.rmdir()
                    break
                except OSError:
                    self.kill_all()
                    time.sleep(0.1)


def _preexec(limits: Limits, cgroups: Cgroups):
    def setup() -> None:
        cgroups.enter()
        cpu = limits.notebook_timeout * 2
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
        size = limits.max_file_mb * 2**20
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.max_processes * 4, limits.max_processes * 4))
        if not cgroups.active:  # no memory cgroup: fall back to an address-space cap
            mem = limits.memory_mb * 2**20 * 4  # virtual size runs far above resident size (torch)
            resource.setrlimit(resource.RLIMIT_AS, (mem, mem))
    return setup


def run_notebook(work: Path, notebook: str, limits: Limits, *, use_bwrap: bool) -> RunResult:
    """Execute ``work/notebook`` (cwd ``work``) and read back the executed notebook."""
    executed = work / ".executed"
    if executed.exists():
        shutil.rmtree(executed)
    blocker_dir = work.parent / f".{work.name}-blockers"   # outside the submission's reach
    blocker_dir.mkdir(parents=True, exist_ok=True)
    for name in HIDDEN_PACKAGES:
        (blocker_dir / f"{name}.py").write_text(BLOCKER.format(name=f"dlcourse.{name}"))
    _seed_font_cache(work / ".cache" / "matplotlib")
    if use_bwrap:
        cmd = bwrap_command(work, notebook, limits, blocker_dir)
        env = {}
    else:
        cmd = plain_command(work, notebook, limits)
        env = _env(False, work)
    cgroups = Cgroups(limits)
    start = time.monotonic()
    status, detail = "ok", ""
    try:
        proc = subprocess.Popen(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, start_new_session=True,
                                preexec_fn=_preexec(limits, cgroups))
        try:
            proc.wait(timeout=limits.notebook_timeout)
        except subprocess.TimeoutExpired:
            status, detail = "timeout", f"the notebook ran longer than {limits.notebook_timeout} s and was stopped"
            _kill(proc, cgroups)
        if status == "ok" and proc.returncode != 0:
            status, detail = "killed", f"the notebook's runner ended with code {proc.returncode}"
    finally:
        oom = cgroups.oom_killed()
        _kill_quietly(cgroups)
    seconds = time.monotonic() - start
    nb_data, read_status, read_detail = _read_back(executed / notebook, limits)
    if status == "ok":
        status, detail = read_status, read_detail
    if oom and status in ("ok", "kernel_died", "killed"):
        status, detail = "kernel_died", f"the kernel was stopped at the memory limit ({limits.memory_mb} MB)"
    return RunResult(nb_data, status, detail, seconds, "bwrap" if use_bwrap else "none")


def _seed_font_cache(target: Path) -> None:
    """Copy the grader's matplotlib font list in, so each run skips rebuilding it (seconds)."""
    try:
        import matplotlib

        cached = sorted(Path(matplotlib.get_cachedir()).glob("fontlist-*.json"))
    except Exception:
        return
    if cached:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(cached[-1], target / cached[-1].name)


def _kill(proc: subprocess.Popen, cgroups: Cgroups) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    cgroups.kill_all()
    proc.wait()


def _kill_quietly(cgroups: Cgroups) -> None:
    cgroups.kill_all()
    cgroups.remove()


class UnsafeFileError(Exception):
    pass


def safe_read(path: Path, root: Path, max_bytes: int) -> bytes:
    """Read a file the submission could have written: only a regular file inside ``root``
    (no symbolic link out, no device, no fifo), and no more than ``max_bytes``."""
    real = Path(os.path.realpath(path))
    if not real.is_relative_to(Path(os.path.realpath(root))):
        raise UnsafeFileError(f"{path.name} points outside the submission")
    try:
        st = os.lstat(real)
    except FileNotFoundError:
        raise UnsafeFileError(f"{path.name} is missing") from None
    if not stat.S_ISREG(st.st_mode):
        raise UnsafeFileError(f"{path.name} is not a regular file")
    if st.st_size > max_bytes:
        raise UnsafeFileError(f"{path.name} is larger than {max_bytes // 2**20} MB")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UnsafeFileError(f"{path.name} is larger than {max_bytes // 2**20} MB")
    return data


def _read_back(path: Path, limits: Limits) -> tuple[dict | None, str, str]:
    """The executed notebook and the runner's word on it, as untrusted data."""
    root = path.parent.parent
    try:
        nb = json.loads(safe_read(path, root, limits.max_notebook_mb * 2**20))
    except UnsafeFileError as exc:
        return None, "no_result", f"the notebook's execution produced no usable result ({exc})"
    except (ValueError, UnicodeDecodeError):
        return None, "no_result", "the executed notebook could not be read"
    status, detail = "ok", ""
    status_file = path.with_name(path.name + ".status.json")
    try:
        reported = json.loads(safe_read(status_file, root, 10_000))
        if reported.get("status") in ("kernel_died", "execution_failed"):
            status = str(reported["status"])
            detail = "the kernel died" if status == "kernel_died" else "execution stopped"
            detail += f" ({str(reported.get('detail', ''))[:200]})"
    except (OSError, ValueError, AttributeError, UnsafeFileError):
        pass
    return nb if isinstance(nb, dict) else None, status, detail
