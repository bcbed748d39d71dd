"""Access info: how to reach and log in to one array (Delfin's access_info shape).

Passwords are ``SecretStr``: they print as ``**********`` in ``repr``, ``str`` and JSON dumps,
and come out in plaintext only through ``reveal()``, which the driver calls to log in.
"""
from __future__ import annotations

from typing import Any, Literal, Optional, Union

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, field_validator

from .errors import InvalidInput


class _Block(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    host: str = Field(min_length=1, max_length=255)
    port: int = Field(ge=1, le=65535)
    username: str = Field(min_length=1, max_length=255)
    password: Optional[SecretStr] = None

    @field_validator("host")
    @classmethod
    def _host_has_no_spaces(cls, v: str) -> str:
        if any(c.isspace() for c in v) or "/" in v:
            raise ValueError("host must be a hostname or an IP address")
        return v


class RestAccess(_Block):
    password: SecretStr
    #: TLS verification for https backends: True (system CAs), a CA bundle path, or False
    #: (explicit opt-out, e.g. the plain-HTTP simulator).
    verify: Union[bool, str] = True
    scheme: Literal["http", "https"] = "https"


HostKeyType = Literal["ssh-ed25519", "ecdsa-sha2-nistp256", "ecdsa-sha2-nistp384", "ecdsa-sha2-nistp521",
                      "ssh-rsa", "ssh-dss"]


class SSHAccess(_Block):
    #: the array's host key: the base64 key with ``pub_key_type`` (Delfin's form), or the
    #: type and key in one line ("ssh-ed25519 AAAA...")
    pub_key: Optional[str] = Field(None, min_length=1, max_length=4096)
    pub_key_type: Optional[HostKeyType] = None
    #: "reject" unknown host keys (default) or "auto_add" (explicit opt-in per storage)
    host_key_policy: Literal["reject", "auto_add"] = "reject"

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


class AccessInfo(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    vendor: str = Field(min_length=1, max_length=255)
    model: str = Field(min_length=1, max_length=255)
    rest: Optional[RestAccess] = None
    ssh: Optional[SSHAccess] = None
    cli: Optional[dict[str, Any]] = None
    smis: Optional[dict[str, Any]] = None
    extra_attributes: dict[str, Any] = Field(default_factory=dict)
    storage_id: Optional[str] = None

    @classmethod
    def parse(cls, data: Any) -> "AccessInfo":
        """Validate untrusted input; raise InvalidInput naming the first bad field."""
        if isinstance(data, cls):
            return data
        if not isinstance(data, dict):
            raise InvalidInput("access_info must be an object")
        try:
            return cls.model_validate(data)
        except ValidationError as exc:
            raise InvalidInput(describe_validation_error(exc)) from None

    def endpoint(self) -> str:
        """Where the array listens: used to refuse a second registration before any login."""
        block = self.rest or self.ssh
        where = f"{block.host}:{block.port}" if block else "-"
        return f"{self.vendor}/{self.model}@{where}"

    def reveal(self) -> dict[str, Any]:
        """The plain dict a driver is constructed with; the only place passwords come out."""
        out = self.model_dump(mode="python")
        for name in ("rest", "ssh"):
            block = getattr(self, name)
            if block is not None and block.password is not None:
                out[name]["password"] = block.password.get_secret_value()
        return out

    def public(self) -> dict[str, Any]:
        """JSON-safe, password-free form (HTTP responses, registry columns, logs)."""
        out = self.model_dump(mode="json")
        for name in ("rest", "ssh"):
            if out.get(name):
                out[name].pop("password", None)
        return out

    def secrets(self) -> dict[str, str]:
        """Just the passwords, for encryption at rest."""
        return {name: getattr(self, name).password.get_secret_value()
                for name in ("rest", "ssh")
                if getattr(self, name) is not None and getattr(self, name).password is not None}

    def same_credentials(self, other: "AccessInfo") -> bool:
        return self.reveal() == other.reveal()


def describe_validation_error(exc: ValidationError) -> str:
    err = exc.errors()[0]
    loc = ".".join(str(p) for p in err["loc"]) or "body"
    return f"{loc}: {err['msg']}"
