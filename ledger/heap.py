"""The garbage collector's settings for processes whose heap is mostly kept, not churned.

CPython's collector walks the young generation every 700 net allocations and, now and then,
every object it tracks. A process that holds a large heap for its whole life (a served
worker's start-up: modules, the container, the catalogue; a rebuild's share: what it learnt of
the streams, units and cases so far) and makes almost no reference cycles pays for those walks
without getting anything back (docs/PERFORMANCE.md: ~15 % of a worker's CPU under batch ingest,
~5-13 % of a rebuild's share, whose full collections found 25 objects in 100k events).
"""

from __future__ import annotations

import gc

YOUNG_GENERATION_THRESHOLD = 10_000


def keep_what_lives() -> None:
    """Leave every object alive now out of every later collection (``gc.freeze``: they are
    never freed, so call it only where they live as long as the process), and collect the young
    generation after ``YOUNG_GENERATION_THRESHOLD`` allocations instead of 700."""
    gc.freeze()
    gc.set_threshold(YOUNG_GENERATION_THRESHOLD, *gc.get_threshold()[1:])
