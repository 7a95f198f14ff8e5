"""Therapy planning: fitting each order to apheresis, manufacturing, QC and courier capacity.

Pure code (no I/O): the plan's shape (``model``), the constraints every plan must satisfy
(``constraints``), a fast single-order planner (``greedy``) and the open book's re-planner (``cpsat``).
"""
