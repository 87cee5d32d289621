"""Delivery times as a histogram: the buckets of seconds from creation to delivered (or read),
and the percentiles and shares read off the bucket counts.

The roll-up keeps, per day and filterable field, how many messages fell in each bucket
(data_access/rollup.py), so a percentile over 90 days reads a few thousand counts instead of
millions of messages. The price is precision: a percentile is placed inside its bucket by
linear interpolation, so it is exact only to its bucket's bounds: each bound is at most 1.5
times the one before from 5 s to 1 h (at most twice below 5 s and up to 2 days, then a week).
The shares within 5 s, 1 min and 1 h are exact: those are bounds.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from sqlalchemy import case, extract

# Each bucket holds the delays above the previous bound up to and including its own bound, in
# seconds; the first starts at 0 (a delay below 0, a clock behind another, counts there) and one
# more bucket past the last bound holds everything slower than a week.
BUCKET_BOUNDS: tuple[int, ...] = (
    1, 2, 3, 5, 7, 10, 15, 20, 30, 45, 60, 90, 120, 180, 300, 450, 600, 900, 1200, 1800, 2700,
    3600, 5400, 7200, 10800, 21600, 43200, 86400, 172800, 604800,
)  # fmt: skip
OPEN_BUCKET = len(BUCKET_BOUNDS)  # slower than the last bound
BUCKET_COUNT = OPEN_BUCKET + 1

# The shares of delivered messages the view shows, each a bucket bound so it is exact.
WITHIN_SECONDS = {"within_5s": 5, "within_1min": 60, "within_1h": 3600}
PERCENTILES = {"p50": 0.5, "p90": 0.9, "p99": 0.99}


def delay_seconds(later, earlier):
    """Seconds from `earlier` to `later` (two UTC timestamp columns), in the engine."""
    return extract("epoch", later - earlier)


def bucket_of(seconds):
    """The bucket number of a delay in seconds, as SQL."""
    return case(
        *((seconds <= bound, index) for index, bound in enumerate(BUCKET_BOUNDS)),
        else_=OPEN_BUCKET,
    )


def bucket_bounds(bucket: int) -> tuple[float, float | None]:
    """The bucket's lower and upper bound in seconds (None: no upper bound)."""
    lower = 0.0 if bucket == 0 else float(BUCKET_BOUNDS[bucket - 1])
    upper = float(BUCKET_BOUNDS[bucket]) if bucket < OPEN_BUCKET else None
    return lower, upper


def percentiles(counts: npt.ArrayLike, fraction: float) -> np.ndarray:
    """Per row of bucket counts (`counts[r, i]` messages of row r in bucket i), the delay below
    which `fraction` of the row's messages fall: the bucket where the running count reaches
    that rank, interpolated linearly between its bounds; the open bucket gives its lower bound.
    NaN for a row where nothing was counted."""
    counts = np.asarray(counts, dtype=np.int64).reshape(-1, BUCKET_COUNT)
    running = counts.cumsum(axis=1)
    total = running[:, -1]
    rank = fraction * total
    # The first bucket whose running count reaches the rank holds messages of its own (the
    # running count before it is below the rank).
    bucket = (running >= rank[:, None]).argmax(axis=1)
    rows = np.arange(len(counts))
    count = counts[rows, bucket]
    before = running[rows, bucket] - count
    lower, upper = _LOWER[bucket], _UPPER[bucket]
    with np.errstate(invalid="ignore", divide="ignore"):
        inside = lower + (upper - lower) * (rank - before) / count
    found = np.where(bucket == OPEN_BUCKET, lower, inside)
    return np.where(total > 0, found, np.nan)


def counts_within(counts: npt.ArrayLike, seconds: int) -> np.ndarray:
    """Per row of bucket counts, how many counted messages took at most `seconds` (a bound)."""
    last = BUCKET_BOUNDS.index(seconds)
    return np.asarray(counts, dtype=np.int64).reshape(-1, BUCKET_COUNT)[:, : last + 1].sum(axis=1)


_LOWER = np.array([bucket_bounds(b)[0] for b in range(BUCKET_COUNT)])
_UPPER = np.array([bucket_bounds(b)[1] or np.nan for b in range(BUCKET_COUNT)])
