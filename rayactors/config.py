"""The one config object. Built from its defaults, then a TOML file, then ``DELFIN_DM_*``
environment variables, then explicit arguments (later wins). Holds no secret: it travels to
actors as constructor arguments.

The file is ``DELFIN_DM_CONFIG`` if set, else ``~/.delfin-dm/config.toml`` when it exists; its
keys are the field names below (``bulk_inflight = 4``), the same as the variables without the
``DELFIN_DM_`` prefix. ``delfin-dm config`` shows every effective value and where it came from.
"""
from __future__ import annotations

import os
import tomllib
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, Field

from drivers.errors import InvalidInput

DEFAULT_DATA_DIR = "~/.delfin-dm"
#: supervisor methods that start a storage actor's login (see ``Config.connect_deadline_s``)
CONNECTING = frozenset({"discover_storage", "update_access_info"})


class Config(BaseModel):
    namespace: str = "delfin"
    supervisor_name: str = "driver-manager"
    data_dir: str = DEFAULT_DATA_DIR
    registry_path: Optional[str] = None        # default <data_dir>/registry.sqlite
    key_file: Optional[str] = None             # default <data_dir>/secret.key (0600)
    metrics_root: Optional[str] = None         # default <data_dir>/metrics; any pyarrow URI
    bulk_inflight: int = Field(4, ge=1, le=64)  # bulk calls at once on one session, within the driver's max
    control_timeout_s: float = Field(120.0, gt=0)
    bulk_timeout_s: float = Field(600.0, gt=0)
    backoff_base_s: float = Field(1.0, gt=0)
    backoff_cap_s: float = Field(60.0, gt=0)
    close_timeout_s: float = Field(10.0, gt=0)
    credentials_script: Optional[str] = None   # operator-set, like Harvest's credentials_script
    credentials_script_timeout_s: float = 10.0
    webhooks: list[str] = Field(default_factory=list)
    perf_interval_s: Optional[int] = None       # override the driver's collect interval
    perf_overlap_s: int = 60
    sync_interval_s: int = 900
    sync_expiration_s: float = Field(600.0, gt=0)   # a sync not finished by then no longer blocks a new one
    api_max_limit: int = Field(1000, ge=1, le=100000)   # most rows one list answer holds (Delfin's)
    # the HTTP API's bulkheads: calls in flight to one storage's actor, per lane, in one replica
    http_control_inflight: int = Field(8, ge=1, le=1000)
    http_bulk_inflight: int = Field(32, ge=1, le=10000)
    scheduler_enabled: bool = True
    recent_windows: int = Field(0, ge=0, le=100)   # windows kept in actor memory (0: read back from Parquet)
    metrics_retention_days: int = Field(0, ge=0)   # days of metrics kept (0: forever)
    retention_check_s: float = Field(3600.0, gt=0)  # how often the supervisor enforces it
    drop_metrics_on_remove: bool = False           # removing a storage also deletes its metrics
    actor_spread: bool = True                  # balance storage actors over alive nodes (placement.py)
    # CPU asked by each storage actor and the supervisor: not zero, because Ray places an actor
    # that asks for no resource on a random node, whatever its scheduling strategy says
    actor_num_cpus: float = Field(0.001, ge=0.0001, le=1)
    supervisor_resource: Optional[str] = None  # custom resource of the head node: pins the supervisor
    # an actor asks the supervisor who owns its storage whenever the supervisor commits a change
    # (pushed, ownership.py) and at least this often
    fence_interval_s: float = Field(60.0, gt=0)

    @property
    def connect_deadline_s(self) -> float:
        """How long a caller waits for a registration or an access-info update: the supervisor's
        own bound (up to ``close_timeout_s`` waiting for another registration of the endpoint or
        change of the storage; the actor's start and login within ``control_timeout_s``; a
        registration that failed then closes its actor within twice ``close_timeout_s``) and a
        margin, so the caller hears the supervisor's outcome, never its own timeout while the
        supervisor works on."""
        return self.control_timeout_s + 3 * self.close_timeout_s + 10.0

    def supervisor_timeout_s(self, method: str) -> float:
        """How long a client waits for the supervisor's ``method``: a registration or an update
        for ``connect_deadline_s``, anything else for ``control_timeout_s``."""
        return self.connect_deadline_s if method in CONNECTING else self.control_timeout_s

    @classmethod
    def load(cls, **overrides: Any) -> "Config":
        return cls.load_with_sources(**overrides)[0]

    @classmethod
    def load_with_sources(cls, **overrides: Any) -> tuple["Config", dict[str, str]]:
        """The config and, per field, where its value came from: default, file <path>,
        environment DELFIN_DM_<NAME>, or argument."""
        values: dict[str, Any] = {}
        sources = {name: "default" for name in cls.model_fields}
        path, from_file = cls._file()
        for name, value in from_file.items():
            if name not in cls.model_fields:
                raise InvalidInput(f"config: {path}: unknown setting {name!r}")
            values[name], sources[name] = value, f"file {path}"
        for name, field in cls.model_fields.items():
            env = os.environ.get(f"DELFIN_DM_{name.upper()}")
            if env is not None:
                values[name] = env.split(",") if field.annotation == list[str] else env
                sources[name] = f"environment DELFIN_DM_{name.upper()}"
        for name, value in overrides.items():
            if value is not None:
                values[name], sources[name] = value, "argument"
        try:
            cfg = cls.model_validate(values)
        except ValueError as exc:
            raise InvalidInput(f"config: {exc}") from None
        return cfg.resolved(), sources

    @staticmethod
    def _file() -> tuple[Optional[str], dict[str, Any]]:
        explicit = os.environ.get("DELFIN_DM_CONFIG")
        path = Path(explicit or Path(DEFAULT_DATA_DIR, "config.toml")).expanduser()
        if not path.exists():
            if explicit:
                raise InvalidInput(f"config: {path} does not exist")
            return None, {}
        try:
            return str(path), tomllib.loads(path.read_text())
        except (OSError, tomllib.TOMLDecodeError) as exc:
            raise InvalidInput(f"config: {path}: {exc}") from None

    def paths(self) -> dict[str, str]:
        """Where this configuration keeps what it stores: a process that joins a running driver
        manager must read the same places (see ``runtime.ensure_supervisor``)."""
        return {"registry": str(self.registry_path), "metrics": str(self.metrics_root)}

    def resolved(self) -> "Config":
        """Absolute paths, so actors on any worker (other cwd) agree on them."""
        data = Path(self.data_dir).expanduser().resolve()
        return self.model_copy(update={
            "data_dir": str(data),
            "registry_path": str(Path(self.registry_path or data / "registry.sqlite").expanduser().resolve()),
            "key_file": str(Path(self.key_file or data / "secret.key").expanduser().resolve()),
            "metrics_root": self.metrics_root if self.metrics_root and "://" in self.metrics_root
            else str(Path(self.metrics_root or data / "metrics").expanduser().resolve()),
        })
