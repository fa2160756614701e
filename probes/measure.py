"""Measure peak memory during a trial against a baseline taken when it starts."""
from __future__ import annotations

import os
import threading
import time
from typing import Optional

GIB = 1024**3


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Context manager. CUDA: peak allocated minus allocated at start. CPU: peak resident set size minus RSS at
    start, sampled every ``interval_s`` in a background thread."""

    def __init__(self, device: str, interval_s: float = 0.02):
        self.device = device
        self.interval_s = interval_s
        self.peak_gib: Optional[float] = None
        self._stop = threading.Event()

    def __enter__(self) -> "PeakMemory":
        if self.device == "cuda":
            import torch

            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self._start = torch.cuda.memory_allocated()
        else:
            self._start = _rss_bytes()
            self._peak = self._start
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self.interval_s)

    def read_gib(self) -> float:
        if self.device == "cuda":
            import torch

            return (torch.cuda.max_memory_allocated() - self._start) / GIB
        return (max(self._peak, _rss_bytes()) - self._start) / GIB

    def __exit__(self, *exc) -> None:
        self.peak_gib = round(max(self.read_gib(), 0.0), 4)
        if self.device != "cuda":
            self._stop.set()
            self._thread.join(timeout=1)
