"""List requests read as Delfin's API reads them (``delfin/api/api_utils.py``): ``sort`` (``k1:asc,k2``)
or ``sort_key`` and ``sort_dir`` (default ``created_at`` ``desc``), ``limit`` (capped at
``api_max_limit``, 1000 by default), ``offset``, ``marker`` (the id of the last row seen), and
exact-match filters on the type's search options; other parameters are ignored, as Delfin does.
"""
from __future__ import annotations

from typing import Any, Iterable, Mapping

from drivers.errors import InvalidInput

from .registry import Query

MAX_OFFSET = 2147483647          # Delfin's DB_MAX_INT
RESERVED = {"sort", "sort_key", "sort_dir", "limit", "offset", "marker"}


def parse_query(params: Mapping[str, Any], search: Iterable[str], fields: Iterable[str],
                max_limit: int = 1000, **fixed: str) -> Query:
    """``fixed`` filters come from the path (e.g. the storage of a host-mapping route)."""
    fields = set(fields)
    sort = []
    if params.get("sort") is not None:
        for part in str(params["sort"]).strip().split(","):
            key, _, direction = part.partition(":")
            sort.append((key.strip(), (direction or "desc").strip()))
    else:
        sort.append((str(params.get("sort_key", "created_at")).strip(), str(params.get("sort_dir", "desc")).strip()))
    for key, direction in sort:
        if key not in fields:
            raise InvalidInput(f"Sort key supplied is invalid: {key}")
        if direction not in ("asc", "desc"):
            raise InvalidInput(f"Sort direction supplied is invalid: {direction}")
    limit = _integer(params.get("limit", max_limit), "limit", max_limit)
    offset = _integer(params.get("offset", 0), "offset", MAX_OFFSET)
    marker = params.get("marker")
    filters = {k: str(v) for k, v in params.items() if k in set(search) and k not in RESERVED}
    return Query(filters={**filters, **fixed}, sort=tuple(sort), limit=min(limit, max_limit), offset=offset,
                 marker=str(marker) if marker is not None else None)


def _integer(value: Any, name: str, high: int) -> int:
    try:
        number = int(str(value))
    except ValueError:
        raise InvalidInput(f"{name} param must be an integer") from None
    if number < 0:
        raise InvalidInput(f"{name} param must be positive")
    if name == "offset" and number > high:
        raise InvalidInput(f"{name} param must be <= {high}")
    return number
