"""dlcourse: the shared library of the deep-learning course.

Modules in teaching order: ``data`` (offline data sets), ``reference``
(reference implementations), ``checks`` (what test cells call), ``exercises``
(what each graded exercise is), ``train`` (device-aware training helpers),
``widgets`` (slider-driven views).
"""

__version__ = "0.1.0"
