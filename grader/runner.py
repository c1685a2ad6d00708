"""Runs INSIDE the grading sandbox: execute one notebook and write it back.

    python runner.py NOTEBOOK OUTPUT --cell-timeout S --max-output-bytes N

It only uses nbformat and nbclient, so it works where the grader's own code
is not visible. What it writes is untrusted on the way out: the grader takes
only the cells' outputs from it, by position, after checking its size.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import DeadKernelError


class CappedClient(NotebookClient):
    """An nbclient that stops keeping outputs past a byte budget (gigabytes of print)."""

    max_output_bytes = 20_000_000

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self._seen = 0
        self._capped = False

    def output(self, outs, msg, display_id, cell_index):
        content = msg.get("content", {})
        self._seen += len(str(content.get("text", ""))) + sum(len(str(v)) for v in content.get("data", {}).values())
        if self._seen > self.max_output_bytes:
            if not self._capped:
                self._capped = True
                outs.append(nbformat.v4.new_output(
                    "stream", name="stderr",
                    text=f"\n[grader] output over {self.max_output_bytes // 1_000_000} MB: the rest is dropped\n"))
            return None
        return super().output(outs, msg, display_id, cell_index)

    async def async_execute_cell(self, cell, cell_index, execution_count=None, store_history=True):
        start = time.monotonic()
        result = await super().async_execute_cell(cell, cell_index, execution_count, store_history)
        if time.monotonic() - start >= self.timeout and cell.cell_type == "code":
            # nbclient interrupted it: say so where the student will look.
            cell.outputs.append(nbformat.v4.new_output(
                "stream", name="stderr",
                text=f"\n[grader] CellTimeoutError: the cell ran longer than {self.timeout} s and was interrupted\n"))
        return result


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("notebook", type=Path)
    p.add_argument("output", type=Path)
    p.add_argument("--cell-timeout", type=int, default=120)
    p.add_argument("--max-output-bytes", type=int, default=20_000_000)
    args = p.parse_args()

    nb = nbformat.read(str(args.notebook), as_version=4)
    client = CappedClient(
        nb,
        timeout=args.cell_timeout,
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
        resources={"metadata": {"path": str(args.notebook.parent)}},
    )
    client.max_output_bytes = args.max_output_bytes
    status = {"status": "ok", "detail": ""}
    try:
        client.execute()
    except DeadKernelError as exc:
        status = {"status": "kernel_died", "detail": str(exc)[:300]}
    except Exception as exc:  # nbclient gave up on the notebook
        status = {"status": "execution_failed", "detail": f"{type(exc).__name__}: {str(exc)[:300]}"}
    args.output.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, str(args.output))
    (args.output.parent / (args.output.name + ".status.json")).write_text(json.dumps(status))
    return 0


if __name__ == "__main__":
    sys.exit(main())
