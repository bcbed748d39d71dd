"""``AsyncClient``: the driver manager from an event loop (the HTTP ingress).

Every call awaits an actor's ObjectRef: no thread pool is held while an array is slow, so one
slow storage can never take the threads another storage's calls need. The retry rules are the
sync client's (``after_storage_failure``, ``after_supervisor_failure``); only the waiting is
``await asyncio.sleep`` instead of ``time.sleep``. Actor handles are looked up once (off the
loop, ``ray.get_actor`` talks to the GCS) and cached.
"""
from __future__ import annotations

import asyncio
import time
from typing import Any, Awaitable, Callable, Optional

import ray
from ray.exceptions import RayTaskError

from drivers import DRIVER_METHODS, IDEMPOTENT_METHODS
from drivers.errors import InvalidInput, StorageBackendException, StorageNotFound

from .client import (ACTOR_GONE, RESTART_DEADLINE_S, RETRY_PAUSE_S, _check_id, after_storage_failure,
                     after_supervisor_failure, driver_call, new_request_id, no_answer, registration_settled,
                     registration_unsettled)
from .config import Config
from .naming import get_storage_actor, get_supervisor
from .supervisor import unwrap


class AsyncClient:
    def __init__(self, config: Config) -> None:
        self.cfg = config
        self._handles: dict[str, Any] = {}
        self._sup: Any = None

    async def _await(self, ref: Any, timeout: float,
                     settle: Optional[Callable[[float], Awaitable[Any]]] = None) -> Any:
        """``settle``: what to answer when the wait runs out, instead of the no-answer error."""
        try:
            return await asyncio.wait_for(ref, timeout)
        except RayTaskError as exc:
            raise unwrap(exc) from None
        except asyncio.TimeoutError:
            if settle is not None:
                return await settle(timeout)
            raise no_answer(timeout) from None

    async def _supervisor(self) -> Any:
        if self._sup is None:
            try:
                self._sup = await asyncio.to_thread(get_supervisor, self.cfg.supervisor_name, self.cfg.namespace)
            except ValueError:
                raise StorageBackendException("the driver manager is not running (start it first)") from None
        return self._sup

    async def _handle(self, storage_id: str) -> Any:
        handle = self._handles.get(storage_id)
        if handle is None:
            handle = await asyncio.to_thread(get_storage_actor, storage_id, self.cfg.namespace)
            self._handles[storage_id] = handle
        return handle

    # -- the two call paths ---------------------------------------------------------------------
    async def supervisor(self, method: str, *args: Any,
                         settle: Optional[Callable[[float], Awaitable[Any]]] = None) -> Any:
        deadline = time.monotonic() + RESTART_DEADLINE_S
        while True:
            try:
                sup = await self._supervisor()
                return await self._await(getattr(sup, method).remote(*args), self.cfg.supervisor_timeout_s(method),
                                         settle)
            except ACTOR_GONE:
                self._sup = None
                after_supervisor_failure(method, deadline)
                await asyncio.sleep(RETRY_PAUSE_S)

    async def discover_storage(self, access_info: Any) -> dict:
        """The sync client's ``discover_storage``: settled by the supervisor if the wait runs out."""
        request_id = new_request_id()

        async def settle(waited: float) -> dict:
            try:
                view = await self._await((await self._supervisor()).settle_registration.remote(request_id),
                                         self.cfg.control_timeout_s)
            except (StorageBackendException, *ACTOR_GONE):
                raise registration_unsettled(waited) from None
            return registration_settled(view, waited)
        return await self.supervisor("discover_storage", access_info, request_id, settle=settle)

    async def actor(self, storage_id: Any, name: str, *args: Any, lane: str = "control",
                    retry_on_restart: bool = True) -> Any:
        """Call the storage actor's method ``name`` (``call_control``, ``state``, ...)."""
        storage_id = _check_id(storage_id)
        timeout = self.cfg.control_timeout_s if lane == "control" else self.cfg.bulk_timeout_s
        deadline = time.monotonic() + RESTART_DEADLINE_S
        while True:
            try:
                handle = await self._handle(storage_id)
                return await self._await(getattr(handle, name).remote(*args), timeout)
            except (StorageNotFound, *ACTOR_GONE) as exc:
                self._handles.pop(storage_id, None)
                exists = bool(await self.supervisor("storage_exists", storage_id))
                after_storage_failure(exc, storage_id, args[0] if args and isinstance(args[0], str) else name,
                                      exists, deadline, retry_on_restart)
                await asyncio.sleep(RETRY_PAUSE_S)

    async def driver(self, storage_id: Any, method: str, *args: Any, **kwargs: Any) -> Any:
        """One driver method through the storage's session (Delfin's ``API.<method>``)."""
        lane = DRIVER_METHODS.get(method)
        if lane is None:
            raise InvalidInput(f"unknown driver method {method!r}")
        return await self.actor(storage_id, "call_control" if lane == "control" else "call_bulk",
                                *driver_call(method, args, kwargs), lane=lane,
                                retry_on_restart=method in IDEMPOTENT_METHODS)

    def forget(self, storage_id: str) -> None:
        self._handles.pop(storage_id, None)


def new_client(config: Config) -> AsyncClient:
    """For a process that already joined the cluster (the Serve replica)."""
    if not ray.is_initialized():
        raise StorageBackendException("Ray is not initialised in this process")
    return AsyncClient(config)
