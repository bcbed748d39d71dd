"""Encryption of passwords at rest (Fernet). The key comes from ``DELFIN_DM_SECRET_KEY`` or a
key file created with mode 0600 on first start; a key file readable by others is refused."""
from __future__ import annotations

import json
import os
import stat
from pathlib import Path


from drivers.errors import StorageBackendException

ENV_KEY = "DELFIN_DM_SECRET_KEY"


class InsecureKeyFile(StorageBackendException):
    """The key file is readable or writable by group/others."""


def load_key(key_file: str) -> bytes:
    env = os.environ.get(ENV_KEY)
    if env:
        return env.encode()
    path = Path(key_file)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        from cryptography.fernet import Fernet
        with os.fdopen(fd, "wb") as fh:
            fh.write(Fernet.generate_key())
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InsecureKeyFile(f"key file {path} must be mode 0600 (is {oct(mode & 0o777)})")
    return path.read_bytes().strip()


class SecretBox:
    """Fernet, imported when a box is made: only the supervisor makes one (storage actors import
    this module through the supervisor's, and cryptography costs them about 7 MB)."""

    def __init__(self, key: bytes) -> None:
        from cryptography.fernet import Fernet
        self._fernet = Fernet(key)

    def seal(self, secrets: dict[str, str]) -> str:
        return self._fernet.encrypt(json.dumps(secrets).encode()).decode()

    def open(self, token: str) -> dict[str, str]:
        try:
            return json.loads(self._fernet.decrypt(token.encode()))
        except Exception as exc:  # cryptography's InvalidToken, or not JSON
            raise StorageBackendException("stored credentials cannot be decrypted with this key") from exc
