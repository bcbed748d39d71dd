"""Prometheus exposition of the runtime's own metrics, with ``prometheus_client``.

One scrape asks every storage actor for its state and collection stats at once (in parallel,
through the async client), then a custom collector turns that snapshot into metric families;
``prometheus_client`` writes the text format (escaping, ``_total`` suffixes, HELP and TYPE).
"""
from __future__ import annotations

import asyncio
from typing import Any, Callable, Iterator

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

STATES = ("connecting", "ready", "unreachable", "auth_failed", "closed")
Snapshot = list[tuple[str, dict, dict]]          # storage id, state, collection stats

#: name (counters without their _total), kind, help, value from (state, stats)
SERIES: list[tuple[str, str, str, Callable[[dict, dict], Any]]] = [
    ("delfin_dm_sessions", "gauge", "sessions the storage's actor holds on its array",
     lambda st, c: st.get("sessions")),
    ("delfin_dm_logins", "counter", "logins made by the session actor", lambda st, c: st.get("logins")),
    ("delfin_dm_failures", "counter", "errors that changed the session state", lambda st, c: st.get("failures")),
    ("delfin_dm_points_collected", "counter", "metric points collected", lambda st, c: c.get("points_collected")),
    ("delfin_dm_windows_collected", "counter", "collection windows written",
     lambda st, c: c.get("windows_collected")),
    ("delfin_dm_windows_pending", "gauge", "windows waiting for backfill", lambda st, c: c.get("windows_pending")),
    ("delfin_dm_windows_lost", "counter", "windows that fell out of retention", lambda st, c: c.get("windows_lost")),
    ("delfin_dm_collection_duration_seconds", "gauge", "duration of the last collection",
     lambda st, c: c.get("last_duration_s")),
    ("delfin_dm_collection_last_success_timestamp_seconds", "gauge", "time of the last successful window",
     lambda st, c: c.get("last_success")),
]


class StorageCollector(Collector):
    """Metric families from one snapshot of every storage."""

    def __init__(self, snapshot: Snapshot) -> None:
        self.snapshot = snapshot

    def collect(self) -> Iterator[Any]:
        state = GaugeMetricFamily("delfin_dm_storage_state", "1 for the current session state of a storage",
                                  labels=["storage_id", "state"])
        for sid, st, _ in self.snapshot:
            for name in STATES:
                state.add_metric([sid, name], 1.0 if st.get("state") == name else 0.0)
        yield state
        for name, kind, help_text, get in SERIES:
            family = (CounterMetricFamily if kind == "counter" else GaugeMetricFamily)(
                name, help_text, labels=["storage_id"])
            for sid, st, stats in self.snapshot:
                value = get(st, stats)
                if value is not None:
                    family.add_metric([sid], float(value))
            yield family


async def snapshot(client: Any) -> Snapshot:
    """Every storage's state and collection stats, asked of all actors at once."""
    storages = await client.supervisor("list_storages")

    async def one(sid: str) -> tuple[str, dict, dict]:
        try:
            state, stats = await asyncio.gather(client.actor(sid, "state"), client.actor(sid, "collection_stats"))
        except Exception:  # a storage restarting right now: report what we know
            state, stats = {"state": "unknown"}, {}
        return sid, state, stats
    return list(await asyncio.gather(*(one(s["id"]) for s in storages)))


def exposition(snap: Snapshot) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(StorageCollector(snap))
    return generate_latest(registry)
