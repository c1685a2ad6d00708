"""The course's auto-grader: nbgrader for the bookkeeping, verdicts computed here.

``python -m grader release``            regenerate course/ from solutions/
``python -m grader handout``            build the student hand-out (no answers in it)
``python -m grader grade SUBMISSIONS``  grade student_id/assignment/notebook.ipynb folders

Who owns what: cli (options, the summary table), settings (limits, statuses and shared names), course (paths and
the nbgrader configuration), intake (folders, nbgrader's exchange, LMS archives), pipeline (the batch and the steps
of one submission), parallel (where submissions are graded: a process pool or a Dask cluster, and the one writer
that brings results into the gradebook), execute (the grader's two steps inside nbgrader's autograde),
illustration (the fast mode), sandbox, seccomp and runner (one sandboxed run), verdict (the one door to the judging
code), hidden (graded-cell discovery), static (reference use), stubs, release and handout (what students get),
report (the tables), classreport (the class report), feedback (sanitized pages), text (safe text). See README.md
("Grading") and docs/architecture.md ("Grading").
"""
