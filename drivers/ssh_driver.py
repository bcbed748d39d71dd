"""``simulator ssh``: a CLI-over-SSH driver in the manner of Delfin's SSH drivers (paramiko).

One SSH transport per driver instance; each command runs on its own exec channel, so
concurrent calls share the transport (``max_concurrent_calls``). Once closed it never connects
again. Host keys are verified against ``ssh.pub_key`` unless
the access info opts in to ``host_key_policy: auto_add``. Command arguments are validated
before they reach the wire; replies are parsed strictly (BadResponse on anything odd).
"""
from __future__ import annotations

import base64
import contextlib
import io
import re
import socket
import threading
from typing import Any, Iterator, Optional

import paramiko
import pyarrow as pa
import pyarrow.csv as pacsv

from .arrow_schema import validate_table
from .errors import (BadResponse, DelfinError, InvalidInput, InvalidIpOrPort, InvalidResults,
                     InvalidUsernameOrPassword, SSHConnectTimeout, SSHException, StorageBackendException)
from .base import perf_window
from .perf_catalog import normalise_request
from .sim_common import PERF_TYPES, SimulatorDriverBase

SAFE_ARG = re.compile(r"^[A-Za-z0-9_.,:-]{1,1000}$")
EXIT_BUSY, EXIT_LIMIT = 5, 6
LIST_COMMANDS = {"pools": "lspool", "volumes": "lsvolume", "controllers": "lscontroller", "ports": "lsport",
                 "disks": "lsdisk"}
_BOOL = {"yes": True, "no": False}


@contextlib.contextmanager
def _translate(where: str) -> Iterator[None]:
    """paramiko/socket exceptions -> Delfin errors, keeping the cause."""
    try:
        yield
    except DelfinError:
        raise
    except paramiko.AuthenticationException as exc:
        raise InvalidUsernameOrPassword() from exc
    except paramiko.BadHostKeyException as exc:
        raise SSHException(f"{where}: host key does not match the one in the access info") from exc
    except (socket.timeout, TimeoutError) as exc:
        raise SSHConnectTimeout(where) from exc
    except paramiko.SSHException as exc:
        raise SSHException(f"{where}: {exc}") from exc
    except (ConnectionError, OSError, EOFError) as exc:
        raise InvalidIpOrPort(where) from exc


def _parse_table(text: str, where: str) -> list[dict[str, Optional[str]]]:
    lines = [ln for ln in text.splitlines() if ln]
    if not lines:
        return []
    header = lines[0].split("!")
    if not all(re.match(r"^[a-z_]+$", h) for h in header):
        raise BadResponse(f"{where}: bad header")
    rows = []
    for ln in lines[1:]:
        cells = ln.split("!")
        if len(cells) != len(header):
            raise BadResponse(f"{where}: row has {len(cells)} cells, header {len(header)}")
        rows.append({h: (_BOOL.get(c, c) if c != "" else None) for h, c in zip(header, cells)})
    return rows


class SimulatorSSHDriver(SimulatorDriverBase):
    model = "ssh"
    max_concurrent_calls = 4

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        ssh = self._access_block()
        if ssh.password is None:
            raise InvalidInput("ssh.password: required")
        if ssh.pub_key is None and self.access_info.host_key_policy() != "auto_add":
            raise InvalidInput("ssh.pub_key: the array's host key is required "
                               "(or set extra_attributes.host_key_policy to auto_add explicitly)")
        self._timeout_s = self._timeout()
        self._lock = threading.Lock()
        self._client: Optional[paramiko.SSHClient] = None
        self._failed: Optional[DelfinError] = None   # a rejected password is not retried per caller
        self._closed = False
        with self._lock:
            self._connect_locked()

    # -- session ----------------------------------------------------------------------------
    def _connect_locked(self) -> None:
        ssh = self.access_info.ssh
        client = paramiko.SSHClient()
        if ssh.pub_key:
            try:
                keytype, data = ssh.host_key()
                key = paramiko.PKey.from_type_string(keytype, base64.b64decode(data))
            except (ValueError, TypeError, paramiko.SSHException) as exc:
                raise InvalidInput("ssh.pub_key: not a public key line") from exc
            name = ssh.host if ssh.port == 22 else f"[{ssh.host}]:{ssh.port}"
            client.get_host_keys().add(name, keytype, key)
        client.set_missing_host_key_policy(
            paramiko.AutoAddPolicy() if self.access_info.host_key_policy() == "auto_add" else paramiko.RejectPolicy())
        try:
            with _translate("ssh login"):
                client.connect(ssh.host, ssh.port, username=ssh.username,
                               password=ssh.password.get_secret_value(), timeout=self._timeout_s,
                               banner_timeout=self._timeout_s, auth_timeout=self._timeout_s,
                               look_for_keys=False, allow_agent=False)
            self._client = client
            self._exec_raw(["lssystem"])   # the array refuses here if the session cap is hit
        except Exception:
            client.close()
            self._client = None
            raise

    def _transport(self) -> paramiko.Transport:
        with self._lock:
            client = self._client
            transport = client.get_transport() if client else None
            if transport is None or not transport.is_active():
                if self._closed:                 # logged out for good: never again
                    raise StorageBackendException("the session was closed")
                if self._failed is not None and client is None:
                    raise self._failed
                if client is not None:
                    client.close()
                self._client = None
                try:
                    self._connect_locked()   # reconnect once if the transport dropped
                except InvalidUsernameOrPassword as exc:   # never retried with the same password
                    self._failed = exc
                    raise
                self._failed = None
                transport = self._client.get_transport()
            return transport

    def reset_connection(self, context: Any, **kwargs: Any) -> None:
        with self._lock:
            if self._closed:
                raise StorageBackendException("the session was closed")
            if self._client:
                self._client.close()
            self._failed = None
            self._connect_locked()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._client is not None:
                self._client.close()
                self._client = None

    def _exec_raw(self, argv: list[str], transport: Optional[paramiko.Transport] = None) -> bytes:
        for a in argv:
            if not SAFE_ARG.match(a):
                raise InvalidInput(f"unsafe CLI argument {a!r}")
        command = " ".join(argv)
        transport = transport or self._client.get_transport()
        with _translate(argv[0]):
            chan = transport.open_session(timeout=self._timeout_s)
            try:
                chan.settimeout(self._timeout_s)
                chan.exec_command(command)
                out, err = io.BytesIO(), io.BytesIO()
                while True:
                    data = chan.recv(65536)
                    if not data:
                        break
                    out.write(data)
                code = chan.recv_exit_status()
                while True:
                    data = chan.recv_stderr(65536)
                    if not data:
                        break
                    err.write(data)
            finally:
                chan.close()
        message = err.getvalue().decode("utf-8", "replace").strip()
        if code == -1:   # the channel closed without an exit status: the connection was dropped
            raise SSHException(f"{argv[0]}: connection closed during the command")
        if code == EXIT_LIMIT:
            raise StorageBackendException(f"{argv[0]}: session limit reached on the array ({message})")
        if code == EXIT_BUSY:
            raise StorageBackendException(f"{argv[0]}: array busy ({message})")
        if code != 0:
            raise StorageBackendException(f"{argv[0]}: exit {code}: {message}")
        return out.getvalue()

    def _exec(self, argv: list[str]) -> bytes:
        """Run one command; if the array dropped the connection meanwhile, connect once more
        (as a REST driver logs in again on a 401) and run it again."""
        transport = self._transport()
        try:
            return self._exec_raw(argv, transport)
        except (SSHException, InvalidIpOrPort):
            transport.join(1.0)       # a dropped connection: give its thread a moment to notice
            if transport.is_active():
                raise
        return self._exec_raw(argv, self._transport())

    def _run(self, argv: list[str]) -> str:
        data = self._exec(argv)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise BadResponse(f"{argv[0]}: not text") from exc

    def _fetch(self, what: str, method: str) -> list[dict]:
        command = LIST_COMMANDS[what]
        return self._rows(method, _parse_table(self._run([command]), command), coerce=True)

    # -- Delfin methods ---------------------------------------------------------------------
    def get_storage(self, context: Any) -> dict:
        rows = _parse_table(self._run(["lssystem"]), "lssystem")
        if len(rows) != 1:
            raise BadResponse("lssystem: expected one row")
        return self._storage(rows[0], coerce=True)

    def get_capabilities(self, context: Any, filters: Optional[dict] = None) -> dict:
        rows = _parse_table(self._run(["lscapabilities"]), "lscapabilities")
        try:
            return self._capabilities(int(rows[0]["perf_interval"]), int(rows[0]["retention"]))
        except (IndexError, KeyError, TypeError, ValueError) as exc:
            raise BadResponse("lscapabilities") from exc

    def collect_perf_metrics(self, context: Any, storage_id: str, resource_metrics: dict,
                             start_time: int, end_time: int) -> Any:
        start_time, end_time = perf_window(start_time, end_time)
        parts = []
        for rtype, metrics in normalise_request(resource_metrics, PERF_TYPES).items():
            if not metrics:
                continue
            data = self._exec(["lsperf", str(int(start_time)), str(int(end_time)), rtype, ",".join(metrics)])
            if not data.strip():
                continue
            try:
                t = pacsv.read_csv(io.BytesIO(data), parse_options=pacsv.ParseOptions(delimiter="!"),
                                   convert_options=pacsv.ConvertOptions(column_types={
                                       "timestamp": pa.int64(), "value": pa.float64(),
                                       "resource_id": pa.string()}))
                t = t.append_column("storage_id", pa.array([storage_id] * t.num_rows, pa.string()))
                parts.append(validate_table(t))
            except (pa.ArrowInvalid, InvalidResults) as exc:
                raise BadResponse(f"lsperf: {exc}") from exc
        if not parts:
            return validate_table(pa.table({"timestamp": pa.array([], pa.int64()),
                                            **{c: pa.array([], pa.string()) for c in
                                               ("storage_id", "resource_type", "resource_id", "metric", "unit")},
                                            "value": pa.array([], pa.float64())}))
        return pa.concat_tables(parts).unify_dictionaries() if len(parts) > 1 else parts[0]
