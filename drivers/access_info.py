"""Access info: how to reach and log in to one array, in Delfin's v1 shape.

The rules are Delfin's JSON schemas (``delfin/api/schemas/storages.py`` and
``access_info.py`` of Delfin 1.5.0, plus ``storage_name`` added after it), declared once here
(``CREATE_SCHEMA``, ``UPDATE_SCHEMA``) and checked with a Draft 4 validator, so a bad body gets
Delfin's error code and message wherever it comes in (HTTP, the Python client, the registry).
Two deliberate differences, both documented in the README's conformance table:

- ``ssh.pub_key`` is optional: Delfin's SSH pool can pin a key only on port 22; without one
  Delfin's drivers trust the array's key on first use, and ours need
  ``extra_attributes.host_key_policy = "auto_add"`` said explicitly.
- ``extra_attributes`` keys must all match Delfin's key pattern, and there are at most 64 of
  them (Delfin leaves other keys unchecked, which let a 10 MB or 500-deep object through).

Options beyond Delfin's blocks are strings in ``extra_attributes``, read through the typed
accessors below: ``verify`` (TLS: "true", "false" or a CA bundle path), ``scheme`` ("https" or
"http"), ``host_key_policy`` ("reject" or "auto_add"), ``timeout`` (seconds) and the collection
settings. Passwords are ``SecretStr``: they print as ``**********`` and come out in plaintext
only through ``reveal()``, which the driver calls to log in.
"""
from __future__ import annotations

import copy
from typing import Any, Literal, Optional, Union

import jsonschema
from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from .errors import InvalidInput

HOST = {"type": "string", "minLength": 0, "maxLength": 255, "pattern": "^[a-zA-Z0-9-_.:]*$"}
PORT = {"type": "integer", "minimum": 0, "maximum": 65535}
NAME_255 = {"type": "string", "minLength": 1, "maxLength": 255}
HOST_KEY_TYPES = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                  "ssh-rsa", "ssh-dss"]
EXTRA_KEY = "^[a-zA-Z0-9-_:. ]{1,255}$"
MAX_EXTRA_ATTRIBUTES = 64


def _block(extra: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required,
            "properties": {"host": HOST, "port": PORT, "username": NAME_255, "password": NAME_255, **extra}}


_SSH_KEYS = {"pub_key": {"type": "string", "minLength": 1, "maxLength": 4096},
             "pub_key_type": {"type": "string", "enum": HOST_KEY_TYPES}}
_EXTRA_ATTRIBUTES = {"type": "object", "maxProperties": MAX_EXTRA_ATTRIBUTES, "additionalProperties": False,
                     "patternProperties": {EXTRA_KEY: {"type": "string", "maxLength": 255}}}
_ANY_BLOCK = [{"required": [b]} for b in ("rest", "ssh", "cli", "smis")]


def _schema(rest_req: list[str], ssh_req: list[str], top: dict[str, Any], required: list[str]) -> dict[str, Any]:
    return {"type": "object", "additionalProperties": False, "required": required, "anyOf": _ANY_BLOCK,
            "properties": {
                **top,
                "rest": _block({}, rest_req),
                "ssh": _block(_SSH_KEYS, ssh_req),
                "cli": _block({}, ["host", "username", "password"]),
                "smis": _block({"namespace": NAME_255}, ["host", "username", "password"]),
                "extra_attributes": _EXTRA_ATTRIBUTES}}


#: POST /v1/storages (Delfin's create schema, ``storage_name`` included)
CREATE_SCHEMA = _schema(["host", "port", "username", "password"], ["host", "port", "username", "password"],
                        {"vendor": NAME_255, "model": NAME_255, "storage_name": NAME_255}, ["vendor", "model"])
#: PUT /v1/storages/{id}/access-info (Delfin's update schema: blocks only, no vendor or model)
UPDATE_SCHEMA = _schema(["host", "port", "username", "password"], ["host", "port", "username"], {}, [])

_VALIDATORS: dict[int, jsonschema.Draft4Validator] = {}


def check(schema: dict[str, Any], body: Any) -> None:
    """Validate ``body`` as Delfin does: InvalidInput("Invalid input for field/attribute <name>.
    <reason>"), or just the reason for a fault of the whole body."""
    validator = _VALIDATORS.get(id(schema))
    if validator is None:
        validator = _VALIDATORS[id(schema)] = jsonschema.Draft4Validator(schema)
    error = next(iter(validator.iter_errors(body)), None)      # the first, as Delfin's validate()
    if error is None:
        return
    message = _redact(error)
    if error.path:
        raise InvalidInput(f"Invalid input for field/attribute {error.path[-1]}. {message}")
    raise InvalidInput(message)


def _redact(error: jsonschema.ValidationError) -> str:
    """jsonschema quotes the bad value: a password must never echo, nor an object holding one."""
    echoes = error.validator not in ("required", "additionalProperties")   # these name keys only
    secret = any(str(p) in ("password", "pub_key") for p in error.path) or (echoes and _holds_secret(error.instance))
    if secret:
        return f"Value failed the '{error.validator}' check."
    message = error.message
    return message if len(message) <= 300 else message[:300] + "..."


def _holds_secret(value: Any, depth: int = 0) -> bool:
    if depth > 4:
        return True
    if isinstance(value, dict):
        return "password" in value or any(_holds_secret(v, depth + 1) for v in value.values())
    if isinstance(value, list):
        return any(_holds_secret(v, depth + 1) for v in value)
    return False


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid")

    host: str
    port: Optional[int] = None
    username: str
    password: Optional[SecretStr] = None


class RestAccess(_Block):
    port: int
    password: SecretStr


class SSHAccess(_Block):
    port: int
    #: the array's host key: the base64 key with ``pub_key_type`` (Delfin's form), or the type
    #: and key in one line ("ssh-ed25519 AAAA...")
    pub_key: Optional[str] = None
    pub_key_type: Optional[Literal["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384",
                                   "ecdsa-sha2-nistp521", "ssh-rsa", "ssh-dss"]] = None

    def host_key(self) -> Optional[tuple[str, str]]:
        """(key type, base64 key) from either form of ``pub_key``; None when there is none."""
        if not self.pub_key:
            return None
        parts = self.pub_key.split()
        if len(parts) >= 2:
            return parts[0], parts[1]
        if self.pub_key_type is None:
            raise InvalidInput("ssh.pub_key_type: required with a pub_key that has no key type")
        return self.pub_key_type, parts[0]


class CliAccess(_Block):
    password: SecretStr


class SmisAccess(_Block):
    password: SecretStr
    namespace: Optional[str] = None


BLOCKS = ("rest", "ssh", "cli", "smis")


class AccessInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    vendor: str
    model: str
    storage_name: Optional[str] = None
    rest: Optional[RestAccess] = None
    ssh: Optional[SSHAccess] = None
    cli: Optional[CliAccess] = None
    smis: Optional[SmisAccess] = None
    extra_attributes: dict[str, str] = {}
    storage_id: Optional[str] = None

    @classmethod
    def parse(cls, data: Any) -> "AccessInfo":
        """Validate untrusted input against Delfin's create schema; InvalidInput names the field."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise InvalidInput("Invalid input received. access info must be an object")
        body = {k: v for k, v in data.items() if k != "storage_id"}
        check(CREATE_SCHEMA, body)
        storage_id = data.get("storage_id")
        if storage_id is not None and not isinstance(storage_id, str):
            raise InvalidInput("Invalid input for field/attribute storage_id. must be a string")
        try:
            return cls.model_validate({**body, "storage_id": storage_id})
        except ValidationError as exc:   # the schema caught everything this could; say it anyway
            raise InvalidInput(f"Invalid input received. {exc.errors()[0]['msg']}") from None

    @classmethod
    def from_stored(cls, data: dict[str, Any]) -> "AccessInfo":
        """Access info as an older registry stored it: ``rest.verify``, ``rest.scheme`` and
        ``ssh.host_key_policy`` moved to ``extra_attributes``; other values as strings."""
        data = copy.deepcopy(data)
        extra = {k: v if isinstance(v, str) else _as_text(v) for k, v in (data.get("extra_attributes") or {}).items()}
        for block, keys in (("rest", ("verify", "scheme")), ("ssh", ("host_key_policy",))):
            for key in keys:
                if isinstance(data.get(block), dict) and key in data[block]:
                    extra.setdefault(key, _as_text(data[block].pop(key)))
        data["extra_attributes"] = extra
        return cls.parse(data)

    # -- the one place options beyond Delfin's blocks are read ----------------------------------
    def extra(self, name: str, default: Optional[str] = None) -> Optional[str]:
        return self.extra_attributes.get(name, default)

    def tls_verify(self) -> Union[bool, str]:
        """``extra_attributes.verify``: True (system CAs, the default), False, or a CA bundle path."""
        value = self.extra("verify", "true").strip()
        lowered = value.lower()
        if lowered in ("true", "yes", "1"):
            return True
        if lowered in ("false", "no", "0"):
            return False
        return value

    def scheme(self) -> str:
        value = self.extra("scheme", "https").lower()
        if value not in ("http", "https"):
            raise InvalidInput("Invalid input for field/attribute scheme. 'http' or 'https'")
        return value

    def host_key_policy(self) -> str:
        value = self.extra("host_key_policy", "reject").lower()
        if value not in ("reject", "auto_add"):
            raise InvalidInput("Invalid input for field/attribute host_key_policy. 'reject' or 'auto_add'")
        return value

    def number(self, name: str, default: Optional[float] = None, low: float = 0, high: float = 10**9) -> Optional[float]:
        """A numeric ``extra_attributes`` value, checked against [low, high]."""
        raw = self.extra(name)
        if raw is None:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise InvalidInput(f"Invalid input for field/attribute {name}. {raw!r} is not a number") from None
        if not low <= value <= high:
            raise InvalidInput(f"Invalid input for field/attribute {name}. must be in [{low:g}, {high:g}]")
        return value

    # -- shapes -------------------------------------------------------------------------------
    def endpoint(self) -> str:
        """Where the array listens: used to refuse a second registration before any login."""
        block = self.rest or self.ssh or self.cli or self.smis
        where = f"{block.host}:{block.port}" if block else "-"
        return f"{self.vendor}/{self.model}@{where}"

    def reveal(self) -> dict[str, Any]:
        """The plain dict a driver is constructed with; the only place passwords come out."""
        out = self.model_dump(mode="python", exclude_none=True)
        for name in BLOCKS:
            block = getattr(self, name)
            if block is not None and block.password is not None:
                out[name]["password"] = block.password.get_secret_value()
        return out

    def public(self) -> dict[str, Any]:
        """JSON-safe, password-free form (HTTP responses, registry columns, logs); the display
        name belongs to the storage, not to its access info."""
        out = self.model_dump(mode="json", exclude_none=True, exclude={"storage_name"})
        for name in BLOCKS:
            if out.get(name):
                out[name].pop("password", None)
        return out

    def secrets(self) -> dict[str, str]:
        """Just the passwords, for encryption at rest."""
        return {name: getattr(self, name).password.get_secret_value()
                for name in BLOCKS
                if getattr(self, name) is not None and getattr(self, name).password is not None}


def reveal_secret(value: Any) -> Any:
    """A ``SecretStr``'s text, any other value as it is (session handles travel either way)."""
    return value.get_secret_value() if isinstance(value, SecretStr) else value


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)
