"""The course's auto-grader: nbgrader for the bookkeeping, verdicts computed here.

``python -m grader release``            regenerate course/ from solutions/
``python -m grader grade SUBMISSIONS``  grade student_id/assignment/notebook.ipynb folders

See README.md ("Grading") and docs/architecture.md ("Grading").
"""
