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

#: The driver SDK's name for "this driver does not implement that method".
NotSupported = StorageCapabilityNotSupported

ALL_ERRORS: dict[str, type[DelfinError]] = {
    name: globals()[name] for name, _, _ in ERROR_TABLE
}


def error_from_dict(body: dict[str, Any]) -> DelfinError:
    """Rebuild an error from its ``to_dict()`` form (HTTP clients, registry)."""
    cls = ALL_ERRORS.get(str(body.get("error_code")), StorageBackendException)
    args = body.get("error_args") or [body.get("error_msg", "")]
    return cls(*args)
