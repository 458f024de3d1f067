"""Summary statistics shared by the evaluation suites and the benchmarks.

Standard library only: a benchmark importing it does not pay for loading the graph, the models or
the index (`evals.metrics` pulls in the turn runner).
"""

from __future__ import annotations

import math
from collections.abc import Sequence


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile: the smallest value with at least q% of the values at or below it.

    The rank is `ceil(q / 100 * n)` (at least 1) of the sorted values, so the result is always one
    of the values, never an interpolation. q is in 0..100; an empty sequence gives 0.0.
    """
    if not 0 <= q <= 100:
        raise ValueError(f"percentile q must be within 0..100, got {q}")
    if not values:
        return 0.0
    ordered = sorted(values)
    # q * n first: for a whole q the product is exact, where q / 100 (0.07 say) is not.
    rank = max(1, math.ceil(q * len(ordered) / 100))
    return ordered[rank - 1]
