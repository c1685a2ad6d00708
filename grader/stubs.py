"""Student stubs that name their exercise: ``raise NotImplementedError("mse: ...")``.

It owns ``NamedStubs``, the ClearSolutions step of nbgrader's generate_assignment as the release uses it
(grader/course.py): each solution region becomes one line that names the function it stands in.
"""

from __future__ import annotations

import re

from nbgrader.preprocessors import ClearSolutions

_DEF = re.compile(r"^(\s*)def\s+([A-Za-z_]\w*)\s*\(")
_CLASS = re.compile(r"^(\s*)class\s+([A-Za-z_]\w*)\b")


class NamedStubs(ClearSolutions):
    """nbgrader's ClearSolutions, with the enclosing function's name in each code stub."""

    def _replace_solution_region(self, cell, language):  # type: ignore[override]
        if cell.cell_type != "code" or language not in self.code_stub:
            return super()._replace_solution_region(cell, language)
        out, in_solution, replaced, last_def = [], False, False, None
        classes: list[tuple[int, str]] = []  # (indent, name) of the classes the current line is in
        for line in cell.source.split("\n"):
            if self.begin_solution_delimeter in line:
                if in_solution:
                    raise RuntimeError("encountered nested begin solution statements")
                in_solution, replaced = True, True
                indent = re.match(r"\s*", line).group(0)
                what = f"{last_def}: " if last_def else ""
                what += "replace this line with your code"
                out.append(f'{indent}raise NotImplementedError("{what}")')
            elif self.end_solution_delimeter in line:
                if not in_solution:
                    raise RuntimeError("end solution statement without a begin")
                in_solution = False
            elif not in_solution:
                if line.strip():
                    indent = len(line) - len(line.lstrip())
                    classes = [(i, n) for i, n in classes if i < indent]  # left the classes we dedented out of
                match = _CLASS.match(line)
                if match:
                    classes.append((len(match.group(1)), match.group(2)))
                match = _DEF.match(line)
                if match:
                    # the function whose body the next solution is; a method is named with its class
                    owner = [n for i, n in classes if i < len(match.group(1))]
                    last_def = ".".join([*owner[-1:], match.group(2)])
                out.append(line)
        if in_solution:
            raise RuntimeError("no end solution statement")
        cell.source = "\n".join(out)
        return replaced
