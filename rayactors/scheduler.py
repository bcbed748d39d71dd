"""The collection scheduler inside each storage actor: perf windows and resource sync.

Windows are ``[end - interval, end)`` on interval boundaries; each is fetched as
``[start - overlap, end)`` like Delfin and trimmed back to its own range, so overlap never
writes a point twice. Every window is either written (one file, deterministic name), still
pending (durably in the registry, retried oldest first while the array keeps history), or
lost (outside retention: counted and alerted). Nothing is skipped silently.
"""
from __future__ import annotations

import collections
import logging
import random
import threading
import time
from typing import Any, Callable, Optional

import pyarrow as pa
import pyarrow.compute as pc
import ray

from drivers.errors import DelfinError

from . import lean
from .collection_report import CollectionReporter, Window
from .metrics.realtime import NewSamples
from .metrics.sink import HOUR_MS, ParquetSink

log = logging.getLogger("delfin_dm.scheduler")

MAX_WINDOWS_PER_TICK = 30


def now_ms() -> int:
    return int(time.time() * 1000)


class CollectionScheduler:
    def __init__(self, storage_id: str, *, interval_s: int, overlap_s: int, sync_interval_s: int,
                 historic: bool, retention_s: int, resource_metrics: Optional[dict],
                 collect: Callable[[int, int], pa.Table], is_ready: Callable[[], bool],
                 sync: Callable[[], Any], supervisor: Callable[[], Any],
                 record: Callable[[int, list[Window], list[Window]], Any], sink: ParquetSink,
                 recent_windows: int = 0, keep: Callable[[pa.Table], Any] = lambda table: table,
                 perf: bool = True,
                 synced_at: Callable[[], Optional[float]] = lambda: None) -> None:
        self.storage_id = storage_id
        self.interval_ms = int(interval_s) * 1000
        self.overlap_ms = int(overlap_s) * 1000
        self.sync_interval_s = sync_interval_s
        self.historic, self.retention_ms = historic, int(retention_s) * 1000
        self.resource_metrics = resource_metrics
        self._collect, self._is_ready, self._sync, self._synced_at = collect, is_ready, sync, synced_at
        self._supervisor, self.sink = supervisor, sink
        self.recent: collections.deque = collections.deque(maxlen=recent_windows)
        self._keep = keep                      # what ``recent`` holds of a window (the actor: a reference)
        self.jitter_s = random.uniform(0, min(interval_s / 2.0, 10.0))
        self.last_end: Optional[int] = None
        #: a real-time (not historic) driver's samples not written yet
        self.new_samples = None if historic else NewSamples(lambda: sink.newest(storage_id))
        self.pending: list[Window] = []
        self.stats = {"windows_collected": 0, "points_collected": 0, "windows_lost": 0,
                      "windows_pending": 0, "last_success": None, "last_duration_s": None,
                      "last_error": None, "interval_s": interval_s, "syncs": 0, "last_sync": None}
        self.perf = perf                       # False: the driver has no perf metrics, sync only
        self._stop = threading.Event()
        self._lock = threading.Lock()
        # ``record`` reaches the supervisor's record_collection as the actor's other reports do
        self.reporter = CollectionReporter(record, self._stop, f"storage {storage_id}")
        self._threads: list[threading.Thread] = []

    # -- lifecycle ------------------------------------------------------------------------------
    def start(self) -> None:
        for target, name in ((self._perf_loop, "perf"), (self._sync_loop, "sync")):
            t = threading.Thread(target=target, daemon=True, name=f"sched-{name}")
            t.start()
            self._threads.append(t)

    def stop(self) -> None:
        self._stop.set()

    def _load_durable_state(self) -> bool:
        try:
            state = ray.get(self._supervisor().collection_state.remote(self.storage_id), timeout=30)
        except Exception as exc:
            log.warning("storage %s: collection state unavailable: %s", self.storage_id, type(exc).__name__)
            return False
        self.last_end = state["last_end"]
        self.pending = [tuple(w) for w in state["pending"]]
        self.stats["windows_lost"] = state["windows_lost"]
        return True

    def _perf_loop(self) -> None:
        if not self.perf:
            return
        while not self._load_durable_state():
            if self._stop.wait(2.0):
                return
        while not self._stop.is_set():
            try:
                self.tick(now_ms())
            except Exception:  # never let the loop die; the next tick retries
                log.exception("storage %s: collection tick failed", self.storage_id)
            now = time.time()
            interval = self.interval_ms / 1000.0
            next_tick = (now // interval + 1) * interval + self.jitter_s
            if next_tick - now > interval:
                next_tick -= interval
            self._stop.wait(max(0.05, next_tick - now))

    def _sync_loop(self) -> None:
        """A sync every ``sync_interval_s``, counted from the last one however it was started
        (registration syncs once: the scheduler does not sync again right after it)."""
        delay = random.uniform(1.0, max(1.0, min(30.0, self.sync_interval_s / 10.0)))
        while not self._stop.wait(delay):
            delay = self.sync_interval_s
            last = self._synced_at()
            if last is not None and time.time() - last < self.sync_interval_s / 2:
                delay = max(1.0, last + self.sync_interval_s - time.time())
                continue
            if not self._is_ready():
                continue
            try:
                self._sync()
                self.stats["syncs"] += 1
                self.stats["last_sync"] = time.time()
            except Exception as exc:
                log.warning("storage %s: resource sync failed: %s", self.storage_id, type(exc).__name__)

    # -- one tick -------------------------------------------------------------------------------
    def tick(self, now: int) -> None:
        with self._lock:
            boundary = now // self.interval_ms * self.interval_ms
            if self.last_end is None:
                self.last_end = boundary - self.interval_ms
            new = [(e - self.interval_ms, e, "scheduled")
                   for e in range(self.last_end + self.interval_ms, boundary + 1, self.interval_ms)]
            by_start = {w[0]: w for w in new}
            by_start.update({w[0]: w for w in self.pending})
            queue = [by_start[k] for k in sorted(by_start)]
            current_start = boundary - self.interval_ms
            keep: list[Window] = []
            lost: list[Window] = []
            budget = MAX_WINDOWS_PER_TICK
            for w in queue:
                start, end, _ = w
                collectable = start >= now - self.retention_ms if self.historic else start >= current_start
                if not collectable:
                    lost.append(w)
                    continue
                if budget <= 0 or not self._is_ready():
                    keep.append((start, end, "not_ready" if budget > 0 else "backlog"))
                    continue
                budget -= 1
                try:
                    self._collect_window(start, end)
                except DelfinError as exc:
                    keep.append((start, end, exc.error_code))
                    self.stats["last_error"] = exc.to_dict()
                except Exception as exc:
                    log.exception("storage %s: window %s failed", self.storage_id, start)
                    keep.append((start, end, type(exc).__name__))
            self.pending = _dedupe(keep)
            self.last_end = max(self.last_end, boundary)
            self.stats["windows_pending"] = len(self.pending)
            self.stats["windows_lost"] += len(lost)
            self._report(lost)
            if now % HOUR_MS < self.interval_ms * 2 or lost:   # once an hour, just after it turns
                try:
                    self.sink.compact(self.storage_id, older_than_ms=now - 2 * self.interval_ms)
                except Exception:
                    log.exception("storage %s: compaction failed", self.storage_id)

    def _collect_window(self, start: int, end: int) -> None:
        t0 = time.perf_counter()
        table = self._collect(start - self.overlap_ms, end)
        if self.new_samples is None:                  # overlap rows were written with their window
            ts = table.column("timestamp")
            table = table.filter(pc.and_(pc.greater_equal(ts, pa.scalar(start, ts.type)),
                                         pc.less(ts, pa.scalar(end, ts.type))))
        else:
            # a real-time driver answers the array's latest samples, taken at or after the window's
            # end on the array's clock: kept as stamped, less the samples already written
            table = self.new_samples.keep(table)
        self.sink.write_window(self.storage_id, start, end, table)
        if self.recent.maxlen:
            self.recent.append({"start": start, "end": end, "window": self._keep(table)})
        self.stats["windows_collected"] += 1
        self.stats["points_collected"] += table.num_rows
        del table
        lean.release_memory()                         # the window's buffers go back to the OS
        self.stats["last_success"] = time.time()
        self.stats["last_duration_s"] = time.perf_counter() - t0

    def _report(self, lost: list[Window]) -> None:
        """Off this thread (``collection_report.py``): a slow supervisor never holds a window."""
        self.reporter.offer(self.last_end, self.pending, lost)

    def snapshot(self) -> dict[str, Any]:
        return {**self.stats, "last_end": self.last_end, "jitter_s": round(self.jitter_s, 3),
                "report_failures": self.reporter.failures}


def _dedupe(windows: list[Window]) -> list[Window]:
    seen, out = set(), []
    for w in sorted(windows):
        if w[0] not in seen:
            seen.add(w[0])
            out.append(w)
    return out
