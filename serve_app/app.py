"""Routes: Delfin's v1 API (storages, access info, sync, capabilities, alerts, collections, host
mapping) plus metrics (Arrow IPC / JSON), driver-manager alerts, drivers, health, Prometheus.

Every route is ``async`` and awaits actor calls (``AsyncClient``): no thread is held while an
array is slow. Calls that reach a storage's actor pass a per-storage bulkhead (``InFlight``):
control routes and bulk routes have their own limits, so a queue of bulk calls never delays a
control call and a slow array never delays another storage. Only file reads (metrics) run in a
thread. Bodies and parameters are checked at the edge (``limits.py``, Delfin's schemas).
"""

import asyncio
import hashlib
import hmac
import logging
import time
from typing import Any, Optional

import pyarrow as pa
from fastapi import APIRouter, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from drivers.access_info import CREATE_SCHEMA, UPDATE_SCHEMA, check
from drivers.errors import AlertSourceNotFound, InvalidInput, StorageBackendException, StorageCapabilityNotSupported, \
    StorageNotFound, Unauthorized
from drivers.models import RESOURCE_KINDS, STORAGE_FIELDS, STORAGE_SEARCH
from drivers.plugins import driver_catalog
from rayactors.list_query import parse_query

from . import dashboard, errors
from .limits import (LIMIT, MARKER, MAX_EPOCH_MS, OFFSET, SORT, SORT_DIR, SORT_KEY, STORAGE_ID_FILTER, epoch_ms,
                     id_path, json_body)
from .prometheus import exposition as prometheus_text
from .prometheus import snapshot as prometheus_snapshot

log = logging.getLogger("delfin_dm.http")
PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON_ROW_LIMIT = 100_000
COLLECTIONS = [k for k in RESOURCE_KINDS if k.name in
               ("storage_pool", "volume", "controller", "port", "disk", "filesystem", "qtree", "quota", "share")]
HOST_MAPPING = [k for k in RESOURCE_KINDS if k.name in
                ("storage_host_initiator", "storage_host", "storage_host_group", "port_group",
                 "volume_group", "masking_view")]
KINDS_BY_METHOD_NAME = {k.method: k.name for k in RESOURCE_KINDS}


class ErrorBody(BaseModel):
    error_code: str
    error_msg: str
    error_args: list[str]


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 404, 500, 501, 503)}

app = FastAPI(title="Delfin Driver Manager", version="0.2.0", docs_url=None, redoc_url=None,
              description="Delfin v1 compatible API on Ray: one session actor per storage array.")
errors.install(app)
dashboard.install(app)
v1 = APIRouter(prefix="/v1", responses=ERRORS)

#: Set by the Serve replica's constructor (one replica = one process). Serve pickles the app
#: object into the replica, so its ``app.state`` is not this module's: keep it here instead.
RUNTIME: dict[str, Any] = {"client": None, "token_sha256": None, "inflight": None}


def ac() -> Any:
    """The replica's AsyncClient."""
    return RUNTIME["client"]


def cfg() -> Any:
    return ac().cfg


async def on_storage(storage_id: str, lane: str, call: Any) -> Any:
    """One call that reaches ``storage_id``'s actor, through its bulkhead."""
    with RUNTIME["inflight"].slot(storage_id, lane):
        return await call


def _body_schema(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


class BearerAuth:
    """Optional bearer token (DELFIN_DM_API_TOKEN at deploy time); /health and the pages that
    hold no data (dashboard, docs, their assets, the OpenAPI document) stay open. A plain ASGI
    middleware: Starlette's ``BaseHTTPMiddleware`` costs about half a millisecond a request."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        digest: Optional[str] = RUNTIME["token_sha256"]
        if scope["type"] == "http" and digest and not dashboard.is_open(scope["path"]):
            header = dict(scope["headers"]).get(b"authorization", b"").decode("latin-1")
            token = header[7:] if header.lower().startswith("bearer ") else ""
            given = hashlib.sha256(token.encode()).hexdigest()
            if not token or not hmac.compare_digest(given, digest):
                response = errors.error_response(Unauthorized("a valid bearer token is required"))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


app.add_middleware(BearerAuth)


def _list_query(request: Request, search: Any, fields: Any, **fixed: str) -> Any:
    return parse_query(request.query_params, search, fields, cfg().api_max_limit, **fixed)


# -- storages ------------------------------------------------------------------------------------
@v1.post("/storages", status_code=201, openapi_extra=_body_schema(CREATE_SCHEMA))
async def create_storage(request: Request) -> dict:
    """Register a storage: Delfin's create schema; 201 with the storage."""
    body = await json_body(request)
    check(CREATE_SCHEMA, body)
    return await ac().discover_storage(body)


@v1.get("/storages")
async def list_storages(request: Request, name: Optional[str] = Query(None, max_length=255),
                        vendor: Optional[str] = Query(None, max_length=255),
                        model: Optional[str] = Query(None, max_length=255),
                        status: Optional[str] = Query(None, max_length=64),
                        serial_number: Optional[str] = Query(None, max_length=255),
                        sort_key: Optional[str] = SORT_KEY, sort_dir: Optional[str] = SORT_DIR,
                        sort: Optional[str] = SORT, limit: Optional[int] = LIMIT, offset: Optional[int] = OFFSET,
                        marker: Optional[str] = MARKER) -> dict:
    return {"storages": await ac().supervisor("query_storages", _list_query(request, STORAGE_SEARCH, STORAGE_FIELDS))}


@v1.post("/storages/sync", status_code=202, response_class=Response)
async def sync_all() -> Response:
    await ac().supervisor("request_sync", None)
    return Response(status_code=202)


@v1.get("/storages/{storage_id}")
async def get_storage(storage_id: str = id_path()) -> dict:
    return await ac().supervisor("storage_view", storage_id)


@v1.delete("/storages/{storage_id}", status_code=202, response_class=Response)
async def delete_storage(storage_id: str = id_path(), drop_metrics: bool = Query(
        False, description="beyond Delfin: also delete the storage's metrics")) -> Response:
    await ac().supervisor("remove_storage", storage_id, drop_metrics)
    ac().forget(storage_id)
    _METADATA.pop(storage_id, None)
    return Response(status_code=202)


@v1.post("/storages/{storage_id}/sync", status_code=202, response_class=Response)
async def sync_one(storage_id: str = id_path()) -> Response:
    await ac().supervisor("request_sync", storage_id)
    return Response(status_code=202)


@v1.get("/storages/{storage_id}/capabilities")
async def capabilities(storage_id: str = id_path()) -> dict:
    """Delfin's shape: ``{"metadata": {"vendor", "model"}, "spec": <the driver's capabilities>}``.
    Vendor and model never change for a storage id (an update must keep the serial number), so
    the replica asks the registry once per storage; the array is asked every time."""
    spec = await on_storage(storage_id, "control", ac().driver(storage_id, "get_capabilities"))
    if not spec:
        raise StorageCapabilityNotSupported()
    metadata = _METADATA.get(storage_id)
    if metadata is None:
        storage = await ac().supervisor("storage_view", storage_id)
        if len(_METADATA) >= METADATA_CACHE_SIZE:
            _METADATA.clear()
        metadata = _METADATA[storage_id] = {"vendor": storage.get("vendor"), "model": storage.get("model")}
    return {"metadata": dict(metadata), "spec": spec}


#: storage id -> the vendor and model its capabilities answer shows (see ``capabilities``)
_METADATA: dict[str, dict] = {}
METADATA_CACHE_SIZE = 10_000


@v1.get("/storages/{storage_id}/access-info")
async def get_access_info(storage_id: str = id_path()) -> dict:
    return await ac().supervisor("get_access_info", storage_id)


@v1.put("/storages/{storage_id}/access-info", openapi_extra=_body_schema(UPDATE_SCHEMA))
async def put_access_info(request: Request, storage_id: str = id_path()) -> dict:
    """Delfin's update schema (blocks and extra_attributes only); 200 with the access info."""
    body = await json_body(request)
    check(UPDATE_SCHEMA, body)
    await ac().supervisor("get_access_info", storage_id)              # AccessInfoNotFound first
    with RUNTIME["inflight"].slot(storage_id, "session"):      # never behind control or bulk calls
        return await ac().supervisor("update_access_info", storage_id, body)


@v1.get("/access-infos")
async def list_access_infos() -> dict:
    return {"access_infos": await ac().supervisor("list_access_infos")}


# -- SNMP trap configuration: Delfin's alert sources need its trap receiver, which is not here ----
@v1.get("/storages/{storage_id}/snmp-config")
async def get_snmp_config(storage_id: str = id_path()) -> dict:
    await ac().supervisor("storage_view", storage_id)
    raise AlertSourceNotFound(storage_id)


@v1.put("/storages/{storage_id}/snmp-config")
async def put_snmp_config(storage_id: str = id_path()) -> dict:
    await ac().supervisor("storage_view", storage_id)
    raise StorageCapabilityNotSupported("SNMP trap reception is not part of the driver manager")


@v1.delete("/storages/{storage_id}/snmp-config")
async def delete_snmp_config(storage_id: str = id_path()) -> dict:
    await ac().supervisor("storage_view", storage_id)
    raise AlertSourceNotFound(storage_id)


@v1.get("/snmp-configs")
async def list_snmp_configs() -> dict:
    return {"snmp_configs": []}


# -- array alerts (Delfin) and driver-manager alerts ----------------------------------------------
@v1.get("/storages/{storage_id}/alerts")
async def array_alerts(storage_id: str = id_path(), begin_time: Optional[int] = epoch_ms("from"),
                       end_time: Optional[int] = epoch_ms("until")) -> dict:
    """The array's alerts, with the storage's attributes, as Delfin lists them."""
    if begin_time and end_time and end_time <= begin_time:
        raise InvalidInput("end_time should be greater than begin_time.")
    storage = await ac().supervisor("storage_view", storage_id)
    query = {k: v for k, v in (("begin_time", begin_time), ("end_time", end_time)) if v is not None}
    alerts = await on_storage(storage_id, "bulk", ac().driver(storage_id, "list_alerts", query or None))
    extra = {"storage_id": storage_id, "storage_name": storage.get("name"), "vendor": storage.get("vendor"),
             "model": storage.get("model"), "serial_number": storage.get("serial_number")}
    return {"alerts": [{**a, **extra} for a in alerts]}


#: Delfin's alert sync body (both optional, epoch ms)
ALERT_SYNC_SCHEMA = {"type": "object", "additionalProperties": False,
                     "properties": {"begin_time": {"type": "integer", "minimum": 0, "maximum": MAX_EPOCH_MS},
                                    "end_time": {"type": "integer", "minimum": 0, "maximum": MAX_EPOCH_MS}}}


@v1.post("/storages/{storage_id}/alerts/sync", status_code=200, response_class=Response,
         openapi_extra=_body_schema(ALERT_SYNC_SCHEMA))
async def sync_alerts(request: Request, storage_id: str = id_path()) -> Response:
    """Delfin's body: optional ``begin_time`` and ``end_time``; the sync runs in the background."""
    body = await json_body(request) if request.headers.get("content-length", "0") != "0" else {}
    check(ALERT_SYNC_SCHEMA, body)
    if body.get("begin_time") and body.get("end_time") and body["end_time"] <= body["begin_time"]:
        raise InvalidInput("end_time should be greater than begin_time.")
    await ac().supervisor("storage_view", storage_id)
    query = {k: body.get(k) for k in ("begin_time", "end_time")}
    task = asyncio.ensure_future(on_storage(storage_id, "bulk", ac().driver(storage_id, "list_alerts", query)))
    task.add_done_callback(lambda t: t.exception())      # an array's failure is its state's business
    return Response(status_code=200)


@v1.delete("/storages/{storage_id}/alerts/{sequence_number}", response_class=Response)
async def clear_alert(storage_id: str = id_path(), sequence_number: str = id_path("sequence number")) -> Response:
    await ac().supervisor("storage_view", storage_id)
    await on_storage(storage_id, "bulk", ac().driver(storage_id, "clear_alert", sequence_number))
    return Response(status_code=200)


@v1.get("/alerts")
async def manager_alerts(storage_id: Optional[str] = STORAGE_ID_FILTER, begin_time: Optional[int] = epoch_ms("from"),
                         end_time: Optional[int] = epoch_ms("until"), open_only: bool = False) -> dict:
    """Beyond Delfin: the driver manager's own alerts (credentials rejected, unreachable, ...)."""
    return {"alerts": await ac().supervisor("alerts", storage_id, begin_time, end_time, open_only)}


# -- beyond Delfin: drivers, support, state, metrics ------------------------------------------------
@v1.get("/drivers")
async def list_drivers() -> dict:
    """Every installed driver and its origin (ours, or Delfin's run unchanged)."""
    return {"drivers": driver_catalog()}


@v1.get("/storages/{storage_id}/resource-support")
async def resource_support(storage_id: str = id_path()) -> dict:
    persisted = await ac().supervisor("support", storage_id)
    return {"storage_id": storage_id,
            "resource_support": {KINDS_BY_METHOD_NAME[m]: v for m, v in persisted.items()}}


@v1.get("/storages/{storage_id}/state")
async def storage_state(storage_id: str = id_path()) -> dict:
    state, stats = await asyncio.gather(ac().actor(storage_id, "state"), ac().actor(storage_id, "collection_stats"))
    return {**state, "collection": stats}


@v1.get("/storages/{storage_id}/metrics", responses={200: {"content": {ARROW_STREAM: {}}}})
async def storage_metrics(request: Request, storage_id: str = id_path(), start: Optional[int] = epoch_ms("from"),
                          end: Optional[int] = epoch_ms("until"),
                          metric: Optional[list[str]] = Query(None, max_length=64),
                          resource_type: Optional[str] = Query(None, max_length=64),
                          limit: int = Query(JSON_ROW_LIMIT, ge=1, le=JSON_ROW_LIMIT)) -> Response:
    """Arrow IPC stream by default; JSON rows with ``Accept: application/json`` (row-limited)."""
    await ac().supervisor("storage_view", storage_id)   # StorageNotFound before any read
    end = end or int(time.time() * 1000)
    start = start if start is not None else max(0, end - 3_600_000)
    if start >= end:
        raise InvalidInput("start must be before end")
    from rayactors import metrics
    with RUNTIME["inflight"].slot(storage_id, "bulk"):
        try:
            table = await asyncio.to_thread(metrics.read, storage_ids=[storage_id], start=start, end=end,
                                            metrics=metric, resource_type=resource_type, root=cfg().metrics_root)
        except pa.ArrowInvalid as exc:     # a file damaged from outside: its path for the log, not the client
            log.error("metrics of storage %s cannot be read: %s", storage_id, exc)
            raise StorageBackendException(f"a metrics file of storage {storage_id} cannot be read (the service's "
                                          f"log names it)") from None
    if "application/json" in request.headers.get("accept", ""):
        if table.num_rows > limit:
            raise InvalidInput(f"{table.num_rows} rows exceed the JSON limit of {limit}; "
                               "narrow the window or ask for the Arrow stream")
        rows = table.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f
                                     for f in table.schema])).to_pylist()
        for r in rows:
            r["timestamp"] = int(r["timestamp"].timestamp() * 1000)
        return JSONResponse({"metrics": rows, "count": len(rows)})
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=65536)
    return Response(sink.getvalue().to_pybytes(), media_type=ARROW_STREAM)


# -- collections and host mapping (from the last sync snapshot) -------------------------------------
async def _with_support(response: Response, kind: Any, storage_id: Optional[str], body: dict) -> dict:
    """Beyond Delfin: with a storage, say whether its driver supports the type (never a bare [])."""
    if storage_id is None:
        return body
    try:
        support = await ac().supervisor("support", storage_id)
    except StorageNotFound:
        return body                       # Delfin: an unknown storage filter is an empty list
    summary = support.get(kind.method, {"status": "unknown"})
    response.headers["X-Resource-Support"] = summary.get("status", "unknown")
    return {**body, "resource_support": {storage_id: summary}}


def _add_collection(kind: Any) -> None:
    async def list_rows(request: Request, response: Response, storage_id: Optional[str] = STORAGE_ID_FILTER,
                        name: Optional[str] = Query(None, max_length=255), sort_key: Optional[str] = SORT_KEY,
                        sort_dir: Optional[str] = SORT_DIR, sort: Optional[str] = SORT, limit: Optional[int] = LIMIT,
                        offset: Optional[int] = OFFSET, marker: Optional[str] = MARKER) -> dict:
        rows = await ac().supervisor("query_resources", kind.name, _list_query(request, kind.search, kind.fields()))
        return await _with_support(response, kind, storage_id, {kind.key: rows})

    async def get_row(row_id: str = id_path()) -> dict:
        return await ac().supervisor("resource_row", kind.name, row_id)

    list_rows.__doc__ = f"Delfin's {kind.key}: filters {', '.join(kind.search)}; sorting and paging."
    v1.add_api_route(f"/{kind.collection}", list_rows, methods=["GET"], name=f"list_{kind.key}")
    v1.add_api_route(f"/{kind.collection}/{{row_id}}", get_row, methods=["GET"], name=f"get_{kind.name}",
                     responses={404: {"model": ErrorBody, "description": kind.not_found}})


def _add_host_mapping(kind: Any) -> None:
    async def list_rows(request: Request, response: Response, storage_id: str = id_path(),
                        sort_key: Optional[str] = SORT_KEY, sort_dir: Optional[str] = SORT_DIR,
                        sort: Optional[str] = SORT, limit: Optional[int] = LIMIT, offset: Optional[int] = OFFSET,
                        marker: Optional[str] = MARKER) -> dict:
        query = _list_query(request, kind.search, kind.fields(), storage_id=storage_id)
        rows = await ac().supervisor("query_resources", kind.name, query)
        return await _with_support(response, kind, storage_id, {kind.key: rows})

    v1.add_api_route(f"/storages/{{storage_id}}/{kind.collection}", list_rows, methods=["GET"],
                     name=f"list_{kind.key}")


for _kind in COLLECTIONS:
    _add_collection(_kind)
for _kind in HOST_MAPPING:
    _add_host_mapping(_kind)

app.include_router(v1)


# -- operations ---------------------------------------------------------------------------------------
@app.get("/health")
async def health() -> dict:
    return {"status": "ok"}


@app.get("/ready", responses=ERRORS)
async def ready() -> dict:
    storages = await ac().supervisor("list_storages")
    return {"status": "ready", "storages": len(storages)}


@app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus() -> Response:
    """Prometheus text format: every storage asked at once, written by prometheus_client."""
    return Response(prometheus_text(await prometheus_snapshot(ac())), media_type=PROMETHEUS_CONTENT_TYPE)
