"""Delfin-compatible errors: one table, one hierarchy.

    DelfinError                      (code, HTTP status, message format)
    +-- InvalidInput, InvalidIpOrPort, InvalidUsernameOrPassword, ...   400
    +-- StorageNotFound, AccessInfoNotFound, StorageDriverNotFound, ... 404
    +-- StorageBackendException, BadResponse, ConnectTimeout, ...       500
    +-- StorageCapabilityNotSupported (alias NotSupported)              501

The class name is Delfin's ``error_code``. Instances pickle by their ``error_args`` so they
cross Ray process boundaries unchanged and the caller can ``except StorageNotFound``.
"""
from __future__ import annotations

from typing import Any


class DelfinError(Exception):
    """Base of every error this project raises on purpose."""

    code: int = 500
    msg_fmt: str = "An unknown exception occurred. {0}"

    def __init__(self, *args: Any) -> None:
        self.error_args: tuple[str, ...] = tuple(str(a) for a in args)
        fmt_args = self.error_args or ("",)
        try:
            msg = self.msg_fmt.format(*fmt_args)
        except IndexError:
            msg = self.msg_fmt
        self.msg = msg.replace(" .", ".").strip()
        super().__init__(self.msg)

    @property
    def error_code(self) -> str:
        return type(self).__name__

    def to_dict(self) -> dict[str, Any]:
        return {"error_code": self.error_code, "error_msg": self.msg, "error_args": list(self.error_args)}

    def __reduce__(self):  # keep args, not the formatted message, across pickling
        return (type(self), self.error_args)


def _error(name: str, code: int, msg_fmt: str) -> type[DelfinError]:
    return type(name, (DelfinError,), {"code": code, "msg_fmt": msg_fmt, "__module__": __name__})


# name, HTTP status, message format (Delfin's texts)
ERROR_TABLE: list[tuple[str, int, str]] = [
    ("InvalidInput", 400, "Invalid input received. {0}"),
    ("InvalidIpOrPort", 400, "Invalid ip or port. {0}"),
    ("InvalidUsernameOrPassword", 400, "Invalid username or password. {0}"),
    ("StorageAlreadyExists", 400, "Storage already exists. {0}"),
    ("StorageSerialNumberMismatch", 400, "Storage serial number mismatch. {0}"),
    ("InvalidResults", 400, "The results are invalid. {0}"),
    ("StorageIsSyncing", 400, "Storage {0} is syncing now, please try again later."),
    ("SSLCertificateFailed", 400, "SSL certificate failed. {0}"),
    ("SSLHandshakeFailed", 400, "SSL handshake failed. {0}"),
    ("Unauthorized", 401, "Authentication required. {0}"),
    ("StorageNotFound", 404, "Storage {0} could not be found."),
    ("AccessInfoNotFound", 404, "Access information for storage {0} could not be found."),
    ("StorageDriverNotFound", 404, "Storage driver '{0}' could not be found."),
    ("StorageBackendNotFound", 404, "Storage backend could not be found. {0}"),
    ("AlertNotFound", 404, "Alert {0} could not be found."),
    ("ResourceNotFound", 404, "Resource {0} could not be found."),
    ("StorageBackendException", 500, "Exception from Storage Backend: {0}."),
    ("BadResponse", 500, "Bad response from server. {0}"),
    ("ConnectTimeout", 500, "Connect timeout. {0}"),
    ("SSHConnectTimeout", 500, "SSH connect timeout. {0}"),
    ("SSHException", 500, "Exception in SSH protocol negotiation or logic. {0}"),
    ("StorageCapabilityNotSupported", 501, "Capability feature not supported by storage. {0}"),
    # beyond Delfin: a storage's queue of calls is full (the HTTP API's bulkhead); retry later
    ("StorageBusy", 503, "Storage {0} has too many {1} calls in flight; retry later."),
]

#: The rest of Delfin 1.5.0's ``delfin.exception`` classes, same names, statuses and texts, so a
#: Delfin driver's error keeps its code here (``drivers/delfin_host.py``) and the API can answer
#: with Delfin's per-type not-found codes. ``tests/drivers/test_delfin_host.py`` keeps it complete.
DELFIN_ERROR_TABLE: list[tuple[str, int, str]] = [
    ("BadRequest", 400, 'The server could not comply with the request since it is either malformed or otherwise incorrect.'),
    ("Invalid", 400, 'Unacceptable parameters.'),
    ("InvalidContentType", 400, 'Invalid content type: {0}.'),
    ("InvalidCredential", 400, 'The credentials are invalid.'),
    ("InvalidName", 400, "An invalid 'name' value was provided. {0}"),
    ("InvalidPrivateKey", 400, 'not a valid RSA private key.'),
    ("InvalidSNMPConfig", 400, 'Invalid SNMP configuration: {0}'),
    ("MalformedRequestBody", 400, 'Malformed request body: {0}.'),
    ("MalformedRequestUrl", 400, 'Malformed request url.'),
    ("SNMPConnectionFailed", 400, 'Connection to SNMP server failed: {0}'),
    ("SSHNotFoundKnownHosts", 400, '{0} not found in known_hosts.'),
    ("NotAuthorized", 403, 'Not authorized.'),
    ("AlertSourceNotFound", 404, 'Alert source for storage {0} could not be found.'),
    ("AlertSourceNotFoundWithHost", 404, 'Alert source could not be found with host {0}.'),
    ("ComponentNotFound", 404, 'Component {0} could not be found.'),
    ("ConfigNotFound", 404, 'Could not find config at {0}.'),
    ("ControllerListNotFound", 404, 'Controller List for {0} could not be found.'),
    ("ControllerNotFound", 404, 'Controller {0} could not be found.'),
    ("DiskNotFound", 404, 'Disk {0} could not be found.'),
    ("FailedTaskNotFound", 404, 'Failed task {0} could not be found.'),
    ("FilesystemNotFound", 404, 'Filesystem {0} could not be found.'),
    ("MaskingViewNotFound", 404, 'Masking View {0} could not be found.'),
    ("NoSuchAction", 404, 'There is no such action: {0}'),
    ("NotFound", 404, 'Resource could not be found.'),
    ("PasteAppNotFound", 404, "Could not load paste app '{0}' from {1}."),
    ("PortGroupNotFound", 404, 'Port group {0} could not be found.'),
    ("PortGrpPortRelNotFound", 404, 'Port Group Port Relation {0} could not be found.'),
    ("PortListNotFound", 404, 'Port List for {0} could not be found.'),
    ("PortNotFound", 404, 'Port {0} could not be found.'),
    ("QtreeNotFound", 404, 'Qtree {0} could not be found.'),
    ("QuotaNotFound", 404, 'Quota {0} could not be found.'),
    ("ShareNotFound", 404, 'Share {0} could not be found.'),
    ("StorageHostGroupNotFound", 404, 'Storage host group {0} could not be found.'),
    ("StorageHostGrpHostRelNotFound", 404, 'Storage Host Group Host Relation {0} could not be found.'),
    ("StorageHostInitiatorNotFound", 404, 'Storage host initiator {0} could not be found.'),
    ("StorageHostNotFound", 404, 'Storage host {0} could not be found.'),
    ("StoragePoolNotFound", 404, 'Storage pool {0} could not be found.'),
    ("TaskNotFound", 404, 'Task {0} could not be found.'),
    ("VolGrpVolRelationNotFound", 404, 'Volume Group Volume Relation {0} could not be found.'),
    ("VolumeGroupNotFound", 404, 'Volume group {0} could not be found.'),
    ("VolumeNotFound", 404, 'Volume {0} could not be found.'),
    ("DuplicateExtension", 500, 'Found duplicate extension: {0}.'),
    ("HTTPConnectionTimeout", 500, 'HTTP connection timeout: {0}.'),
    ("ImproperIPVersion", 500, 'Provided improper IP version {0}.'),
    ("IncompleteTrapInformation", 500, 'Incomplete trap information.Storage {0} alert information needs to be synchronized.'),
    ("InvalidCAPath", 500, 'Invalid CA path: {0}.'),
    ("InvalidStorageCapability", 500, 'Invalid capability response: {0}'),
    ("LockAcquisitionFailed", 500, 'Lock acquisition failed.'),
    ("LockCreationFailed", 500, 'Unable to create lock. Coordination backend not started.'),
    ("SSHInjectionThreat", 500, 'SSH command injection detected: {0}.'),
    ("StorageClearAlertFailed", 500, 'Failed to clear alert. Reason: {0}.'),
    ("StorageListAlertFailed", 500, 'Failed to list alerts. Reason: {0}.'),
    ("StoragePerformanceCollectionFailed", 500, 'Failed to collect performance metrics. Reason: {0}.'),
    ("TelemetryTaskExecError", 500, 'Failure in telemetry task execution'),
    ("EmptyResourceMetrics", 501, 'Empty resource metric in capabilities'),
]

InvalidInput = _error(*ERROR_TABLE[0])
InvalidIpOrPort = _error(*ERROR_TABLE[1])
InvalidUsernameOrPassword = _error(*ERROR_TABLE[2])
StorageAlreadyExists = _error(*ERROR_TABLE[3])
StorageSerialNumberMismatch = _error(*ERROR_TABLE[4])
InvalidResults = _error(*ERROR_TABLE[5])
StorageIsSyncing = _error(*ERROR_TABLE[6])
SSLCertificateFailed = _error(*ERROR_TABLE[7])
SSLHandshakeFailed = _error(*ERROR_TABLE[8])
Unauthorized = _error(*ERROR_TABLE[9])
StorageNotFound = _error(*ERROR_TABLE[10])
AccessInfoNotFound = _error(*ERROR_TABLE[11])
StorageDriverNotFound = _error(*ERROR_TABLE[12])
StorageBackendNotFound = _error(*ERROR_TABLE[13])
AlertNotFound = _error(*ERROR_TABLE[14])
ResourceNotFound = _error(*ERROR_TABLE[15])
StorageBackendException = _error(*ERROR_TABLE[16])
BadResponse = _error(*ERROR_TABLE[17])
ConnectTimeout = _error(*ERROR_TABLE[18])
SSHConnectTimeout = _error(*ERROR_TABLE[19])
SSHException = _error(*ERROR_TABLE[20])
StorageCapabilityNotSupported = _error(*ERROR_TABLE[21])
StorageBusy = _error(*ERROR_TABLE[22])

#: The driver SDK's name for "this driver does not implement that method".
NotSupported = StorageCapabilityNotSupported

ALL_ERRORS: dict[str, type[DelfinError]] = {
    **{name: globals()[name] for name, _, _ in ERROR_TABLE},
    **{entry[0]: _error(*entry) for entry in DELFIN_ERROR_TABLE},
}
globals().update({name: cls for name, cls in ALL_ERRORS.items() if name not in globals()})


def error_from_dict(body: dict[str, Any]) -> DelfinError:
    """Rebuild an error from its ``to_dict()`` form (HTTP clients, registry)."""
    cls = ALL_ERRORS.get(str(body.get("error_code")), StorageBackendException)
    args = body.get("error_args") or [body.get("error_msg", "")]
    return cls(*args)
