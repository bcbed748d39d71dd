"""Joining or starting Ray, and ensuring the supervisor: the one idempotent ``start()``."""
from __future__ import annotations

import logging
import os
from typing import Any, Optional

import ray
from ray.exceptions import RayActorError

from drivers.errors import InvalidInput

from . import registry_lock
from .config import Config
from .naming import board_name, lookup
from .ray_env import apply_node_env
from .ray_token import ensure_token
from .supervisor import supervisor_class

log = logging.getLogger("delfin_dm.runtime")


def init_ray(cfg: Config, address: Optional[str] = None) -> None:
    """Join ``address`` (or start a local cluster on loopback) in ``cfg.namespace``.

    ``RAY_AUTH_MODE`` is set when ``rayactors`` is imported (see its ``__init__``), so that
    separate processes agree with a cluster started by ``ray start``.
    """
    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {"namespace": cfg.namespace, "logging_level": logging.WARNING,
                              "log_to_driver": False}
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        if _is_loopback(_bootstrap(address)):
            loopback_only()
        ray.init(address=address, **kwargs)
    else:
        start_local_ray(**kwargs)


def start_local_ray(**kwargs: Any) -> None:
    """A new Ray cluster of this process on loopback only, with the node environment every
    cluster of ours gets (``ray_env``) and its token (``ray_token``); ``kwargs`` go to
    ``ray.init`` (no dashboard unless they ask for one: the test suite's cluster does, for Ray's
    state API)."""
    loopback_only()
    apply_node_env()
    ensure_token()                # before Ray writes one readable by every local user
    kwargs.setdefault("include_dashboard", False)
    ray.init(_node_ip_address="127.0.0.1", **kwargs)


def loopback_only() -> None:
    """Join a machine-local Ray head (``delfin-dm up`` starts one on 127.0.0.1 only).

    Ray rewrites a loopback address to the machine's own address before it connects, unless its
    ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER`` switch is off; Ray reads that variable when it is
    imported, so for a process that imported Ray already the same switch is set on Ray's
    constants too. Only for loopback heads: a multi-node cluster is joined by its real address.
    """
    os.environ["RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"] = "0"
    from ray._private import ray_constants
    ray_constants.ENABLE_RAY_CLUSTER = False


def _bootstrap(address: str) -> str:
    """The address Ray will use: "auto" means the head ``ray start`` recorded on this machine."""
    if address != "auto":
        return address
    try:
        return open("/tmp/ray/ray_current_cluster").read().strip()
    except OSError:
        return address


def _is_loopback(address: str) -> bool:
    host = address.rsplit(":", 1)[0].strip("[]")
    return host in ("localhost", "::1") or host.startswith("127.")


def ensure_supervisor(cfg: Config, strict: bool = False) -> Any:
    """Create the supervisor once (concurrent callers converge); on the node that holds the
    registry when ``supervisor_resource`` names that node's custom resource.

    Its first answer may wait for a new worker process, which a busy node starts slowly (Ray
    starts as many at once as the node has cores): that wait has the bound of an actor's start,
    ``connect_deadline_s``, not that of a call, ``control_timeout_s``.

    A supervisor already running keeps the registry and metrics root it was started with: one
    that differs from ``cfg``'s is InvalidInput when ``strict`` (``delfin-dm up``, whose HTTP app
    would read metrics where none are written), a warning otherwise (a process that joins with
    its own defaults, say another user's home, and reads through the actors)."""
    opts: dict[str, Any] = dict(name=cfg.supervisor_name, namespace=cfg.namespace, lifetime="detached",
                                get_if_exists=True)
    if cfg.supervisor_resource:
        opts["resources"] = {cfg.supervisor_resource: 0.001}
    handle = supervisor_class(cfg).options(**opts).remote(cfg.model_dump())
    try:
        answer = ray.get(handle.ping.remote(), timeout=cfg.connect_deadline_s)
    except RayActorError as exc:         # its registry held by another supervisor: said as such
        refused = registry_lock.refusal_in(str(exc)) if getattr(exc, "actor_init_failed", False) else None
        if refused is None:
            raise
        raise InvalidInput(refused) from None
    theirs, ours = answer.get("paths"), cfg.paths()
    if theirs and theirs != ours:
        said = (f"the driver manager in namespace {cfg.namespace!r} keeps its registry at {theirs['registry']} "
                f"and its metrics at {theirs['metrics']}, not at {ours['registry']} and {ours['metrics']} as "
                f"asked here: give its data dir (--data-dir, data_dir), or another namespace for a driver "
                f"manager of its own")
        if strict:
            raise InvalidInput(said)
        log.warning(said)
    return handle


def start(address: Optional[str] = None, config: Optional[Config] = None, **overrides: Any) -> "DriverManagerClient":
    """Join or start Ray, ensure the supervisor, return a client. Safe to call again."""
    from .client import DriverManagerClient
    cfg = config or Config.load(**overrides)
    init_ray(cfg, address)
    ensure_supervisor(cfg)
    return DriverManagerClient(config=cfg)


def stop_supervisor(cfg: Config, timeout_s: float = 60) -> None:
    """Stop the supervisor and its ownership board for good (both detached). ``timeout_s``:
    how long its storage actors get to log out first (0: kill without closing them)."""
    supervisor = lookup(cfg.supervisor_name, cfg.namespace)
    if supervisor is not None:
        if timeout_s:
            try:
                ray.get(supervisor.shutdown_all.remote(), timeout=timeout_s)
            except Exception as exc:  # closing is best effort; the kills below are not
                log.warning("closing storage actors: %s", type(exc).__name__)
        ray.kill(supervisor, no_restart=True)
    board = lookup(board_name(cfg.supervisor_name), cfg.namespace)
    if board is not None:
        ray.kill(board, no_restart=True)


def supervisor_running(cfg: Config) -> bool:
    return lookup(cfg.supervisor_name, cfg.namespace) is not None
