"""Requests per minute per key: a token bucket per key, in the serving process."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Bucket:
    tokens: float
    at: float


class RateLimiter:
    """Each key may make `per_minute` requests in any minute, in bursts of up to that many.

    `monotonic` is the clock (tests move their own). A key's bucket refills at per_minute/60
    tokens a second; a request takes one token or is told how many seconds until one is there.
    """

    def __init__(self, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._now = monotonic
        self._buckets: dict[int, _Bucket] = {}
        self._lock = threading.Lock()

    def take(self, key_id: int, per_minute: int) -> int:
        """0 when the request may go ahead, else the whole seconds to wait (Retry-After)."""
        rate = per_minute / 60.0
        now = self._now()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(float(per_minute), now)
            bucket.tokens = min(float(per_minute), bucket.tokens + (now - bucket.at) * rate)
            bucket.at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0
            return max(1, math.ceil((1.0 - bucket.tokens) / rate))
