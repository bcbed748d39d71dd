"""Delfin's resource shapes and enums, defined once.

Drivers return plain dicts (cheap to build, cheap to pickle); these models are the contract
they are checked against (``validate_rows``) in tests and at sync time. Field names and enum
values are Delfin's (see shared/DELFIN_REFERENCE.md). Capacities are bytes.
"""
from __future__ import annotations

from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict, TypeAdapter, ValidationError

from .errors import InvalidResults

StorageStatus = Literal["normal", "offline", "abnormal", "degraded", "unknown"]
VolumeStatus = Literal["available", "error"]
ProvisionType = Literal["thick", "thin"]
StorageType = Literal["block", "file", "unified"]
PortConnectionStatus = Literal["connected", "disconnected", "unknown"]
PortHealthStatus = Literal["normal", "abnormal", "unknown"]
PortType = Literal["fc", "iscsi", "ficon", "fcoe", "eth", "sas", "ib", "logic", "cifs", "nfs",
                   "fcache", "combo", "cna", "rcip", "nfs-cifs", "other"]
PortLogicalType = Literal["frontend", "backend", "service", "management", "internal", "maintenance",
                          "interconnect", "cluster", "data", "node-mgmt", "intercluster",
                          "cluster-mgmt", "physical", "if-group", "vlan", "other"]
DiskStatus = Literal["normal", "abnormal", "degraded", "offline"]
DiskPhysicalType = Literal["sata", "sas", "ssd", "nl-ssd", "fc", "lun", "ata", "flash", "vmdisk",
                           "nl-sas", "ssd-card", "sas-flash-vp", "hdd", "nvme-ssd", "unknown"]
ControllerStatus = Literal["normal", "offline", "fault", "degraded", "unknown"]
FilesystemStatus = Literal["normal", "faulty"]
Worm = Literal["non_worm", "audit_log", "compliance", "enterprise"]
SecurityMode = Literal["mixed", "native", "ntfs", "unix"]
QuotaType = Literal["tree", "user", "group"]
ShareProtocol = Literal["cifs", "nfs", "ftp", "hdfs"]
HostStatus = Literal["normal", "offline", "abnormal", "degraded"]
InitiatorStatus = Literal["online", "offline", "unknown"]
InitiatorType = Literal["fc", "iscsi", "roce", "sas", "nvme-of", "unknown"]
AlertSeverity = Literal["Fatal", "Critical", "Major", "Minor", "Warning", "Informational", "NotSpecified"]
AlertCategory = Literal["Fault", "Event", "Recovery", "NotSpecified"]

Opt = Optional


class _Row(BaseModel):
    model_config = ConfigDict(extra="allow")
    storage_id: Opt[str] = None


class Storage(_Row):
    name: str
    description: Opt[str] = None
    location: Opt[str] = None
    status: StorageStatus
    vendor: str
    model: str
    serial_number: str
    firmware_version: Opt[str] = None
    total_capacity: int
    used_capacity: int
    free_capacity: int
    raw_capacity: Opt[int] = None
    subscribed_capacity: Opt[int] = None


class StoragePool(_Row):
    native_storage_pool_id: str
    name: str
    description: Opt[str] = None
    storage_type: StorageType
    status: StorageStatus
    total_capacity: int
    used_capacity: int
    free_capacity: int
    subscribed_capacity: Opt[int] = None


class Volume(_Row):
    native_volume_id: str
    name: str
    description: Opt[str] = None
    type: ProvisionType
    status: VolumeStatus
    native_storage_pool_id: Opt[str] = None
    wwn: Opt[str] = None
    total_capacity: int
    used_capacity: int
    free_capacity: int
    compressed: Opt[bool] = None
    deduplicated: Opt[bool] = None


class Controller(_Row):
    native_controller_id: str
    name: str
    status: ControllerStatus
    location: Opt[str] = None
    soft_version: Opt[str] = None
    cpu_info: Opt[str] = None
    cpu_count: Opt[int] = None
    memory_size: Opt[int] = None
    mgmt_ip: Opt[str] = None


class Port(_Row):
    native_port_id: str
    name: str
    location: Opt[str] = None
    type: PortType
    logical_type: Opt[PortLogicalType] = None
    connection_status: PortConnectionStatus
    health_status: PortHealthStatus
    native_parent_id: Opt[str] = None
    speed: Opt[int] = None
    max_speed: Opt[int] = None
    wwn: Opt[str] = None
    mac_address: Opt[str] = None
    ipv4: Opt[str] = None
    ipv4_mask: Opt[str] = None
    ipv6: Opt[str] = None
    ipv6_mask: Opt[str] = None


class Disk(_Row):
    native_disk_id: str
    name: str
    physical_type: DiskPhysicalType
    logical_type: Opt[str] = None
    status: DiskStatus
    location: Opt[str] = None
    native_disk_group_id: Opt[str] = None
    serial_number: Opt[str] = None
    manufacturer: Opt[str] = None
    model: Opt[str] = None
    firmware: Opt[str] = None
    speed: Opt[int] = None
    capacity: int
    health_score: Opt[int] = None


class Filesystem(_Row):
    native_filesystem_id: str
    name: str
    type: ProvisionType
    status: FilesystemStatus
    native_pool_id: Opt[str] = None
    security_mode: Opt[SecurityMode] = None
    total_capacity: int
    used_capacity: int
    free_capacity: int
    compressed: Opt[bool] = None
    deduplicated: Opt[bool] = None
    worm: Opt[Worm] = None


class Qtree(_Row):
    native_qtree_id: str
    name: str
    path: Opt[str] = None
    native_filesystem_id: Opt[str] = None
    security_mode: Opt[SecurityMode] = None


class Quota(_Row):
    native_quota_id: str
    type: QuotaType
    native_filesystem_id: Opt[str] = None
    native_qtree_id: Opt[str] = None
    capacity_hard_limit: Opt[int] = None
    capacity_soft_limit: Opt[int] = None
    file_hard_limit: Opt[int] = None
    file_soft_limit: Opt[int] = None
    file_count: Opt[int] = None
    used_capacity: Opt[int] = None
    user_group_name: Opt[str] = None


class Share(_Row):
    native_share_id: str
    name: str
    path: Opt[str] = None
    native_filesystem_id: Opt[str] = None
    native_qtree_id: Opt[str] = None
    protocol: ShareProtocol


class StorageHost(_Row):
    native_storage_host_id: str
    name: str
    description: Opt[str] = None
    os_type: Opt[str] = None
    ip_address: Opt[str] = None
    status: HostStatus


class StorageHostInitiator(_Row):
    native_storage_host_initiator_id: str
    native_storage_host_id: Opt[str] = None
    name: Opt[str] = None
    description: Opt[str] = None
    alias: Opt[str] = None
    wwn: Opt[str] = None
    status: InitiatorStatus
    type: Opt[InitiatorType] = None


class MaskingView(_Row):
    native_masking_view_id: str
    name: Opt[str] = None
    native_storage_host_group_id: Opt[str] = None
    native_volume_group_id: Opt[str] = None
    native_port_group_id: Opt[str] = None
    native_storage_host_id: Opt[str] = None
    native_volume_id: Opt[str] = None


class Alert(BaseModel):
    model_config = ConfigDict(extra="allow")
    alert_id: str
    alert_name: str
    severity: AlertSeverity
    category: AlertCategory
    type: str
    sequence_number: str
    occur_time: int
    description: Opt[str] = None
    recovery_advice: Opt[str] = None
    resource_type: Opt[str] = None
    location: Opt[str] = None
    match_key: Opt[str] = None


class ResourceKind(BaseModel):
    """One listable resource type: the driver method, the row model, the REST names, and what
    Delfin's API does with it (search options, not-found code, member lists)."""

    name: str                    # e.g. "volume"
    method: str                  # driver method, e.g. "list_volumes"
    model: Any                   # row model (None for dict-shaped group results)
    collection: str              # REST path segment, e.g. "volumes"
    key: str                     # JSON key of the list, e.g. "volumes"
    native_id: str               # e.g. "native_volume_id"
    not_found: str               # Delfin's error code for an unknown id, e.g. "VolumeNotFound"
    search: tuple[str, ...]      # the query parameters Delfin filters this kind by
    #: members Delfin's view lists in each row: (where the relations are: a key of the driver's
    #: result dict, or "@<kind>" for another kind's rows; the member's native id field; the list
    #: field of the view)
    members: Optional[tuple[str, str, str]] = None

    def fields(self) -> set[str]:
        """Fields a list can be sorted by: the row model's, plus the ones every row carries."""
        own = set(self.model.model_fields) if self.model is not None else {"name", "description", self.native_id}
        return own | {"id", "storage_id", "created_at", "updated_at"}


def _kind(name: str, method: str, model: Any, collection: str, not_found: str, extra_search: tuple[str, ...] = (),
          status: bool = True, members: Optional[tuple[str, str, str]] = None) -> ResourceKind:
    native = f"native_{name}_id"
    search = ("name", *(("status",) if status else ()), "id", "storage_id", *extra_search, native)
    return ResourceKind(name=name, method=method, model=model, collection=collection,
                        key=collection.replace("-", "_"), native_id=native, not_found=not_found,
                        search=search, members=members)


RESOURCE_KINDS: list[ResourceKind] = [
    _kind("storage_pool", "list_storage_pools", StoragePool, "storage-pools", "StoragePoolNotFound"),
    _kind("volume", "list_volumes", Volume, "volumes", "VolumeNotFound", ("wwn", "native_storage_pool_id")),
    _kind("controller", "list_controllers", Controller, "controllers", "ControllerNotFound"),
    _kind("port", "list_ports", Port, "ports", "PortNotFound", ("wwn", "native_controller_id")),
    _kind("disk", "list_disks", Disk, "disks", "DiskNotFound"),
    _kind("quota", "list_quotas", Quota, "quotas", "QuotaNotFound",
          ("type", "native_filesystem_id", "native_qtree_id", "user_group_name")),
    _kind("filesystem", "list_filesystems", Filesystem, "filesystems", "FilesystemNotFound"),
    _kind("qtree", "list_qtrees", Qtree, "qtrees", "QtreeNotFound", ("state", "native_filesystem_id"),
          status=False),
    _kind("share", "list_shares", Share, "shares", "ShareNotFound"),
    _kind("storage_host_initiator", "list_storage_host_initiators", StorageHostInitiator,
          "storage-host-initiators", "StorageHostInitiatorNotFound", ("wwn", "native_storage_host_id")),
    _kind("storage_host", "list_storage_hosts", StorageHost, "storage-hosts", "StorageHostNotFound",
          members=("@storage_host_initiator", "native_storage_host_initiator_id", "storage_host_initiators")),
    _kind("storage_host_group", "list_storage_host_groups", None, "storage-host-groups",
          "StorageHostGroupNotFound", status=False,
          members=("storage_host_grp_host_rels", "native_storage_host_id", "storage_hosts")),
    _kind("port_group", "list_port_groups", None, "port-groups", "PortGroupNotFound", status=False,
          members=("port_grp_port_rels", "native_port_id", "ports")),
    _kind("volume_group", "list_volume_groups", None, "volume-groups", "VolumeGroupNotFound", status=False,
          members=("vol_grp_vol_rels", "native_volume_id", "volumes")),
    _kind("masking_view", "list_masking_views", MaskingView, "masking-views", "MaskingViewNotFound",
          ("native_storage_host_group_id", "native_storage_port_group_id", "native_storage_volume_group_id"),
          status=False),
]
#: Delfin's search options for storages
STORAGE_SEARCH: tuple[str, ...] = ("name", "vendor", "model", "status", "serial_number")
STORAGE_FIELDS: frozenset[str] = frozenset(Storage.model_fields) | {"id", "created_at", "updated_at"}
KINDS_BY_METHOD: dict[str, ResourceKind] = {k.method: k for k in RESOURCE_KINDS}
KINDS_BY_NAME: dict[str, ResourceKind] = {k.name: k for k in RESOURCE_KINDS}

_adapters: dict[Any, TypeAdapter] = {}


def validate_rows(method: str, rows: Any, coerce: bool = False) -> Any:
    """Check a list method's result against its model; raise InvalidResults naming the field.

    With ``coerce`` the typed rows are returned (e.g. "42" -> 42 for text protocols).
    """
    kind = KINDS_BY_METHOD[method]
    if kind.model is None:
        if not isinstance(rows, dict):
            raise InvalidResults(f"{method} must return a dict of lists")
        return rows
    adapter = _adapters.get(kind.model)
    if adapter is None:
        adapter = _adapters[kind.model] = TypeAdapter(list[kind.model])
    try:
        models = adapter.validate_python(rows)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidResults(f"{method}: {loc}: {err['msg']}") from exc
    return [m.model_dump(exclude_unset=True) for m in models] if coerce else rows


def validate_storage(row: Any, coerce: bool = False) -> dict:
    try:
        model = Storage.model_validate(row)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise InvalidResults(f"get_storage: {loc}: {err['msg']}") from exc
    return model.model_dump(exclude_unset=True) if coerce else row


def check_row_shapes(method: str, rows: Any) -> Any:
    """The structural check for drivers whose values follow their own conventions (Delfin's
    vendor drivers report, e.g., volume status ``normal``): the container is right and every
    row is an object with its native id. Raise InvalidResults otherwise."""
    kind = KINDS_BY_METHOD[method]
    if kind.model is None:
        if not isinstance(rows, dict) or not all(isinstance(v, list) for v in rows.values()):
            raise InvalidResults(f"{method} must return a dict of lists")
        items = rows.get(kind.key, [])
    else:
        if not isinstance(rows, list):
            raise InvalidResults(f"{method} must return a list, not {type(rows).__name__}")
        items = rows
    for i, row in enumerate(items):
        if not isinstance(row, dict):
            raise InvalidResults(f"{method}: row {i} is {type(row).__name__}, not an object")
        if row.get(kind.native_id) in (None, ""):
            raise InvalidResults(f"{method}: row {i} has no {kind.native_id}")
    return rows
