"""Prometheus text exposition of the runtime's own metrics (one scrape = one pass)."""
from __future__ import annotations

from typing import Any

STATES = ("connecting", "ready", "unreachable", "auth_failed", "closed")


def _esc(v: Any) -> str:
    return str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", " ")


def render(client: Any) -> str:
    lines = [
        "# HELP delfin_dm_storage_state 1 for the current session state of a storage",
        "# TYPE delfin_dm_storage_state gauge",
    ]
    per: list[tuple[str, dict, dict]] = []
    for s in client.list_storages():
        sid = s["id"]
        try:
            state = client.storage_state(sid)
            stats = client.collection_stats(sid)
        except Exception:  # a storage restarting right now: report what we know
            state, stats = {"state": "unknown"}, {}
        per.append((sid, state, stats))
        for st in STATES:
            lines.append(f'delfin_dm_storage_state{{storage_id="{_esc(sid)}",state="{st}"}} '
                         f'{1 if state.get("state") == st else 0}')
    gauges = [
        ("delfin_dm_logins_total", "counter", "logins made by the session actor", lambda st, c: st.get("logins")),
        ("delfin_dm_failures_total", "counter", "errors that changed the session state",
         lambda st, c: st.get("failures")),
        ("delfin_dm_points_collected_total", "counter", "metric points collected",
         lambda st, c: c.get("points_collected")),
        ("delfin_dm_windows_collected_total", "counter", "collection windows written",
         lambda st, c: c.get("windows_collected")),
        ("delfin_dm_windows_pending", "gauge", "windows waiting for backfill", lambda st, c: c.get("windows_pending")),
        ("delfin_dm_windows_lost_total", "counter", "windows that fell out of retention",
         lambda st, c: c.get("windows_lost")),
        ("delfin_dm_collection_duration_seconds", "gauge", "duration of the last collection",
         lambda st, c: c.get("last_duration_s")),
        ("delfin_dm_collection_last_success_timestamp_seconds", "gauge", "time of the last successful window",
         lambda st, c: c.get("last_success")),
    ]
    for name, kind, help_text, get in gauges:
        lines += [f"# HELP {name} {help_text}", f"# TYPE {name} {kind}"]
        for sid, state, stats in per:
            value = get(state, stats)
            if value is not None:
                lines.append(f'{name}{{storage_id="{_esc(sid)}"}} {float(value)}')
    return "\n".join(lines) + "\n"
