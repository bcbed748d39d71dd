"""SODA Delfin's own vendor drivers (``delfin==1.5.0``), unchanged, behind our driver contract.

The only module that imports ``delfin``, and only when a Delfin driver is asked for: an actor
imports Delfin's config plus the one driver module its storage uses. What the host adapts:

- **Access info.** A Delfin driver is built with the access-info dict as keyword arguments,
  passwords encoded by ``delfin.cryptor.encode``, ``storage_id`` and a top-level ``verify``
  (from ``rest.verify``). It logs in in its constructor or lazily; the password stays in the
  actor process, as with our drivers.
- **Errors.** A ``delfin.exception`` error becomes ours of the same name and code
  (``drivers.errors`` has every one of Delfin's classes). Delfin's handlers often re-wrap the
  real cause (an SSH handler raises SSHException around InvalidUsernameOrPassword), so the
  innermost Delfin error of the chain wins: it is the one raised where the fault was known.
  ``NotImplementedError`` (Delfin's "this driver lacks that resource") and a ``None`` from
  perf, capabilities or the latest perf timestamp become NotSupported, never ``[]``. Anything
  else is StorageBackendException with the cause kept.
- **Results.** Rows are checked for shape (a list of objects, each with its native id:
  InvalidResults otherwise); perf metrics (``Metric(name, labels, values)``) become a
  METRIC_SCHEMA Arrow table.
- **Sessions.** ``max_concurrent_calls = 1``: Delfin's drivers share one ``requests.Session``
  with a token refreshed in place, or a paramiko pool, and are not written for concurrent use.
  ``close()`` ends the session where the driver can: ``close_connection()`` if it has one, else
  ``logout()`` of its REST handlers, and every pooled SSH connection is closed.
- **An array in trouble is an error, never data.** A call during which a request's last answer
  was 401 fails with InvalidUsernameOrPassword, one whose last answer was 429 or 5xx with
  StorageBackendException, whatever the driver returned (Delfin's FlashArray driver returns an
  empty or cut-short list then, VPLEX's an empty one for a rejected password): ``response_watch``.
- **What a driver says only in its log** decides the error where it raises a generic one
  (OceanStor's client: a refused login is InvalidUsernameOrPassword, an array it could not
  reach InvalidIpOrPort): ``driver_log``.
- **A session a failed request broke** is put back: a token left decoded (Unity's, DS8000's),
  a live session replaced by a re-login that failed (OceanStor's): ``_sessions_kept``.
- **A console's answer the driver misreads** is checked first: HNAS's and ETERNUS's drivers
  read a console 0.5 s after typing (an answer cut short was data), ETERNUS's,
  Storwize's and NetApp's made no data of a CLI error (``_hnas_console_checked``,
  ``_eternus_cli_checked``, ``_cli_errors_checked``); VNX block's ran ``naviseccli`` without
  reading its exit status, logged in again on a refused password and lost each list's last
  record (``_navi_checked``); 3PAR's read a CLI answer without its table's header as an empty
  table (``_hpe3par_tables_checked``).
- **A constructor that logs in before it can be mended** is run in its own steps by the host,
  the mend first (``BUILT_BY_HOST``: ETERNUS's one password try, VNX block's ``naviseccli``
  runner).
- **A login the driver cannot complete** is mended on its answer: VSP's handler could not take
  the array's integer session id and sent its password in place of the session token
  (``_vsp_login_mended``).
- **Sessions a killed actor leaves.** For the drivers in ``SESSION_HANDOFF`` the session's
  cookies (and the headers and handler attributes its logout needs) are its handle; a restarted
  actor ends it with the driver's own handler and ``logout()``. That handler is given no
  password, so it cannot log in (Unity's handler logs in again on a 401, even from
  ``logout()``), and is made without its constructor where that logs in (OceanStor's). Other
  REST drivers' sessions lapse at the array's idle timeout; SSH sessions end with the process.
- **No monkey-patching.** Delfin imports eventlet (its SSH pool); importing it patches nothing,
  and ``assert_unpatched()`` checks that no Delfin import did.
"""
from __future__ import annotations

import contextlib
import functools
import importlib
import json
import logging
import os
import re
import subprocess
import threading
import types
import warnings
from dataclasses import dataclass
from importlib.metadata import EntryPoint, entry_points
from typing import Any, Callable, ClassVar, Iterator, Optional

from .access_info import AccessInfo
from .arrow_schema import metrics_to_table
from .base import LIST_METHODS, StorageDriver
from .errors import (ALL_ERRORS, BadResponse, DelfinError, InvalidIpOrPort, InvalidResults,
                     InvalidUsernameOrPassword, NotSupported, StorageBackendException)
from .driver_log import logged_errors
from .models import check_row_shapes, validate_storage
from .response_watch import note_trouble, watch_objects, watched

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "delfin.storage.drivers"
#: results that mean "the driver has nothing here" when it answers None: Delfin's base class
#: does for these, and a driver's own ``list_*`` whose body is ``pass`` (3PAR's file resources)
_NONE_IS_UNSUPPORTED = {"collect_perf_metrics", "get_capabilities", "get_latest_perf_timestamp", *LIST_METHODS}
#: the driver methods the host forwards (ours minus the session ones it handles itself)
FORWARDED = (*LIST_METHODS, "get_storage", "clear_alert", "add_trap_config", "remove_trap_config",
             "get_latest_perf_timestamp", "get_alert_sources")
#: directories some Delfin drivers write to, relative to the working directory (Delfin runs from
#: its source tree, where they exist). The storage actor runs in a scratch directory of its own.
WORKDIR_FILES = {"ibm storwize_svc": "delfin/drivers/utils/performance_file/svc"}
#: what a Delfin driver raises when it cannot read what it got: an array's answer of trouble
#: (429, 5xx) seen during the call is the better error
GENERIC_ERRORS = (InvalidResults, StorageBackendException, BadResponse)
#: drivers whose ``list_alerts`` reads both bounds of a query (KeyError with one), by the unit
#: (ms per unit) it compares them in: given both, the end left open (the host applies it). NetApp's
#: compares Delfin's epoch milliseconds with alert times in seconds (no alert was ever in range);
#: HNAS's, in milliseconds, adds an empty alert for each event it filters out, and its sort then
#: fails the whole call (KeyError 'occur_time')
ALERT_QUERY_BOTH_BOUNDS = {"netapp cmode": 1000, "hitachi hnas": 1}
#: methods a Delfin 1.5.0 driver has that cannot work, and why: ``not_supported``, never run (a
#: call that looked done while the array did nothing)
UNUSABLE = {
    "netapp cmode": {"clear_alert": "Delfin 1.5.0's NetApp driver reads the alert as a dict where Delfin's API passes "
                                    "its sequence number, and sends the alert id glued to its option ('-alert-idX'), "
                                    "which ONTAP rejects; it does not read the answer, so the alert stayed open while "
                                    "the call succeeded"},
    "hitachi hnas": {"clear_alert": "Delfin 1.5.0's HNAS driver does nothing to clear an alert (its clear_alert is "
                                    "'pass'): the event would stay in the array's log while the call succeeded"},
}


def _console_answer(out: str, command: str, prompt: str, wait: Any) -> str:
    """What a console shows between the echo of ``command`` and the prompt after it, once it is
    known that the driver's read holds the whole answer: the terminal's text ends with the
    prompt after that echo (the echo of the ``exit`` the driver types last aside). Otherwise the
    console was slower than the driver's wait and the driver would read part of an answer, or
    none, as data: Delfin's StorageBackendException (the driver passes its errors on as they are)."""
    shown = out.rstrip()
    if shown.endswith("exit"):
        shown = shown[:-len("exit")].rstrip()
    echoed = shown.rfind(command)
    if echoed < 0 or not shown.endswith(prompt) or shown.rfind(prompt) < echoed + len(command):
        from delfin import exception as dex
        raise dex.StorageBackendException(f"the array's console had not finished answering {command!r} when the "
                                          f"driver read it (it reads {wait} s after typing the command)")
    return shown[echoed + len(command):-len(prompt)]


def _cli_trouble(seen: str) -> None:
    """A CLI's answer of trouble (``"'<error line>' to <command>"``), which a driver would make
    no data of: noted for the call (the call fails with it where the driver catches the error),
    and raised as Delfin's StorageBackendException."""
    from delfin import exception as dex
    note_trouble(seen)
    raise dex.StorageBackendException(f"the array answered {seen}")


#: the closing banner of HNAS's event log (``event-log-show``), as its console prints it
_HNAS_LOG_BANNER = "****** Current time"


def _hnas_console_checked(inner: Any) -> None:
    """Two faults in how HNAS's driver reads its console (``ssh_do_exec``: the commands typed
    0.5 s apart, then whatever the terminal holds), put right on its answers:

    - **an answer cut short was data**: a console slower than that gave the driver part of an
      answer, or none, and it listed what it found (an empty list: the file systems gone). An
      answer that does not end with the console's prompt after the last command (and the echo of
      the ``exit`` typed after it) is an error (StorageBackendException), never rows.
    - **the oldest event was lost**: the driver adds an event to its list at the blank line after
      it; the console prints a blank line between events but none after the last one. Its
      ``event-log-show`` answer gets one blank line before the closing banner when it has none
      (never a second: a blank line with no event before it is an empty alert, on which the
      driver's sort fails).
    - **a busy host's read failed the listing**: the driver types ``exit`` and closes the channel
      at once. When the console's echo of ``exit`` arrived first, its line break made a blank
      line after the closing banner, so an empty alert (KeyError 'occur_time' in the driver's
      sort). The event log's answer ends at that echo."""
    handler = inner.nas_handler
    run = handler.ssh_do_exec

    def ssh_do_exec(command_list: list) -> str:
        out = run(command_list)
        last = str(command_list[-1]) if command_list else ""
        if not isinstance(out, str) or not last:
            return out
        _console_answer(out, last, ":$", 0.5)
        if last.startswith("event-log-show"):
            head, banner, tail = out.rpartition("\r\n" + _HNAS_LOG_BANNER)
            opening, _, events = head.partition(_HNAS_LOG_BANNER)
            if banner and opening and "\r\n" in events and not head.endswith("\r\n"):
                head += "\r\n"
            return head + banner + tail.rstrip()
        return out
    handler.ssh_do_exec = ssh_do_exec


def _vsp_login_mended(inner: Any) -> None:
    """Two faults in how VSP's REST handler logs in (``get_token``), put right on the login's
    answer, so that the driver holds one session and uses it:

    - **the session it made was lost**: a VSP answers the session's id as an integer (Hitachi's
      REST reference: ``"sessionId": 3``), which the handler encodes as text
      (``cryptor.encode``): AttributeError after the array had made the session. Every call
      then failed, and each one left a session the driver could not end (it never kept the
      id), towards the array's cap (64 per storage system). The driver gets the id as text.
    - **its requests carried the password, not the session**: the handler leaves its Basic
      credentials on its ``requests`` session after the login, and ``requests`` sends those in
      place of the session token on every later request. A VSP authorizes every operation but
      the login by the session (401 otherwise); one that took the credentials would check the
      password on each request. Once the login is answered the credentials are taken off: the
      requests carry the token, and an expired one (403) makes the driver log in again, as it
      is written to."""
    handler = inner.rest_handler
    call = handler.call_with_token

    def call_with_token(url: str, data: Any, method: str, calltimeout: Any) -> Any:
        res = call(url, data, method, calltimeout)
        if method == "POST" and str(url).rstrip("/").endswith("/sessions") and res.status_code == 200:
            handler.session.auth = None
            try:
                body = res.json()
            except ValueError:
                return res                   # the driver's own reading of it fails as it would
            if isinstance(body, dict) and isinstance(body.get("sessionId"), int):
                body = {**body, "sessionId": str(body["sessionId"])}
                res.json = lambda **_: body
        return res
    handler.call_with_token = call_with_token


#: how an ETERNUS CLI says a command is not for this model or firmware (a caret under what it
#: could not parse, or ``E0331 ... is not valid``, as in Delfin's recorded replies): the answers
#: on which Delfin's driver tries the older command, so not trouble
_ETERNUS_NOT_HERE = ("^", "is not valid")


def _eternus_cli_checked(inner: Any) -> None:
    """Two faults in how ETERNUS's driver reads its CLI (``do_exec_shell``: the command typed,
    0.5 s later ``exit``, then whatever the terminal holds; 5 s for events), put right on its
    answers:

    - **an error was no data**: the driver turns any answer holding ``Error:`` into None, and a
      list into an empty one (a busy array's volumes: none). An error other than "not for this
      model" (``_ETERNUS_NOT_HERE``, where the driver tries an older command) is the array's
      trouble: it fails the call with the array's words (StorageBackendException), and is noted
      for the call (``note_trouble``) where the driver catches it (its thin-volume listing).
    - **an answer cut short was data**: a CLI slower than the driver's wait gave it part of an
      answer, or none. An answer that does not end with the prompt after the echo of the
      command (and the echo of the ``exit`` typed after it) is an error, never rows."""
    pool = inner.cli_handler.ssh_pool
    run = pool.do_exec_shell

    def do_exec_shell(command_list: list, exe_time: Any) -> str:
        out = run(command_list, exe_time)
        last = str(command_list[-1]) if command_list else ""
        if not isinstance(out, str) or not last:
            return out
        answer = _console_answer(out, last, "CLI>", exe_time)
        errors = [line.strip() for line in answer.splitlines() if line.strip().startswith("Error:")]
        if errors and not any(sign in answer for sign in _ETERNUS_NOT_HERE):
            _cli_trouble(f"{errors[0]!r} to {last}")
        return out
    pool.do_exec_shell = do_exec_shell


def _cli_errors_checked(holder: str, method: str, error: str, read_by_driver: tuple[str, ...] = ()) -> Any:
    """A mend for a driver that reads its CLI's error line as the table it asked for (Storwize's,
    NetApp's: a busy system's lists were empty, or rows of nothing): the driver's command runner
    (``method`` of the object at the dotted ``holder`` path) checked, so that an answer that is
    the CLI's error (``error``, a pattern at its start), other than the ones the driver reads
    itself (``read_by_driver``), fails the call with the array's words, noted for the call where
    the driver catches it."""
    pattern = re.compile(error)

    def mend(inner: Any) -> None:
        obj = functools.reduce(getattr, holder.split("."), inner)
        run = getattr(obj, method)

        def checked(command: str, *args: Any, **kwargs: Any) -> Any:
            out = run(command, *args, **kwargs)
            text = out.strip() if isinstance(out, str) else ""
            if pattern.match(text) and not text.startswith(read_by_driver):
                _cli_trouble(f"{text.splitlines()[0]!r} to {command}")
            return out
        setattr(obj, method, checked)
    return mend


#: how long past the driver's own ``naviseccli`` timeout (its ``-t``: the tool's connection) the
#: host waits for the tool before it fails the command (the driver waits without end)
NAVI_GRACE_S = 10.0


#: a speed alone on its line, as ``naviseccli`` lists the speeds a port can run at
_NAVI_SPEED = re.compile(r"(?m)^(\s*)(\d+)([KMG]bps\.?)\s*$")


def _navi_sub_command(command: list[str]) -> str:
    """The Navisphere command of a ``naviseccli`` argument list: the words after ``-h <host>``
    (and ``-port <n>``), never the account given before them; a command for the tool's own
    certificate store (``security -certificate``, no account) in full."""
    words = list(command)
    if words[1:3] == ["security", "-certificate"]:
        return " ".join(words[1:])
    words = words[words.index("-h") + 2:] if "-h" in words else words[-1:]
    if words[:1] == ["-port"]:
        words = words[2:]
    return " ".join(words)


def _navi_checked(inner: Any) -> None:
    """Five faults in how VNX block's driver runs ``naviseccli`` (``NaviHandler.navi_exe``, a
    process per command), put right by running each command for it:

    - **an error was no data**: it never reads the tool's exit status, and fails a command only
      for the few errors it knows by their words (a refused account, a server it cannot reach);
      any other error was parsed as the answer (a busy storage processor's pools, volumes and
      ports: empty lists; its storage: no name). A non-zero exit status fails the call with the
      tool's words (StorageBackendException).
    - **a refused password was two failed logins per command**: on a refusal it logs in again
      at once with the same password, which the array refuses again, towards the account's
      lock-out. The refusal is raised as it comes (InvalidUsernameOrPassword).
    - **each list's last record was lost**: its parsers add a record at the blank line after
      it, and it strips the answer's last blank lines: the second storage processor's CPU, the
      last iSCSI port's address and the last I/O module's type (its SAS port: ``other``). The
      answer ends with a blank line.
    - **a port's top speed was the wrong one**: it takes the greatest of the speeds a port
      lists as text (``"8Gbps" > "16Gbps"``): a 16 Gb/s FC port's was 8 Gb/s, a 10 Gb/s iSCSI
      port's 1 Gb/s. Each listed speed's number is given leading zeros (``_NAVI_SPEED``), which
      its text comparison then orders as numbers (mixed units stay as the driver reads them).
    - **a tool that hung held the call for ever**: it waits for the process without a bound.
      The host waits the tool's own timeout and ``NAVI_GRACE_S``, then ends it.

    Its login (``NaviHandler.login``: at registration, after a certificate error and in
    ``reset_connection``) runs its commands the same way: a busy storage processor at
    registration failed nothing there (the driver went on with no version), a hung tool held
    the registration for ever, and a certificate file that could not be added was passed over.

    The errors name the Navisphere command alone: the tool's command line holds the password."""
    from delfin import exception as dex
    from delfin.drivers.dell_emc.vnx.vnx_block import consts
    handler = inner.navi_handler

    def run(command: list[str], answer: Optional[str], tool_timeout: Optional[float] = None,
            failed_as: Optional[Callable[[str], Exception]] = None) -> str:
        """One command; a non-zero exit status fails it with the tool's words (``failed_as`` gives
        the error for them, else the array's trouble)."""
        sub = _navi_sub_command(command)
        limit = float(handler.navi_timeout if tool_timeout is None else tool_timeout) + NAVI_GRACE_S
        failed: Optional[Exception] = None
        try:
            done = subprocess.run(command, input=(answer or "").encode(), capture_output=True, timeout=limit)
        except FileNotFoundError:
            failed = dex.ComponentNotFound("naviseccli")
        except subprocess.TimeoutExpired:
            failed = dex.StorageBackendException(f"naviseccli did not answer {sub!r} within {limit:g} s")
        if failed is not None:
            raise failed         # raised here, not in the handler: no chain to the command line and its password
        out = done.stdout.decode("utf-8", "replace").strip()
        for words, error in consts.EXCEPTION_MAP.items():      # the errors the driver knows, as it raises them
            if words in out and not (words == consts.CER_ERR and answer in (None, consts.CER_STORE)):
                raise error(out)
        if done.returncode:
            said = out or done.stderr.decode("utf-8", "replace").strip() or f"exit status {done.returncode}"
            if failed_as is not None:
                raise failed_as(said.splitlines()[0])
            _cli_trouble(f"{said.splitlines()[0]!r} to {sub}")
        return _NAVI_SPEED.sub(lambda m: m[1] + m[2].zfill(6) + m[3], out) + "\n"

    def navi_exe(command: list[str], host_ip: Optional[str] = None) -> str:
        with handler.session_lock:
            try:
                return run(command, consts.CER_REJECT if handler.verify else consts.CER_STORE)
            except dex.SSLCertificateFailed:       # the driver's own answer: its certificate again
                handler.login(host_ip)
                return run(command, None)

    def login(host_ip: Optional[str] = None) -> str:
        """The driver's login (its certificate store, then ``getagent``), each command run by
        the host; the storage processor's revision, as the driver's gives it."""
        host_ip = host_ip or handler.navi_host
        answer = consts.CER_STORE
        if handler.verify:
            answer = consts.CER_REJECT
            handler.remove_cer(host_ip=host_ip)     # the tool's own store, on this host: no array
            run(f"{consts.CER_ADD_API} {handler.verify}".split(), None,
                failed_as=lambda said: dex.SSLCertificateFailed(
                    f"naviseccli did not take the certificate file {handler.verify}: {said}"))
        command = handler.get_cli_command_str(host_ip=host_ip, sub_command=consts.GET_AGENT_API,
                                              timeout=consts.LOGIN_SOCKET_TIMEOUT)
        agent = handler.cli_res_to_dict(run(command.split(), answer, consts.LOGIN_SOCKET_TIMEOUT))
        return (agent or {}).get("revision", "")
    handler.navi_exe, handler.login = navi_exe, login


def _navi_built(inner: Any, kwargs: dict) -> None:
    """VNX block's constructor in its own order (its base class, its ``naviseccli`` handler,
    the handler's login, its component handler), the handler mended (``_navi_checked``) before
    that login: the constructor logs in at once."""
    from delfin.drivers import driver
    from delfin.drivers.dell_emc.vnx.vnx_block.component_handler import ComponentHandler
    from delfin.drivers.dell_emc.vnx.vnx_block.navi_handler import NaviHandler
    driver.StorageDriver.__init__(inner, **kwargs)
    inner.navi_handler = NaviHandler(**kwargs)
    _navi_checked(inner)
    inner.version = inner.navi_handler.login()
    inner.com_handler = ComponentHandler(inner.navi_handler)


def _hpe3par_tables_checked(inner: Any) -> None:
    """3PAR's driver reads its CLI's lists of disks, ports and nodes (``showpd``, ``showport``,
    ``shownode``) as tables found by their header line, and made an empty list of any answer
    without one: a busy array's disks, ports and controllers. Where the driver says the table
    must be read (``throw_excep``, those three), an answer with text but no header line is the
    array's message, not the table: it fails the call with the array's words, whatever they are
    (the 3PAR CLI's wording for "busy" is not known here). The detail tables it reads on a best
    effort (a port's iSCSI address, a node's CPU) stay as the driver reads them."""
    handler = inner.ssh_handler
    read = handler.get_resources_info

    def get_resources_info(command: str, parse_type: Any, pattern_str: Optional[str] = None,
                           para_map: Optional[dict] = None, throw_excep: bool = True) -> Any:
        def checked(text: str, pattern: Optional[str], para_map: Optional[dict] = None) -> Any:
            lines = [line.strip() for line in text.splitlines() if line.strip()]
            if throw_excep and pattern and lines and not any(re.search(pattern, line) for line in lines):
                _cli_trouble(f"{lines[0]!r} to {command}")
            return parse_type(text, pattern, para_map=para_map)
        return read(command, checked, pattern_str=pattern_str, para_map=para_map, throw_excep=throw_excep)
    handler.get_resources_info = get_resources_info


def _eternus_one_password_try(inner: Any) -> None:
    """ETERNUS's SSH pool answers a refused password by connecting again at once, the keys in
    ``~/.ssh`` left out: two failed logins per try, towards the account's lock-out (a rotated
    password was two at each probe, a wrong one two at each registration). Its connections are
    made with Delfin's shared SSH pool's own ``create`` instead, as every other Delfin SSH
    driver makes them: one try."""
    from delfin.drivers.utils.ssh_client import SSHPool
    pool = inner.cli_handler.ssh_pool
    pool.create = types.MethodType(SSHPool.create, pool)


def _eternus_built(inner: Any, kwargs: dict) -> None:
    """ETERNUS's constructor in its own order (its base class, its CLI handler, the handler's
    login), its pool given one password try before that login: the constructor logs in at once,
    before the host could mend the instance."""
    from delfin.drivers import driver
    from delfin.drivers.fujitsu.eternus.cli_handler import CliHandler
    driver.StorageDriver.__init__(inner, **kwargs)
    inner.cli_handler = CliHandler(**kwargs)
    _eternus_one_password_try(inner)
    inner.login = inner.cli_handler.login()


#: drivers the host builds itself, where what it puts right must come before the constructor's
#: login (each function is given the bare instance and the keyword arguments)
BUILT_BY_HOST = {"fujitsu eternus": _eternus_built, "dellemc vnx_block": _navi_built}


#: what the host puts right in a Delfin driver instance, after it is built (each function is
#: given the driver instance): its reading of its array's answers, its logins
ANSWER_MENDS = {"hitachi hnas": (_hnas_console_checked,), "hitachi vsp": (_vsp_login_mended,),
                "fujitsu eternus": (_eternus_cli_checked,), "hpe 3par": (_hpe3par_tables_checked,),
                # (VNX block's runner, ``_navi_checked``, is put in by its builder, before its login)
                # its CLI errors on stderr, which its handler answers when stdout is empty; it reads
                # CMMVC8275E (an alert already fixed) itself, in clear_alert
                "ibm storwize_svc": (_cli_errors_checked("ssh_hanlder", "exec_ssh_command", r"CMMVC\d{4}E\b",
                                                         ("CMMVC8275E",)),),
                # ONTAP's CLI errors begin "Error: " (its "is not a recognized command", Delfin's SSH
                # pool raises itself)
                "netapp cmode": (_cli_errors_checked("netapp_handler.ssh_pool", "do_exec", r"Error: "),)}


@dataclass(frozen=True)
class Handoff:
    """How a driver's REST session is handed to the restarted actor that ends it."""
    attr: str                        #: the driver attribute holding the REST handler
    headers: tuple[str, ...] = ()    #: session headers its ``logout()`` needs besides the cookies
    attrs: tuple[str, ...] = ()      #: attributes of the session's holder it needs (OceanStor's device URL)
    cookie: bool = True              #: the session is a cookie (False: the headers alone)
    #: the handler's attribute holding the session, when not the handler itself (3PAR's REST
    #: handler is built around a REST client built from the access info, which holds the session)
    via: str = ""
    #: the handler's constructor logs in (OceanStor's): the release handler is made without it
    login_in_constructor: bool = False


#: Delfin drivers whose session a restarted actor can end (see ``DelfinDriverHost.session_handle``).
#: Only the ones checked at a simulated array (tests/rayactors/test_delfin_drivers.py). Unity's
#: CSRF token is kept as the handler keeps it (``cryptor``-encoded), and a Unity answers nothing
#: without ``X-EMC-REST-CLIENT``, which only its login sets. OceanStor's session is its
#: ``iBaseToken`` header on its device's URL; 3PAR's its session key, in a header and in the
#: logout's URL; VSP's its token (``Authorization``, ``cryptor``-encoded as the handler keeps it),
#: ended by its session id on its storage device's URL. (DS8000's driver has no logout that
#: reaches the array: its token cannot be handed over.)
SESSION_HANDOFF = {"pure flasharray": Handoff("rest_handler"),
                   "dellemc unity": Handoff("rest_handler", ("X-EMC-REST-CLIENT", "EMC-CSRF-TOKEN")),
                   "huawei oceanstor": Handoff("client", ("iBaseToken",), ("url",), cookie=False,
                                               login_in_constructor=True),
                   "hpe 3par": Handoff("rest_handler", ("X-HP3PAR-WSAPI-SessionKey",), ("rest_auth_token",),
                                       cookie=False, via="rest_client"),
                   "hitachi vsp": Handoff("rest_handler", ("Authorization",), ("session_id", "storage_device_id"),
                                          cookie=False)}

_init_lock = threading.Lock()
_initialised = False


@functools.lru_cache(maxsize=1)
def delfin_entry_points() -> dict[str, EntryPoint]:
    """Delfin's drivers by ``"<vendor> <model>"``, found without importing Delfin."""
    return {ep.name: ep for ep in entry_points(group=ENTRY_POINT_GROUP)}


def init_delfin() -> None:
    """Delfin's oslo.config must be parsed before a driver module loads (it reads options such
    as ``delfin_cryptor`` at import); once per process, with no config file and no argv."""
    global _initialised
    trust_access_info_only()          # every time: the environment may have been set since
    with _init_lock:
        if _initialised:
            return
        # Delfin's imports warn about eventlet's deprecation and urllib3's 'strict': not ours to fix
        warnings.filterwarnings("ignore", category=DeprecationWarning, module="delfin.*")
        warnings.filterwarnings("ignore", message=".*Eventlet is deprecated.*")
        warnings.filterwarnings("ignore", message="The 'strict' parameter is no longer needed", category=FutureWarning)
        import delfin.common.config  # noqa: F401  (registers Delfin's options)
        from oslo_config import cfg
        if not cfg.CONF._args:   # another embedder may have parsed it already
            try:
                cfg.CONF([], project="delfin", default_config_files=[])
            except cfg.Error as exc:
                raise StorageBackendException(f"cannot initialise Delfin's config: {exc}") from exc
        _initialised = True


#: environment variables through which ``requests`` replaces the CA a session was given
ENVIRONMENT_CA = ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE")


def trust_access_info_only() -> None:
    """A storage's TLS trust is its access info's ``verify``, never the process environment.
    ``requests`` lets ``REQUESTS_CA_BUNDLE`` or ``CURL_CA_BUNDLE`` (set on many hosts) replace the
    ``verify`` of a session that trusts its environment (``trust_env``, the default): a driver
    that makes its own session (VMAX's) then checks the array against the host's public CAs, not
    the CA the user gave for it, and verifies even with ``verify: false``. Delfin's shared REST
    client turns ``trust_env`` off; the host takes the two variables out of its process."""
    for name in ENVIRONMENT_CA:
        os.environ.pop(name, None)


def assert_unpatched() -> None:
    """Raise if anything imported with Delfin monkey-patched this process (eventlet)."""
    import eventlet.patcher
    patched = [m for m in ("socket", "thread", "time", "select", "os") if eventlet.patcher.is_monkey_patched(m)]
    if patched:
        raise StorageBackendException(f"eventlet monkey-patched {patched} in this process")


def _innermost_delfin_error(exc: BaseException) -> Optional[BaseException]:
    from delfin import exception as dex
    found, seen, cur = None, set(), exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, dex.DelfinException):
            found = cur
        cur = cur.__cause__ or cur.__context__
    return found


def _not_reached(exc: BaseException) -> bool:
    """Whether ``requests`` could not connect to the array, somewhere in the chain: a driver that
    lets requests' own error out (VMAX's re-raises its class) means what Delfin's shared REST
    client makes InvalidIpOrPort (a connect timeout, a connection not established). A read
    timeout or a connection dropped mid-answer is not that."""
    import requests
    from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError
    seen, cur = set(), exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, requests.exceptions.ConnectTimeout):
            return True
        if isinstance(cur, requests.exceptions.ConnectionError) and cur.args:
            reason = getattr(cur.args[0], "reason", None) if isinstance(cur.args[0], MaxRetryError) else None
            if isinstance(reason, (NewConnectionError, ConnectTimeoutError)):
                return True
        cur = cur.__cause__ or cur.__context__
    return False


@contextlib.contextmanager
def translated(where: str) -> Iterator[None]:
    """Delfin's exceptions -> ours of the same name, keeping the cause (the one place)."""
    try:
        yield
    except DelfinError:
        raise
    except NotImplementedError as exc:
        raise NotSupported(where) from exc
    except Exception as exc:
        root = _innermost_delfin_error(exc)
        if root is None and _not_reached(exc):
            raise InvalidIpOrPort() from exc
        if root is None:
            raise StorageBackendException(f"{where}: {type(exc).__name__}: {exc}") from exc
        cls = ALL_ERRORS.get(type(root).__name__, StorageBackendException)
        args = [str(a) for a in getattr(root, "error_args", ())] or ([] if cls is not StorageBackendException
                                                                       else [f"{where}: {root}"])
        raise cls(*args) from exc


class DelfinDriverHost(StorageDriver):
    """One Delfin driver instance behind our contract. Subclassed per entry point by
    ``host_class`` (the class attributes say which Delfin driver it hosts)."""

    entry_point: ClassVar[EntryPoint]
    origin: ClassVar[str] = "delfin"
    max_concurrent_calls = 1

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        init_delfin()
        with translated("load"):
            cls = self.entry_point.load()
        assert_unpatched()
        relative = WORKDIR_FILES.get(self.entry_point.name)
        if relative:
            os.makedirs(os.path.join(os.getcwd(), relative), exist_ok=True)
        inner = cls.__new__(cls)
        build = BUILT_BY_HOST.get(self.entry_point.name)
        try:
            with logged_errors(self.entry_point.name), translated("login"):
                kwargs = delfin_kwargs(self.access_info, self.storage_id)
                if build is None:
                    inner.__init__(**kwargs)
                else:
                    build(inner, kwargs)
        except BaseException:
            # a constructor that failed after a login (3PAR's: REST, then SSH) leaves no session
            end_sessions(self.entry_point.name, inner)
            raise
        self.inner = inner
        for mend in ANSWER_MENDS.get(self.entry_point.name, ()):
            mend(inner)
        self._closed = False
        self._storage_seen: Optional[dict] = None      # the last get_storage result (its firmware)

    # -- the one dispatch path ------------------------------------------------------------
    def _forward(self, method: str, *args: Any, **kwargs: Any) -> Any:
        if self._closed:
            raise StorageBackendException("the session was closed")
        unusable = UNUSABLE.get(self.entry_point.name, {}).get(method)
        if unusable:
            raise NotSupported(f"{method}: {unusable}")
        objects = (self.inner, *_below(self.inner))
        watch_objects(objects)
        raised: Optional[DelfinError] = None
        with watched() as answers:
            try:
                with logged_errors(self.entry_point.name), translated(method), _sessions_kept(objects):
                    result = getattr(self.inner, method)(None, *args, **kwargs)
            except DelfinError as exc:
                raised = exc
        if answers.stopped:          # the driver sent a failing request again and again: what the array said
            error = InvalidUsernameOrPassword if answers.stopped_refused else StorageBackendException
            raise error(f"{method}: stopped after the array answered {answers.stopped} (the driver was "
                        f"sending it again without end)") from raised
        # a rejected password decides over whatever the driver made of it, an error included (VPLEX's
        # get_storage fails on the empty answer); a throttled or failing answer over a result, and
        # over a generic error of the driver's own making (VSP's fails reading the None it made of a
        # 429: "'NoneType' object has no attribute 'get'"), never over a specific one
        for seen, error in ((answers.refused, InvalidUsernameOrPassword), (answers.troubles, StorageBackendException)):
            if seen and (raised is None or error is InvalidUsernameOrPassword or type(raised) in GENERIC_ERRORS):
                more = f" (and {len(seen) - 1} more)" if len(seen) > 1 else ""
                raise error(f"{method}: the array answered {seen[0]}{more}; what the driver made of it "
                            f"is not used (it can be an empty or partial list)") from raised
        if raised is not None:
            raise raised
        if result is None and method in _NONE_IS_UNSUPPORTED:
            raise NotSupported(method)
        with translated(method):
            return _RESULT_CHECKS.get(method, _as_is)(self, method, result)

    def get_capabilities(self, context: Any, filters: Optional[dict] = None) -> Any:
        """A driver that answers something other than capabilities without filters is asked again
        with the storage's ``firmware_version``, as Delfin's API can give it: NetApp's answers a
        map of firmware versions without it (and Delfin 1.5.0's own perf job gives none, so it
        never collected NetApp's performance). The others need no array call for it."""
        caps = self._forward("get_capabilities", filters)
        if filters is None and isinstance(caps, dict) and "resource_metrics" not in caps:
            caps = self._forward("get_capabilities", {"firmware_version": self._firmware_version()})
        return caps

    def _firmware_version(self) -> Optional[str]:
        if self._storage_seen is None:
            self._forward("get_storage")
        return (self._storage_seen or {}).get("firmware_version")

    def list_alerts(self, context: Any, query_para: Optional[dict] = None) -> Any:
        """``query_para`` given always (OceanStor's driver has no default for it), with only the
        bounds set, or None: 3PAR's driver drops every alert for a ``query_para`` without bounds
        (``{}``, or both None, as Delfin's API and an alert sync without times pass it). Both
        bounds, the end open, in the unit they compare, to the drivers in
        ``ALERT_QUERY_BOTH_BOUNDS``. The bounds are applied
        to what the driver answers too (by ``occur_time``, in ms; an alert without one is kept):
        FlashArray's driver keeps every alert when a bound is missing."""
        query_para = {k: v for k, v in (query_para or {}).items() if v is not None} or None
        asked = query_para
        unit = ALERT_QUERY_BOTH_BOUNDS.get(self.entry_point.name)
        if query_para and unit:
            query_para = _both_bounds(query_para, unit)
        alerts = self._forward("list_alerts", query_para)
        return [a for a in alerts if _in_range(a.get("occur_time"), asked)] if asked else alerts

    def collect_perf_metrics(self, context: Any, storage_id: str, resource_metrics: Optional[dict],
                             start_time: int, end_time: int) -> Any:
        """Delfin's drivers need the metrics named, in the shape Delfin's perf job gives them: the
        capabilities' ``{resource_type: {metric: {unit, description}}}`` (OceanStor's driver calls
        ``.get`` on each type's entry). By default every metric the capabilities list; otherwise
        the ones asked for (a list or a dict per type) that the driver lists."""
        offered = self.get_capabilities(context).get("resource_metrics") or {}
        selection = delfin_selection(offered, resource_metrics)
        if not selection:        # asked for metrics the driver does not offer: say so, not an empty window
            raise NotSupported(f"collect_perf_metrics: the driver offers none of {resource_metrics or 'its metrics'}")
        return self._forward("collect_perf_metrics", storage_id, selection, int(start_time), int(end_time))

    # -- session ----------------------------------------------------------------------------
    def reset_connection(self, context: Any, **kwargs: Any) -> None:
        if self._closed:
            raise StorageBackendException("the session was closed")
        with logged_errors(self.entry_point.name), translated("reset_connection"):
            self.inner.reset_connection(None, **delfin_kwargs(self.access_info, self.storage_id))

    def close(self) -> None:
        """End the session where the driver can (see the README's table); idempotent. A logout
        never logs in: the driver's passwords are dropped first (Unity's handler logs in again
        when its logout meets a 401, and with rejected credentials each such try counts towards
        the account's lock-out at the array)."""
        if self._closed:
            return
        self._closed = True
        end_sessions(self.entry_point.name, self.inner)

    def session_handle(self) -> Optional[str]:
        """The REST handler's class, session cookies and the headers and attributes its logout
        needs, for the drivers in SESSION_HANDOFF."""
        how = SESSION_HANDOFF.get(self.entry_point.name)
        handler = getattr(self.inner, how.attr, None) if how and not self._closed else None
        holder = getattr(handler, how.via, None) if how and how.via else handler
        session = getattr(holder, "session", None)
        if session is None:
            return None
        cookies = {c.name: c.value for c in session.cookies}
        headers = {h: session.headers[h] for h in how.headers if session.headers.get(h)}
        attrs = {a: getattr(holder, a) for a in how.attrs if isinstance(getattr(holder, a, None), str)}
        if (how.cookie and not cookies) or len(headers) != len(how.headers) or len(attrs) != len(how.attrs):
            return None                       # not logged in (yet)
        return json.dumps({"handler": _qualname(handler), "holder": _qualname(holder),
                           "cookies": cookies, "headers": headers, "attrs": attrs}, sort_keys=True)

    @classmethod
    def release_session(cls, access_info: AccessInfo, handle: str) -> None:
        """A fresh handler of the driver's own class, given the dead session's cookies, headers
        and attributes, logs out with the driver's own ``logout()``. It has no password: a handler
        that would log in again (the session expired meanwhile) fails instead, before any request.
        Built as ``SESSION_HANDOFF`` says: around a holder of the session made from the access
        info (``via``), without its constructor where that logs in, or from the access info."""
        how = SESSION_HANDOFF.get(cls.entry_point.name)
        if how is None:
            raise NotSupported("release_session")
        try:
            saved = json.loads(handle)
            names = [saved["handler"], saved.get("holder") or saved["handler"]]
            cookies = dict(saved["cookies"])
            headers = {str(k): str(v) for k, v in dict(saved.get("headers") or {}).items()}
            attrs = {a: str(v) for a, v in dict(saved.get("attrs") or {}).items() if a in how.attrs}
        except (ValueError, KeyError, TypeError, AttributeError):
            raise NotSupported("release_session: not a handle of this driver") from None
        if not all(isinstance(n, str) and n.startswith("delfin.drivers.") for n in names):
            raise NotSupported("release_session: not a Delfin handler")
        init_delfin()
        with translated("release session"):
            kwargs = delfin_kwargs(AccessInfo.parse(access_info), passwords=False)
            handler_cls, holder_cls = (_load(n) for n in names)
            if how.via:                       # the handler around a holder built from the access info
                holder = holder_cls(**kwargs)
                handler = handler_cls(holder)
            elif how.login_in_constructor:    # made without its constructor, given what it reads
                handler = holder = handler_cls.__new__(handler_cls)
                handler.verify = kwargs.get("verify")
            else:
                handler = holder = handler_cls(**kwargs)
            holder.init_http_head()
            vars(holder).update(attrs)
            holder.session.cookies.update(cookies)
            holder.session.headers.update(headers)
            try:
                handler.logout()
            finally:
                if holder.session is not None:
                    holder.session.close()

    @staticmethod
    def parse_alert(context: Any, alert: dict) -> dict:
        raise NotSupported("parse_alert")   # replaced per class by host_class


def _both_bounds(query_para: dict, unit: int) -> dict:
    """Delfin's ``{begin_time, end_time}`` (epoch ms) for a driver that reads both and compares
    them in ``unit`` ms: the begin as the first whole second it holds (alert times are whole
    seconds: one at second T is at or after ``begin`` ms exactly when T >= ceil(begin/1000); HNAS's
    console is asked from that second, and the driver drops none of what it answers), the end
    open; ``list_alerts`` applies the asked end to what the driver answers."""
    first_second = -(-int(query_para.get("begin_time") or 0) // 1000)
    return {"begin_time": first_second * 1000 // unit, "end_time": 2 ** 53 // unit}


def _in_range(occur_time: Any, query_para: dict) -> bool:
    """Whether an alert at ``occur_time`` (epoch ms; unknown: kept) is within the query's bounds."""
    if not isinstance(occur_time, (int, float)) or isinstance(occur_time, bool):
        return True
    begin, end = query_para.get("begin_time"), query_para.get("end_time")
    return (begin is None or occur_time >= int(begin)) and (end is None or occur_time <= int(end))


def _qualname(obj: Any) -> str:
    return f"{type(obj).__module__}:{type(obj).__qualname__}"


def _load(qualname: str) -> Any:
    module, _, name = qualname.partition(":")
    return getattr(importlib.import_module(module), name)


def delfin_kwargs(access: AccessInfo, storage_id: Optional[str] = None, *, passwords: bool = True) -> dict[str, Any]:
    """The keyword arguments a Delfin driver (or one of its handlers) is built with; without
    ``passwords``, every password is None (a handler that must not log in)."""
    from delfin import cryptor
    kwargs = access.reveal()
    for name in ("rest", "ssh", "cli", "smis"):
        block = kwargs.get(name)
        if isinstance(block, dict) and block.get("password") is not None:
            block["password"] = cryptor.encode(block["password"]) if passwords else None
    if access.rest is not None:
        kwargs["verify"] = access.tls_verify()
    elif access.cli is not None and isinstance(pinned := access.tls_verify(), str):
        # VNX block's: the certificate file naviseccli is to trust (the driver adds it to the
        # tool's store and rejects any other); without one it accepts the array's on first use
        kwargs["verify"] = pinned
    if access.ssh is not None and access.ssh.pub_key:
        kwargs["ssh"]["pub_key_type"], kwargs["ssh"]["pub_key"] = access.ssh.host_key()
    kwargs["storage_id"] = storage_id
    return kwargs


def delfin_selection(offered: dict, asked: Optional[dict]) -> dict[str, dict]:
    """``resource_metrics`` for a Delfin driver: what its capabilities offer (``{type: {metric:
    spec}}``), narrowed to what was asked (``{type: [metric]}`` or ``{type: {metric: ...}}``; an
    empty entry means all of that type's). Types and metrics the driver does not offer are left out."""
    if not asked:
        return {rtype: dict(metrics) for rtype, metrics in offered.items() if metrics}
    out: dict[str, dict] = {}
    for rtype, names in asked.items():
        metrics = offered.get(rtype) or {}
        chosen = {m: metrics[m] for m in (names or metrics) if m in metrics}
        if chosen:
            out[rtype] = chosen
    return out


def _delfin_parts(obj: Any) -> list[Any]:
    """The Delfin objects an object holds (a driver's handlers, a handler's SSH pool)."""
    return [v for v in vars(obj).values() if hasattr(v, "__dict__") and type(v).__module__.startswith("delfin")]


def _below(inner: Any) -> list[Any]:
    """A Delfin driver's handlers and their parts: where its sessions, pools and passwords are."""
    handlers = _delfin_parts(inner)
    return [*handlers, *(p for h in handlers for p in _delfin_parts(h))]


def forget_passwords(inner: Any) -> None:
    """Set every ``*password`` attribute of a Delfin driver's objects to None (``rest_password``,
    ``ssh_password``, ``navi_password``): a handler that tries to log in then fails before any
    request is sent."""
    for obj in (inner, *_below(inner)):
        for name, value in list(vars(obj).items()):
            if name.endswith("password") and isinstance(value, (str, bytes)):
                setattr(obj, name, None)


@contextlib.contextmanager
def _sessions_kept(objects: Any) -> Iterator[None]:
    """After a call that raised, put back what the failure broke in the driver's sessions, two
    ways Delfin 1.5.0's handlers lose a live session when a request raises (the array refused the
    connection or timed out):

    - **a re-login that failed midway**: OceanStor's client logs in again when a request cannot
      reach the array, and its login first replaces the session (and forgets the device URL).
      When that login fails too, the handler holds a fresh session with no token, the next call
      logs in a second time, and the first session stays open at the array until its idle
      timeout. A handler whose session was replaced by one lacking a header or cookie the old
      one had gets its attributes back as they were before the call.
    - **a token left decoded**: Unity's, DS8000's and VSP's handlers keep a token
      ``cryptor``-encoded in their session's headers, decode it for each request and encode it
      back afterwards, but not when the request raises: every later request fails decoding it
      again, and so does Unity's logout. Every session header found decoded is put back."""
    saved = [(obj, dict(vars(obj)), obj.session, dict(obj.session.headers), set(obj.session.cookies.keys()))
             for obj in objects if hasattr(getattr(obj, "session", None), "headers")]
    try:
        yield
    except BaseException:
        for obj, attrs, session, headers, cookies in saved:
            now = getattr(obj, "session", None)
            if now is not session and _lacks(now, headers, cookies):
                vars(obj).update(attrs)
            _reencoded(session, headers)
        raise


def _lacks(session: Any, headers: dict, cookies: set) -> bool:
    """Whether ``session`` lacks a header or a cookie another session had (a login not completed)."""
    if not hasattr(session, "headers"):
        return True
    return any(h not in session.headers for h in headers) or not cookies <= set(session.cookies.keys())


def _reencoded(session: Any, before: dict) -> None:
    """Put back each header of ``session`` now holding the decoded form of its value ``before``."""
    from delfin import cryptor
    for name, value in before.items():
        now = session.headers.get(name)
        if now is None or now == value or not isinstance(value, str):
            continue
        try:
            decoded = cryptor.decode(value)
        except (ValueError, TypeError):
            continue
        if now == decoded:
            session.headers[name] = value


def end_sessions(name: str, inner: Any) -> None:
    """End what a Delfin driver instance holds at the array, best effort (the array expires it
    anyway), never logging in: its passwords are dropped first."""
    forget_passwords(inner)
    for how, fn, instead in session_enders(inner):
        try:
            fn()
        except Exception as exc:
            log.warning("%s: %s failed: %s", name, how, type(exc).__name__)
            for other, logout in instead:
                try:
                    logout()
                except Exception as exc2:
                    log.warning("%s: %s failed: %s", name, other, type(exc2).__name__)


def session_enders(inner: Any) -> list[tuple[str, Any, list[tuple[str, Any]]]]:
    """How a Delfin driver instance's session ends, each way with what to try if it fails:
    ``close_connection()`` if its class has one (else, when it fails, as for a driver whose
    constructor failed before setting up what it uses: each handler's ``logout()``), else
    ``logout()`` of each handler; then every pooled SSH connection closed."""
    from delfin.drivers.utils.ssh_client import SSHPool
    logouts = [(f"{type(h).__name__}.logout()", h.logout) for h in _delfin_parts(inner)
               if callable(getattr(h, "logout", None))]
    if callable(getattr(type(inner), "close_connection", None)):
        enders: list[tuple[str, Any, list[tuple[str, Any]]]] = [("close_connection()", inner.close_connection, logouts)]
    else:
        enders = [(how, fn, []) for how, fn in logouts]
    for pool in (o for o in _below(inner) if isinstance(o, SSHPool)):
        enders.append(("SSH pool closed", functools.partial(_close_pool, pool), []))
    return enders


def _close_pool(pool: Any) -> None:
    while pool.free_items:
        conn = pool.free_items.popleft()
        pool.current_size = max(0, pool.current_size - 1)
        conn.close()


# -- result checks ------------------------------------------------------------------------------
def _as_is(host: DelfinDriverHost, method: str, result: Any) -> Any:
    return result


def _rows(host: DelfinDriverHost, method: str, result: Any) -> Any:
    return check_row_shapes(method, _native_ids_as_text(result))


def _native_ids_as_text(result: Any) -> Any:
    """Native ids are text, as Delfin's tables keep them; some drivers give numbers (3PAR's
    volumes name their CPG by its numeric id, its CPGs by the same id as text), or the text in a
    one-element tuple (HNAS's share ids: a trailing comma after the expression)."""
    lists = result.values() if isinstance(result, dict) else [result]
    for rows in lists:
        for row in rows if isinstance(rows, list) else ():
            if isinstance(row, dict):
                for key, value in row.items():
                    if not (key.startswith("native_") and key.endswith("_id")):
                        continue
                    if isinstance(value, tuple) and len(value) == 1 and isinstance(value[0], (str, int)):
                        value = row[key] = value[0]
                    if isinstance(value, int) and not isinstance(value, bool):
                        row[key] = str(value)
    return result


def _storage(host: DelfinDriverHost, method: str, result: Any) -> dict:
    host._storage_seen = validate_storage(result)
    return host._storage_seen


def _perf(host: DelfinDriverHost, method: str, result: Any) -> Any:
    if not isinstance(result, list):
        raise InvalidResults(f"collect_perf_metrics returned {type(result).__name__}, not a list of metrics")
    shared = _shared_values(result)
    if shared:
        raise InvalidResults(f"collect_perf_metrics: the driver gave the series of {len(shared)} resources one "
                             f"values object ({', '.join(shared[:4])}{', ...' if len(shared) > 4 else ''}): each "
                             f"holds the values written last, not its own; ask for the storage's own metrics "
                             f"(resource_metrics \"storage\"), which have one resource")
    return metrics_to_table(result, host.storage_id)


def _shared_values(metrics: list) -> list[str]:
    """The resources whose series share one ``values`` dict with another resource's. Delfin
    1.5.0's VMAX driver (``perf_utils.construct_metrics``) fills one dict per metric for all the
    resources of a type in turn and gives it to each: every pool, director, port and disk carries
    the last one's values. Such a window is refused whole, not written wrong."""
    owners: dict[int, set[str]] = {}
    for m in metrics:
        values, labels = getattr(m, "values", None), getattr(m, "labels", None)
        if isinstance(values, dict) and isinstance(labels, dict):
            owners.setdefault(id(values), set()).add(f"{labels.get('resource_type')} {labels.get('resource_id')}")
    return sorted({r for rs in owners.values() if len(rs) > 1 for r in rs})


def _capabilities(host: DelfinDriverHost, method: str, result: Any) -> dict:
    if not isinstance(result, dict):
        raise InvalidResults(f"get_capabilities returned {type(result).__name__}")
    return result


def _alert_sources(host: DelfinDriverHost, method: str, result: Any) -> list[dict]:
    if not isinstance(result, list) or not all(isinstance(r, dict) and isinstance(r.get("host"), str) and r["host"]
                                               for r in result):
        raise InvalidResults(f"get_alert_sources returned {str(result)[:200]}, not a list of {{'host': address}}")
    return result


_RESULT_CHECKS = {**{m: _rows for m in LIST_METHODS}, "get_storage": _storage,
                  "collect_perf_metrics": _perf, "get_capabilities": _capabilities,
                  "get_alert_sources": _alert_sources}


def _forwarder(method: str) -> Any:
    def call(self: DelfinDriverHost, context: Any, *args: Any, **kwargs: Any) -> Any:
        return self._forward(method, *args, **kwargs)
    call.__name__ = call.__qualname__ = method
    return call


for _method in FORWARDED:
    setattr(DelfinDriverHost, _method, _forwarder(_method))


@functools.lru_cache(maxsize=None)
def host_class(name: str) -> type[DelfinDriverHost]:
    """The host class for Delfin's driver ``"<vendor> <model>"`` (KeyError if Delfin has none)."""
    ep = delfin_entry_points()[name]
    vendor, _, model = name.partition(" ")

    def parse_alert(context: Any, alert: dict) -> dict:
        """Static in Delfin too: needs no session."""
        init_delfin()
        with translated("parse_alert"):
            return ep.load().parse_alert(context, alert)
    return type(f"DelfinHost[{name}]", (DelfinDriverHost,),
                {"entry_point": ep, "vendor": vendor, "model": model, "__module__": __name__,
                 "parse_alert": staticmethod(parse_alert)})
