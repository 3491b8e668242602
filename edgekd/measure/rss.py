"""Peak resident memory of this process while a block runs (host RAM beside the latency)."""

from __future__ import annotations

import threading
import time


class RssSampler:
    """Sample this process's resident set size in a background thread.

    Use as a context manager; ``peak_bytes`` holds the largest RSS seen (including the
    samples taken on entry and exit, so a block shorter than one interval is still covered).
    """

    def __init__(self, interval_s: float = 0.005):
        import psutil

        self._process = psutil.Process()
        self.interval_s = interval_s
        self.peak_bytes = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def _sample(self) -> None:
        rss = self._process.memory_info().rss
        self.peak_bytes = max(self.peak_bytes, rss)
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            time.sleep(self.interval_s)

    def __enter__(self) -> RssSampler:
        self._sample()
        self._thread = threading.Thread(target=self._run, name="edgekd-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self._sample()
