"""Routes: Delfin's v1 API (storages, access info, sync, capabilities, alerts, collections,
host mapping) plus metrics (Arrow IPC / JSON), driver-manager alerts, health, Prometheus.

Every route is ``async`` and hands blocking client calls to a thread (``asyncio.to_thread``);
nothing here calls ``ray.get`` on the event loop.
"""

import asyncio
import hashlib
import hmac
import time
from typing import Any, Optional

import pyarrow as pa
from fastapi import APIRouter, Body, FastAPI, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from drivers.errors import InvalidInput, ResourceNotFound, StorageNotFound, Unauthorized
from drivers.models import RESOURCE_KINDS
from drivers.plugins import driver_catalog

from . import errors
from .prometheus import render as render_prometheus

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON_ROW_LIMIT = 100_000
COLLECTIONS = [k for k in RESOURCE_KINDS if k.name in
               ("storage_pool", "volume", "controller", "port", "disk", "filesystem", "qtree", "quota", "share")]
HOST_MAPPING = [k for k in RESOURCE_KINDS if k.name in
                ("storage_host_initiator", "storage_host", "storage_host_group", "port_group",
                 "volume_group", "masking_view")]


class ErrorBody(BaseModel):
    error_code: str
    error_msg: str
    error_args: list[str]


ERRORS = {code: {"model": ErrorBody} for code in (400, 401, 404, 500, 501)}

app = FastAPI(title="Delfin Driver Manager", version="0.1.0",
              description="Delfin v1 compatible API on Ray: one session actor per storage array.")
errors.install(app)
v1 = APIRouter(prefix="/v1", responses=ERRORS)


#: Set by the Serve replica's constructor (one replica = one process). Serve pickles the app
#: object into the replica, so its ``app.state`` is not this module's: keep it here instead.
RUNTIME: dict[str, Any] = {"client": None, "token_sha256": None}


def client() -> Any:
    return RUNTIME["client"]


async def call(fn: Any, *args: Any) -> Any:
    return await asyncio.to_thread(fn, *args)


@app.middleware("http")
async def bearer_auth(request: Request, call_next: Any) -> Response:
    """Optional bearer token (DELFIN_DM_API_TOKEN at deploy time); /health stays open."""
    digest: Optional[str] = RUNTIME["token_sha256"]
    if digest and request.url.path != "/health":
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else ""
        given = hashlib.sha256(token.encode()).hexdigest()
        if not token or not hmac.compare_digest(given, digest):
            return errors.error_response(Unauthorized("a valid bearer token is required"))
    return await call_next(request)


# -- storages ------------------------------------------------------------------------------------
@v1.post("/storages", status_code=201)
async def create_storage(access_info: dict[str, Any] = Body(
        ..., description="Delfin access info: vendor, model, rest/ssh blocks, extra_attributes")) -> dict:
    return await call(client().discover_storage, None, access_info)


@v1.get("/storages")
async def list_storages() -> dict:
    return {"storages": await call(client().list_storages)}


@v1.post("/storages/sync", status_code=202)
async def sync_all() -> dict:
    return {"syncing": await call(client().request_sync, None)}


@v1.get("/storages/{storage_id}")
async def get_storage(storage_id: str) -> dict:
    return await call(client().storage_record, storage_id)


@v1.delete("/storages/{storage_id}", status_code=202)
async def delete_storage(storage_id: str) -> Response:
    await call(client().remove_storage, None, storage_id)
    return Response(status_code=202)


@v1.post("/storages/{storage_id}/sync", status_code=202)
async def sync_one(storage_id: str) -> dict:
    return {"syncing": await call(client().request_sync, storage_id)}


@v1.get("/storages/{storage_id}/capabilities")
async def capabilities(storage_id: str) -> dict:
    return await call(client().get_capabilities, None, storage_id)


@v1.get("/storages/{storage_id}/access-info")
async def get_access_info(storage_id: str) -> dict:
    return await call(client().get_access_info, storage_id)


@v1.put("/storages/{storage_id}/access-info")
async def put_access_info(storage_id: str, access_info: dict[str, Any] = Body(
        ..., description="rest/ssh blocks, optionally vendor/model/extra_attributes")) -> dict:
    return await call(client().update_access_info, None, {**access_info, "storage_id": storage_id})


@v1.get("/drivers")
async def list_drivers() -> dict:
    """Beyond Delfin: every installed driver and its origin (ours, or Delfin's run unchanged)."""
    return {"drivers": driver_catalog()}


@v1.get("/access-infos")
async def list_access_infos() -> dict:
    return {"access_infos": await call(client().list_access_infos)}


# -- array alerts (Delfin) and driver-manager alerts ----------------------------------------------
@v1.get("/storages/{storage_id}/alerts")
async def array_alerts(storage_id: str, begin_time: Optional[int] = Query(None, ge=0),
                       end_time: Optional[int] = Query(None, ge=0)) -> dict:
    query = {k: v for k, v in (("begin_time", begin_time), ("end_time", end_time)) if v is not None}
    return {"alerts": await call(client().list_alerts, None, storage_id, query or None)}


@v1.post("/storages/{storage_id}/alerts/sync", status_code=202)
async def sync_alerts(storage_id: str) -> dict:
    return {"alerts": len(await call(client().list_alerts, None, storage_id, None))}


@v1.delete("/storages/{storage_id}/alerts/{sequence_number}")
async def clear_alert(storage_id: str, sequence_number: str) -> Response:
    await call(client().clear_alert, None, storage_id, sequence_number)
    return Response(status_code=200)


@v1.get("/alerts")
async def manager_alerts(storage_id: Optional[str] = None, begin_time: Optional[int] = Query(None, ge=0),
                         end_time: Optional[int] = Query(None, ge=0), open_only: bool = False) -> dict:
    return {"alerts": await call(client().alerts, storage_id, begin_time, end_time, open_only)}


# -- beyond Delfin: support, state, metrics --------------------------------------------------------
@v1.get("/storages/{storage_id}/resource-support")
async def resource_support(storage_id: str) -> dict:
    persisted = await call(client().persisted_support, storage_id)
    return {"storage_id": storage_id,
            "resource_support": {KINDS_BY_METHOD_NAME[m]: v for m, v in persisted.items()}}


@v1.get("/storages/{storage_id}/state")
async def storage_state(storage_id: str) -> dict:
    state = await call(client().storage_state, storage_id)
    stats = await call(client().collection_stats, storage_id)
    return {**state, "collection": stats}


@v1.get("/storages/{storage_id}/metrics", responses={200: {"content": {ARROW_STREAM: {}}}})
async def storage_metrics(request: Request, storage_id: str, start: Optional[int] = Query(None, ge=0),
                          end: Optional[int] = Query(None, ge=0), metric: Optional[list[str]] = Query(None),
                          resource_type: Optional[str] = None, limit: int = Query(JSON_ROW_LIMIT, ge=1)) -> Response:
    """Arrow IPC stream by default; JSON rows with ``Accept: application/json`` (row-limited)."""
    await call(client().storage_record, storage_id)   # StorageNotFound before any read
    end = end or int(time.time() * 1000)
    start = start if start is not None else end - 3_600_000
    if start >= end:
        raise InvalidInput("start must be before end")
    from rayactors import metrics
    table = await call(lambda: metrics.read(storage_ids=[storage_id], start=start, end=end, metrics=metric,
                                            resource_type=resource_type, root=client().cfg.metrics_root))
    if "application/json" in request.headers.get("accept", ""):
        if table.num_rows > min(limit, JSON_ROW_LIMIT):
            raise InvalidInput(f"{table.num_rows} rows exceed the JSON limit of {min(limit, JSON_ROW_LIMIT)}; "
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


# -- collections (from the last sync snapshot) ------------------------------------------------------
KINDS_BY_METHOD_NAME = {k.method: k.name for k in RESOURCE_KINDS}


def _add_collection(kind: Any) -> None:
    async def list_rows(response: Response, storage_id: Optional[str] = None) -> dict:
        rows = await call(client().resources, kind.name, storage_id)
        body: dict[str, Any] = {kind.key: rows}
        if storage_id is not None:
            try:
                support = await call(client().persisted_support, storage_id)
            except StorageNotFound:
                return body                       # Delfin: an unknown filter is an empty list
            status = support.get(kind.method, {}).get("status", "unknown")
            response.headers["X-Resource-Support"] = status
            body["resource_support"] = {storage_id: support.get(kind.method, {"status": "unknown"})}
        return body

    async def get_row(row_id: str) -> dict:
        rows = await call(client().resources, kind.name, None, row_id)
        if not rows:
            raise ResourceNotFound(f"{kind.collection}/{row_id}")
        return rows[0]

    v1.add_api_route(f"/{kind.collection}", list_rows, methods=["GET"], name=f"list_{kind.key}")
    v1.add_api_route(f"/{kind.collection}/{{row_id}}", get_row, methods=["GET"], name=f"get_{kind.name}")


def _add_host_mapping(kind: Any) -> None:
    async def list_rows(response: Response, storage_id: str) -> dict:
        support = await call(client().persisted_support, storage_id)
        response.headers["X-Resource-Support"] = support.get(kind.method, {}).get("status", "unknown")
        return {kind.key: await call(client().resources, kind.name, storage_id),
                "resource_support": {storage_id: support.get(kind.method, {"status": "unknown"})}}

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
    storages = await call(client().list_storages)
    return {"status": "ready", "storages": len(storages)}


@app.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def prometheus() -> Response:
    text = await call(render_prometheus, client())
    return Response(text, media_type="text/plain; version=0.0.4")

