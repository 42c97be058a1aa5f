"""Timing shared by the benchmarks: the median of repeated calls after one warm-up call, with
``torch.utils.benchmark`` (which synchronises CUDA around each measurement, so that a GPU run
times the work and not its launch)."""

from __future__ import annotations

import statistics
from collections.abc import Callable

from torch.utils import benchmark


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    fn()  # warm-up: allocator, thread pool, first-call dispatch
    timer = benchmark.Timer(stmt="fn()", globals={"fn": fn})
    return statistics.median(timer.timeit(1).mean for _ in range(repeats))
