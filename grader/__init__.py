"""The course's auto-grader: nbgrader for the bookkeeping, verdicts computed here.

``python -m grader release``            regenerate course/ from solutions/
``python -m grader handout``            build the student hand-out (no answers in it)
``python -m grader grade SUBMISSIONS``  grade student_id/assignment/notebook.ipynb folders

Who owns what: cli (options), settings (limits and shared names), course (paths and the nbgrader
configuration), pipeline (the batch and the steps of one submission), execute (the grader's two steps inside
nbgrader's autograde), sandbox, seccomp and runner (one sandboxed run), verdict (the one door to the judging
code), hidden (graded-cell discovery), static (reference use), stubs, release and handout (what students get),
report (the tables), feedback (sanitized pages), text (safe text). See README.md ("Grading") and
docs/architecture.md ("Grading").
"""
