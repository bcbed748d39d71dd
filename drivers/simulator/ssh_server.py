"""The array's SSH CLI (paramiko server mode): what the SSH driver talks to.

Commands over exec channels, ``!``-delimited with a header line (like ``lsvdisk -delim !``):
``lssystem``, ``lspool``, ``lsvolume``, ``lsdisk``, ``lsport``, ``lscontroller``,
``lscapabilities``, ``lsperf <start_ms> <end_ms> [types] [metrics]``. One connection carries
many channels; each connection counts as one session against the per-user cap.

A vendor CLI that offers an interactive shell (``open_shell``: Hitachi HNAS's console, which
Delfin's driver drives with ``invoke_shell``) gets a pty and shell channel: its greeting and
prompt, then each line typed echoed, answered and followed by the prompt again, until ``exit``.
A vendor CLI with a ``busy()`` answers a throttled command in its own words (Storwize's
``CMMVC...E`` line, ONTAP's and ETERNUS's ``Error:`` ones), as the array would say it.
"""
from __future__ import annotations

import io
import logging
import re
import shlex
import socket
import threading
import time
from typing import Any, Callable, Optional, Protocol

import paramiko
import pyarrow as pa
import pyarrow.csv as pacsv

from .. import perfgen
from .array import SimArray, SimError

log = logging.getLogger(__name__)

SAFE_ARG = re.compile(r"^[A-Za-z0-9_.,:-]{1,1000}$")
LIST_COMMANDS = {"lspool": "pools", "lsvolume": "volumes", "lsdisk": "disks", "lsport": "ports",
                 "lscontroller": "controllers"}
EXIT_OK, EXIT_USAGE, EXIT_BUSY, EXIT_LIMIT = 0, 2, 5, 6


def _cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    return str(v).replace("!", "_").replace("\n", " ")


def format_rows(rows: list[dict[str, Any]]) -> str:
    if not rows:
        return ""
    keys = list(rows[0].keys())
    lines = ["!".join(keys)] + ["!".join(_cell(r.get(k)) for k in keys) for r in rows]
    return "\n".join(lines) + "\n"


def perf_csv(array: SimArray, args: list[str]) -> bytes:
    start, end = int(args[0]), int(args[1])
    types = args[2].split(",") if len(args) > 2 and args[2] != "-" else None
    metrics = args[3].split(",") if len(args) > 3 else None
    ts, groups = array.perf_groups(start, end, types, metrics)
    parts = [perfgen.assemble("-", g["resource_type"], g["resource_ids"], g["metrics"], ts, g["values"])
             for g in groups]
    table = perfgen.concat(parts).drop_columns(["storage_id"])
    table = pa.table({"timestamp": table.column("timestamp").cast(pa.int64()),
                      **{n: table.column(n).cast(pa.string())
                         for n in ("resource_type", "resource_id", "metric", "unit")},
                      "value": table.column("value")})
    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(delimiter="!", quoting_style="none"))
    return buf.getvalue()


Answer = tuple[int, bytes, bytes]            # exit status, stdout, stderr


class Shell(Protocol):
    """One interactive session of a vendor's console (its state: a selected context, say)."""

    def greeting(self) -> str: ...

    def prompt(self) -> str: ...

    def run(self, command: str) -> Answer: ...


def command_words(command: str) -> list[str]:
    """A vendor CLI command's words as its shell splits them; none for one it cannot split."""
    try:
        return shlex.split(command)
    except ValueError:
        return []


def find_view(views: list[tuple[list[str], Any]], argv: list[str]) -> Optional[tuple[Any, list[str]]]:
    """The view of a vendor CLI whose command words ``argv`` starts with (the first listed wins:
    list a longer command before one it starts with), and the words after them; None if none."""
    for words, view in views:
        if argv[:len(words)] == words:
            return view, argv[len(words):]
    return None


def serve_command(array: SimArray, cli: Callable[[str], Answer], command: str, session: Any = None,
                  busy: Optional[Callable[[], bytes]] = None) -> Answer:
    """One command as the array serves it: counted in flight, with the array's faults, then
    answered by its command line (``cli``); a throttled one in the vendor CLI's own words
    (``busy``) where it has them; never raises."""
    with array.in_flight(session):
        array.delay()
        if array.throttled():
            return EXIT_BUSY, b"", busy() if busy is not None else b"error: system busy, try later\n"
        array.count_request()
        if array.faults.malformed:
            return EXIT_OK, b"\x00garbage!!\n!!\n", b""
        return cli(command)


def sim_cli(array: SimArray) -> Callable[[str], Answer]:
    """The simulated array's own command line (what the ``simulator ssh`` driver runs)."""
    return lambda command: run_command(array, command)


def run_command(array: SimArray, command: str) -> Answer:
    """(exit status, stdout, stderr) of one simulator CLI command; never raises."""
    try:
        argv = shlex.split(command)
    except ValueError:
        return EXIT_USAGE, b"", b"error: cannot parse command\n"
    if not argv or not all(SAFE_ARG.match(a) for a in argv):
        return EXIT_USAGE, b"", b"error: invalid characters in command\n"
    cmd, args = argv[0], argv[1:]
    if cmd == "lssystem":
        return EXIT_OK, format_rows([array.inv.storage]).encode(), b""
    if cmd == "lscapabilities":
        caps = array.capabilities()
        return EXIT_OK, format_rows([{**caps, "resource_types": ",".join(caps["resource_types"])}]).encode(), b""
    if cmd in LIST_COMMANDS:
        return EXIT_OK, format_rows(array.list_of(LIST_COMMANDS[cmd])).encode(), b""
    if cmd == "lsperf":
        if len(args) < 2 or not args[0].isdigit() or not args[1].isdigit():
            return EXIT_USAGE, b"", b"usage: lsperf <start_ms> <end_ms> [types|-] [metrics]\n"
        return EXIT_OK, perf_csv(array, args), b""
    return EXIT_USAGE, b"", f"error: unknown command {cmd}\n".encode()


class _Session(paramiko.ServerInterface):
    def __init__(self, array: SimArray, cli: Callable[[str], Answer],
                 files: Optional[Callable[[str], Optional[bytes]]] = None,
                 shell: Optional[Callable[[], Shell]] = None, busy: Optional[Callable[[], bytes]] = None) -> None:
        self.array, self.cli, self.files, self.shell, self.busy = array, cli, files, shell, busy
        self.conn_id: Optional[int] = None
        self.over_limit = False

    def get_allowed_auths(self, username: str) -> str:
        return "password"

    def check_auth_password(self, username: str, password: str) -> int:
        try:
            self.conn_id = self.array.ssh_open(username, password)
        except SimError as exc:
            if exc.status == 503:  # accept, then refuse every command: the client can tell why
                self.over_limit = True
                return paramiko.AUTH_SUCCESSFUL
            return paramiko.AUTH_FAILED
        return paramiko.AUTH_SUCCESSFUL

    def check_channel_request(self, kind: str, chanid: int) -> int:
        if kind == "session":
            return paramiko.OPEN_SUCCEEDED
        return paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED

    def check_channel_exec_request(self, channel: paramiko.Channel, command: bytes) -> bool:
        threading.Thread(target=self._exec, args=(channel, command), daemon=True).start()
        return True

    def check_channel_pty_request(self, channel: paramiko.Channel, term: bytes, width: int, height: int,
                                  pixelwidth: int, pixelheight: int, modes: bytes) -> bool:
        return self.shell is not None

    def check_channel_shell_request(self, channel: paramiko.Channel) -> bool:
        if self.shell is None:
            return False
        threading.Thread(target=self._shell, args=(channel, self.shell()), daemon=True).start()
        return True

    def _shell(self, channel: paramiko.Channel, shell: Shell) -> None:
        """The console: each line typed is echoed, then its answer (one request at the array),
        then the prompt; ``exit`` ends it. Lines end in CRLF, as a pty writes them."""
        try:
            channel.sendall(_crlf(shell.greeting() + shell.prompt()))
            pending = b""
            while True:
                data = channel.recv(4096)
                if not data:
                    return
                pending += data
                while b"\n" in pending:
                    line, pending = pending.split(b"\n", 1)
                    text = line.decode("utf-8", "replace").rstrip("\r")
                    if text.strip() == "exit":
                        channel.sendall(b"exit\r\n")
                        return
                    out = b""
                    if self.over_limit:
                        out = b"error: session limit reached\n"
                    elif text.strip():
                        _, stdout, stderr = self._serve(shell.run, text)
                        out = stdout + stderr
                    channel.sendall(_crlf(text + "\n") + _crlf(out) + _crlf(shell.prompt()))
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            channel.close()

    def _serve(self, cli: Callable[[str], Answer], command: str) -> Answer:
        return serve_command(self.array, cli, command, ("ssh", self.conn_id), self.busy)

    def _exec(self, channel: paramiko.Channel, command: bytes) -> None:
        text = command.decode("utf-8", "replace")
        if self.files is not None and text.startswith("scp ") and " -f " in f" {text} ":
            return self._scp_source(channel, text)
        try:
            if self.over_limit:
                code, out, err = EXIT_LIMIT, b"", b"error: session limit reached\n"
            else:
                code, out, err = self._serve(self.cli, text)
            if out:
                channel.sendall(out)
            if err:
                channel.sendall_stderr(err)
            channel.send_exit_status(code)
            channel.shutdown_write()  # EOF; the client closes once it has read everything
            deadline = time.monotonic() + 60
            while not channel.closed and time.monotonic() < deadline and channel.get_transport().is_active():
                time.sleep(0.005)
        except (OSError, EOFError, paramiko.SSHException):
            pass
        finally:
            channel.close()


    def _scp_source(self, channel: paramiko.Channel, command: str) -> None:
        """The sending side of scp (``scp -f PATH``), one file: what a client's ``get`` expects."""
        try:
            path = shlex.split(command)[-1]
            with self.array.in_flight(("ssh", self.conn_id)):
                self.array.delay()
                self.array.count_request()
                data = None if self.over_limit else self.files(path)
            channel.settimeout(30)
            if channel.recv(1) != b"\x00":
                return
            if data is None:
                channel.sendall(f"\x01scp: {path}: No such file or directory\n".encode())
                channel.send_exit_status(1)
                return
            channel.sendall(f"C0644 {len(data)} {path.rsplit('/', 1)[-1]}\n".encode())
            if channel.recv(1) != b"\x00":
                return
            channel.sendall(data + b"\x00")
            channel.recv(1)
            channel.send_exit_status(0)
        except (OSError, EOFError, ValueError, paramiko.SSHException, socket.timeout):
            pass
        finally:
            channel.close()


def _crlf(text: Any) -> bytes:
    """Text as a terminal shows it: every line ending CRLF."""
    data = text.encode() if isinstance(text, str) else text
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class _QuickAck:
    """The accepted socket, acknowledging at once what it receives. SSH clients without
    TCP_NODELAY (paramiko's, so Delfin's drivers) hold each small packet until the previous one
    is acknowledged; with Linux's delayed ACKs that cost about 40 ms per command."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def recv(self, n: int) -> bytes:
        if hasattr(socket, "TCP_QUICKACK"):
            try:
                self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 1)
            except OSError:
                pass
        return self._sock.recv(n)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class SSHServer:
    """Listens on one port for one array; restartable (down = stop listening)."""

    def __init__(self, array: SimArray, port: int, host_key: paramiko.PKey, host: str = "127.0.0.1",
                 cli: Optional[Callable[[str], Answer]] = None,
                 files: Optional[Callable[[str], Optional[bytes]]] = None,
                 shell: Optional[Callable[[], Shell]] = None, busy: Optional[Callable[[], bytes]] = None) -> None:
        self.array, self.host, self.port, self.host_key = array, host, port, host_key
        self.cli, self.files, self.shell, self.busy = cli or sim_cli(array), files, shell, busy
        self._sock: Optional[socket.socket] = None
        self._transports: set[paramiko.Transport] = set()
        self._lock = threading.Lock()

    def start(self) -> None:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, self.port))
        sock.listen(128)
        self.port = sock.getsockname()[1]
        self._sock = sock
        threading.Thread(target=self._accept, args=(sock,), daemon=True, name=f"ssh-{self.port}").start()

    def stop(self) -> None:
        sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()
        self.drop_connections()

    def drop_connections(self) -> None:
        """End every SSH connection (the array expiring its sessions, or going down)."""
        with self._lock:
            transports = list(self._transports)
        for t in transports:
            t.close()

    @property
    def running(self) -> bool:
        return self._sock is not None

    def _accept(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, _ = sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _serve(self, conn: socket.socket) -> None:
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)   # no Nagle wait per reply
        session = _Session(self.array, self.cli, self.files, self.shell, self.busy)
        transport = paramiko.Transport(_QuickAck(conn))
        transport.add_server_key(self.host_key)
        with self._lock:
            self._transports.add(transport)
        try:
            transport.start_server(server=session)
            transport.join()
        except (paramiko.SSHException, EOFError, OSError) as exc:  # garbage, scanners, resets
            log.debug("ssh connection ended: %s", exc)
        finally:
            transport.close()
            with self._lock:
                self._transports.discard(transport)
            if session.conn_id is not None:
                self.array.ssh_close(session.conn_id)
