"""Execute every solution notebook headless and print seconds per notebook.

Budget (docs/architecture.md, "Budgets"): each under 60 s on a 2-core CPU with no GPU; the whole
course under 5 minutes. The notebooks run as an instructor runs them: hidden
tests included, compared with the reference in the kernel.

    python benchmarks/bench_notebooks.py [NOTEBOOK_DIR ...] [--repeat N]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from jupyter_client.manager import KernelManager
from nbclient import NotebookClient

REPO = Path(__file__).resolve().parents[1]
BUDGET_S = 60.0
COURSE_BUDGET_S = 300.0


def run(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(str(path), as_version=4)
    env_backend = os.environ.get("MPLBACKEND")
    os.environ["MPLBACKEND"] = "Agg"
    try:
        # IPC sockets, not TCP: a local kernel needs no network, and ipykernel then has no warning to print.
        with tempfile.TemporaryDirectory(prefix="dlcourse-bench-") as sockets:
            km = KernelManager(kernel_name="python3", transport="ipc", ip=str(Path(sockets) / "kernel"))
            client = NotebookClient(nb, km=km, timeout=timeout, resources={"metadata": {"path": str(path.parent)}})
            start = time.perf_counter()
            try:
                client.execute()
                return time.perf_counter() - start
            finally:
                if km.has_kernel:
                    km.shutdown_kernel(now=True)
    finally:
        if env_backend is None:
            os.environ.pop("MPLBACKEND", None)
        else:
            os.environ["MPLBACKEND"] = env_backend


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="*", type=Path, help="solution folders (default: all of solutions/)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per notebook; the median is reported")
    args = parser.parse_args()
    folders = args.folders or sorted(p for p in (REPO / "solutions").iterdir() if p.is_dir())
    notebooks = [nb for f in folders for nb in sorted(f.glob("*.ipynb"))]
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, Python {sys.version.split()[0]}")
    print(f"{'notebook':40s} {'seconds':>8s}  budget {BUDGET_S:.0f} s")
    total, over = 0.0, 0
    for nb in notebooks:
        seconds = statistics.median(run(nb) for _ in range(args.repeat))
        total += seconds
        ok = seconds < BUDGET_S
        over += not ok
        print(f"{nb.parent.name + '/' + nb.name:40s} {seconds:8.1f}  {'PASS' if ok else 'OVER'}", flush=True)
    verdict = "PASS" if total < COURSE_BUDGET_S else "OVER"
    print(f"{'whole course':40s} {total:8.1f}  {verdict} (budget {COURSE_BUDGET_S:.0f} s)")
    return 1 if over or total >= COURSE_BUDGET_S else 0


if __name__ == "__main__":
    raise SystemExit(main())
