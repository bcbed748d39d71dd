"""Every limit of the HTTP API, in one place (the README's HTTP section lists them).

Bodies: at most ``MAX_BODY_BYTES``, JSON only, checked against Delfin's schemas (which bound
every field: no free-form object can nest). Query parameters: declared with their ranges on
each route from the constants here. Bulkheads: calls that reach a storage's actor are counted
per storage and lane; beyond the limit the answer is 503 StorageBusy with ``Retry-After`` at once,
so a slow array's queue never grows without bound and never delays another storage.
"""
from __future__ import annotations

import contextlib
import json
from collections import Counter
from typing import Any, Iterator

from fastapi import Path, Query, Request

from drivers.errors import InvalidInput, StorageBusy

MAX_BODY_BYTES = 64 * 1024
MAX_EPOCH_MS = 253402300799999          # 9999-12-31T23:59:59.999Z: the last time a datetime holds
MAX_OFFSET = 2147483647                 # Delfin's DB_MAX_INT
MAX_ID = 200                            # characters of a storage or row id
RETRY_AFTER_S = 1


def epoch_ms(description: str) -> Any:
    return Query(None, ge=0, le=MAX_EPOCH_MS, description=f"{description} (epoch ms, 0..{MAX_EPOCH_MS})")


def id_path(description: str = "id") -> Any:
    return Path(..., min_length=1, max_length=MAX_ID, description=description)


STORAGE_ID_FILTER = Query(None, max_length=MAX_ID, description="only this storage's rows")
LIMIT = Query(None, ge=0, description="at most this many rows (capped at api_max_limit, 1000 by default)")
OFFSET = Query(None, ge=0, le=MAX_OFFSET, description="skip this many rows")
SORT_KEY = Query(None, max_length=64, description="field to sort by (default created_at)")
SORT_DIR = Query(None, pattern="^(asc|desc)$", description="asc or desc (default desc)")
SORT = Query(None, max_length=512, description="k1:dir,k2:dir (instead of sort_key and sort_dir)")
MARKER = Query(None, max_length=MAX_ID, description="id of the last row of the previous page")


async def json_body(request: Request) -> Any:
    """The request's JSON body, refused beyond ``MAX_BODY_BYTES`` (400 InvalidInput 'body')."""
    declared = request.headers.get("content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
        raise InvalidInput(f"body: larger than {MAX_BODY_BYTES} bytes")
    raw = bytearray()
    async for chunk in request.stream():
        raw += chunk
        if len(raw) > MAX_BODY_BYTES:
            raise InvalidInput(f"body: larger than {MAX_BODY_BYTES} bytes")
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise InvalidInput("body: not valid JSON") from None


class InFlight:
    """Calls in flight per (storage, lane) in this replica; one event loop, so no lock."""

    def __init__(self, limits: dict[str, int]) -> None:
        self.limits = limits
        self.counts: Counter = Counter()
        self.refused = 0

    @contextlib.contextmanager
    def slot(self, storage_id: str, lane: str) -> Iterator[None]:
        key = (storage_id, lane)
        if self.counts[key] >= self.limits[lane]:
            self.refused += 1
            raise StorageBusy(storage_id, lane)
        self.counts[key] += 1
        try:
            yield
        finally:
            self.counts[key] -= 1
            if not self.counts[key]:
                del self.counts[key]
