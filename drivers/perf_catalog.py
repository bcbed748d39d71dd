"""Delfin's performance metrics: which resource types have which metrics, in which unit."""
from __future__ import annotations

_UNITS = {
    "iops": "IOPS", "readIops": "IOPS", "writeIops": "IOPS",
    "throughput": "MB/s", "readThroughput": "MB/s", "writeThroughput": "MB/s",
    "responseTime": "ms", "readResponseTime": "ms", "writeResponseTime": "ms",
    "ioSize": "KB", "readIoSize": "KB", "writeIoSize": "KB",
    "cacheHitRatio": "%", "readCacheHitRatio": "%", "writeCacheHitRatio": "%",
    "cpuUsage": "%",
}
_FIFTEEN = [m for m in _UNITS if m != "cpuUsage"]
_IOSIZE = ["ioSize", "readIoSize", "writeIoSize"]

#: resource type (Delfin's perf naming) -> ordered metric names
METRICS_BY_RESOURCE: dict[str, list[str]] = {
    "storage": list(_FIFTEEN),
    "storagePool": list(_FIFTEEN),
    "volume": list(_FIFTEEN),
    "port": list(_FIFTEEN),
    "controller": _FIFTEEN + ["cpuUsage"],
    "disk": [m for m in _FIFTEEN if m not in _IOSIZE],
    "filesystem": ["iops", "readIops", "writeIops", "throughput", "readThroughput",
                   "writeThroughput", "readResponseTime", "writeResponseTime"] + _IOSIZE,
}


def unit_of(metric: str) -> str:
    return _UNITS[metric]


def resource_metrics_for(resource_types: list[str]) -> dict[str, dict[str, dict[str, str]]]:
    """Delfin's capabilities shape: {resource_type: {metric: {unit, description}}}."""
    return {rt: {m: {"unit": _UNITS[m], "description": f"{m} of the {rt}"}
                 for m in METRICS_BY_RESOURCE[rt]}
            for rt in resource_types}


def normalise_request(resource_metrics: dict | None, supported: list[str]) -> dict[str, list[str]]:
    """Turn Delfin's resource_metrics argument (dict of lists or of dicts) into {type: [metric]}.

    ``None`` means everything the driver supports. Unknown types or metrics are dropped.
    """
    if not resource_metrics:
        return {rt: list(METRICS_BY_RESOURCE[rt]) for rt in supported}
    out: dict[str, list[str]] = {}
    for rt, metrics in resource_metrics.items():
        if rt not in supported:
            continue
        known = METRICS_BY_RESOURCE[rt]
        wanted = list(metrics) if metrics else known
        out[rt] = [m for m in known if m in wanted]
    return out


def parse_resource_metrics(text: str | None) -> dict[str, list[str]] | None:
    """``extra_attributes.resource_metrics`` (a string, as Delfin's schema wants every extra
    attribute): ``"volume:iops,readIops;controller:cpuUsage"``; a type without metrics
    (``"volume"``) means all of its metrics. None or "" means everything."""
    if not text or not text.strip():
        return None
    out: dict[str, list[str]] = {}
    for part in text.split(";"):
        rtype, _, names = part.strip().partition(":")
        rtype = rtype.strip()
        if not rtype:
            continue
        if rtype not in METRICS_BY_RESOURCE:
            raise ValueError(f"unknown resource type {rtype!r}")
        metrics = [m.strip() for m in names.split(",") if m.strip()]
        unknown = [m for m in metrics if m not in METRICS_BY_RESOURCE[rtype]]
        if unknown:
            raise ValueError(f"{rtype} has no metric {unknown[0]!r}")
        out[rtype] = metrics
    return out or None


def format_resource_metrics(resource_metrics: dict[str, list[str]]) -> str:
    """The inverse of ``parse_resource_metrics``."""
    return ";".join(f"{rt}:{','.join(ms)}" if ms else rt for rt, ms in resource_metrics.items())
