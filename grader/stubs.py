"""Student stubs that name their exercise: ``raise NotImplementedError("mse")``."""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions

_DEF = re.compile(r"^\s*def\s+([A-Za-z_]\w*)\s*\(", re.MULTILINE)


class NamedStubs(ClearSolutions):
    """nbgrader's ClearSolutions, with the function's name in the stub."""

    def _replace_solution_region(self, cell, language):  # type: ignore[override]
        if cell.cell_type == "code" and language in self.code_stub:
            head = cell.source.split(self.begin_solution_delimeter, 1)[0]
            names = _DEF.findall(head)  # the function whose body the solution is
            what = f"{names[-1]}: replace this line with your code" if names else "replace this line with your code"
            saved = dict(self.code_stub)
            self.code_stub = {**saved, language: f'raise NotImplementedError("{what}")'}
            try:
                return super()._replace_solution_region(cell, language)
            finally:
                self.code_stub = saved
        return super()._replace_solution_region(cell, language)
