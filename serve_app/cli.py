"""delfin-dm: start, stop and operate the driver manager.

Read commands print a table, or JSON with --json. When nothing is running a command prints one
line and exits with 2; a refused request prints the error code and message and exits with 2.
Passwords come from a file, stdin or a prompt, never from the command line.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Optional

from .output import chatter_to_stderr, say

# Only the standard library above (.output uses nothing else): `delfin-dm --help` must not pay
# for importing Ray.

EXIT_REFUSED = 2


def _cfg(args: argparse.Namespace, **extra: Any) -> Any:
    from rayactors.config import Config
    return Config.load(namespace=args.namespace, data_dir=args.data_dir, **extra)


def _client(args: argparse.Namespace) -> Any:
    from rayactors.client import DriverManagerClient

    from rayactors.runtime import supervisor_running

    from .service import NotRunning, connect
    cfg = _cfg(args)
    address = connect(cfg, args.address)
    if not supervisor_running(cfg):
        raise NotRunning(f"no driver manager in the cluster at {address} (start it with: delfin-dm up)")
    return DriverManagerClient(config=cfg)


def _password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(prompt)


def _out(args: argparse.Namespace, data: Any, table: Callable[[], None]) -> int:
    if args.json:
        say(json.dumps(data, indent=2, default=str))
    else:
        table()
    return 0


def _table(header: list[str], rows: list[list[Any]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    for r in [header, *rows]:
        say("  ".join(str(x).ljust(w) for x, w in zip(r, widths)).rstrip())


def _ago(epoch: Optional[float]) -> str:
    if not epoch:
        return "-"
    return f"{time.strftime('%H:%M:%S', time.localtime(epoch))} ({int(time.time() - epoch)} s ago)"


# -- service --------------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from . import service
    return service.up(_cfg(args), args)


def cmd_down(args: argparse.Namespace) -> int:
    from . import service
    return service.down(_cfg(args), args)


def cmd_status(args: argparse.Namespace) -> int:
    from . import service
    data = service.status(_cfg(args), args)

    def table() -> None:
        say(f"Ray          {data['ray']['address']} ({data['ray']['nodes']} node(s))")
        say(f"supervisor   {data['supervisor']}")
        if data.get("paths"):
            say(f"registry     {data['paths']['registry']}   metrics {data['paths']['metrics']}")
        http = data["http"]
        say(f"HTTP app     {http['url'] or '-'} ({'up' if http['up'] else 'not answering'})")
        states = ", ".join(f"{n} {s}" for s, n in sorted(data["storages"].items())) or "none"
        say(f"storages     {states}")
        rec = data["recovery"]
        outcomes = ", ".join(f"{k} {len(v)}" for k, v in rec.items() if k != "at" and v) or "nothing to do"
        say(f"recovery     {_ago(rec['at']) + ': ' + outcomes if rec.get('at') else 'under way'}")
    return _out(args, data, table)


def cmd_simulator(argv: list[str]) -> int:
    from drivers.simulator.__main__ import main
    return main(argv, prog="delfin-dm simulator")


# -- storages -----------------------------------------------------------------------------------
def _json_file(path: str, what: str) -> dict:
    """A JSON object from a file given on the command line; InvalidInput saying what is wrong
    with it (missing, unreadable, not JSON, not an object) instead of a traceback."""
    from drivers.errors import InvalidInput
    try:
        with open(path) as fh:
            data = json.load(fh)
    except OSError as exc:
        raise InvalidInput(f"--file {path}: {exc.strerror or exc}") from None
    except ValueError as exc:
        raise InvalidInput(f"--file {path} is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInput(f"--file {path}: {what} is a JSON object, not a {type(data).__name__}")
    return data


def _extra(pairs: Optional[list[str]]) -> dict[str, str]:
    from drivers.errors import InvalidInput
    bad = [kv for kv in pairs or [] if "=" not in kv or not kv.split("=", 1)[0]]
    if bad:
        raise InvalidInput(f"--extra takes KEY=VALUE, not {bad[0]!r}")
    return dict(kv.split("=", 1) for kv in pairs or [])


def cmd_register(args: argparse.Namespace) -> int:
    if args.file:
        access = _json_file(args.file, "the access info")
    else:
        missing = [f"--{n}" for n in ("vendor", "model", "host", "port", "username") if not getattr(args, n)]
        if missing:
            from drivers.errors import InvalidInput
            raise InvalidInput(f"give --file, or {' '.join(missing)}")
        extra = _extra(args.extra)                  # checked before the password is asked for
        block = {"host": args.host, "port": args.port, "username": args.username,
                 "password": _password(f"password for {args.username}@{args.host}: ", args.password_stdin)}
        if args.ssh:
            if args.pub_key:
                block["pub_key"] = args.pub_key
            access = {"vendor": args.vendor, "model": args.model, "ssh": block}
        else:
            access = {"vendor": args.vendor, "model": args.model, "rest": block}
        if args.insecure_http:
            extra.update(scheme="http", verify="false")
        if extra:
            access["extra_attributes"] = extra
    storage = _client(args).discover_storage(None, access)
    say(json.dumps(storage, indent=2))
    return 0


def _rows(client: Any) -> list[dict[str, Any]]:
    """One line per storage: registry, access info (driver and endpoint), actor state."""
    access = {a["storage_id"]: a for a in client.list_access_infos()}
    rows = []
    for s in client.list_storages():
        a = access.get(s["id"], {})
        block = a.get("rest") or a.get("ssh") or a.get("cli") or a.get("smis") or {}
        try:
            state, stats = client.storage_state(s["id"]), client.collection_stats(s["id"])
        except Exception:  # the actor restarting right now
            state, stats = {"state": "unknown"}, {}
        last = stats.get("last_success")
        lag = (time.time() * 1000 - stats["last_end"]) / 1000 if stats.get("last_end") else None
        rows.append({"id": s["id"], "name": s.get("name"), "driver": f"{a.get('vendor')} {a.get('model')}",
                     "endpoint": f"{block.get('host')}:{block.get('port')}" if block else "-",
                     "state": state.get("state"), "sessions": state.get("sessions", 0),
                     "logins": state.get("logins"), "last_collection": last, "lag_s": lag,
                     "array_vendor": s.get("vendor"), "array_model": s.get("model")})
    return rows


def cmd_list(args: argparse.Namespace) -> int:
    rows = _rows(_client(args))
    return _out(args, rows, lambda: _table(
        ["ID", "NAME", "DRIVER", "ENDPOINT", "STATE", "SESSIONS", "LAST COLLECTION"],
        [[r["id"], r["name"], r["driver"], r["endpoint"], r["state"], r["sessions"], _ago(r["last_collection"])]
         for r in rows]))


def cmd_show(args: argparse.Namespace) -> int:
    client = _client(args)
    data = {"storage": client.storage_record(args.storage_id), "access_info": client.get_access_info(args.storage_id),
            "state": client.storage_state(args.storage_id), "collection": client.collection_stats(args.storage_id),
            "resource_support": client.persisted_support(args.storage_id)}

    def table() -> None:
        s, a, st = data["storage"], data["access_info"], data["state"]
        block = a.get("rest") or a.get("ssh") or a.get("cli") or a.get("smis") or {}
        for label, value in [("id", s["id"]), ("name", s.get("name")), ("driver", f"{a['vendor']} {a['model']}"),
                             ("array", f"{s.get('vendor')} {s.get('model')} serial {s.get('serial_number')}"),
                             ("endpoint", f"{block.get('host')}:{block.get('port')}"),
                             ("state", f"{st['state']} since {_ago(st.get('since'))}"),
                             ("sessions", f"{st.get('sessions', 0)} held, {st.get('logins')} login(s)"),
                             ("last error", (st.get("last_error") or {}).get("error_msg", "-")),
                             ("collection", f"last {_ago(data['collection'].get('last_success'))}, "
                                            f"pending {data['collection'].get('windows_pending', 0)}, "
                                            f"lost {data['collection'].get('windows_lost', 0)}"),
                             ("sync", s.get("sync_status"))]:
            say(f"{label:<11} {value}")
        support = ", ".join(f"{m.removeprefix('list_')} {v.get('status')}" for m, v in sorted(data["resource_support"].items()))
        say(f"{'resources':<11} {support or '-'}")
    return _out(args, data, table)


def cmd_sync(args: argparse.Namespace) -> int:
    started = _client(args).request_sync(args.storage_id)
    say(f"sync started for {', '.join(started) or 'nothing'}")
    return 0


def cmd_update(args: argparse.Namespace) -> int:
    patch = _json_file(args.file, "the access info to change") if args.file else None
    client = _client(args)
    if patch is None:
        current = client.get_access_info(args.storage_id)
        name = next(b for b in ("rest", "ssh", "cli", "smis") if current.get(b))
        patch = {name: {**current[name], "password": _password("new password: ", args.password_stdin)}}
    say(json.dumps(client.update_access_info(None, {**patch, "storage_id": args.storage_id}), indent=2))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    client = _client(args)
    client.remove_storage(None, args.storage_id, drop_metrics=args.drop_metrics)
    say(f"removed {args.storage_id}" + (" and its metrics" if args.drop_metrics else ""))
    return 0


def cmd_drivers(args: argparse.Namespace) -> int:
    from drivers.plugins import driver_catalog
    rows = driver_catalog()
    return _out(args, rows, lambda: _table(
        ["DRIVER (vendor model)", "ORIGIN", "MODULE"],
        [[r["name"], r["origin"] + (f" (shadowed by {r['shadowed_by']})" if r.get("shadowed_by") else ""),
          r["module"]] for r in rows]))


def cmd_alerts(args: argparse.Namespace) -> int:
    alerts = _client(args).alerts(args.storage)
    return _out(args, alerts, lambda: _table(
        ["SEQ", "TIME", "SEVERITY", "ALERT", "STORAGE", "STATUS"],
        [[a["sequence_number"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a["occur_time"] / 1000)),
          a["severity"], a["alert_name"], a.get("storage_id") or "", "cleared" if a.get("cleared") else "open"]
         for a in alerts]))


def cmd_config(args: argparse.Namespace) -> int:
    from rayactors.config import Config
    cfg, sources = Config.load_with_sources(namespace=args.namespace, data_dir=args.data_dir)
    data = {name: {"value": getattr(cfg, name), "source": sources[name]} for name in Config.model_fields}
    return _out(args, data, lambda: _table(["SETTING", "VALUE", "FROM"],
                                           [[n, json.dumps(v["value"], default=str), v["source"]]
                                            for n, v in data.items()]))


# -- metrics --------------------------------------------------------------------------------------
def _ms(text: str) -> int:
    """Epoch ms, an ISO time (UTC unless it says otherwise), "now", or relative: -90s, -15m, -2h, -1d."""
    text = text.strip()
    if text == "now":
        return int(time.time() * 1000)
    if text.startswith("-") and text[1:-1].isdigit() and text[-1] in "smhd":
        return int(time.time() * 1000) - int(text[1:-1]) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[text[-1]] * 1000
    if text.isdigit():
        return int(text)
    try:
        value = dt.datetime.fromisoformat(text)
    except ValueError:
        from drivers.errors import InvalidInput
        raise InvalidInput(f"{text!r}: give epoch ms, an ISO time, now, or -15m / -2h / -1d") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return int(value.timestamp() * 1000)


def cmd_metrics_export(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from drivers.arrow_schema import METRIC_SCHEMA
    from drivers.errors import InvalidInput, InvalidResults
    from rayactors.metrics import read, time_span
    cfg = _cfg(args, metrics_root=args.root)
    start, end = _ms(args.start), _ms(args.end)
    if start >= end:
        raise InvalidInput("--start must be before --end")
    step = 3_600_000
    chunks = list(range(start, end, step))
    plain_schema = pa.schema([f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f for f in METRIC_SCHEMA])
    fmt = "csv" if args.output.endswith(".csv") else "parquet"
    try:
        writer = (pacsv.CSVWriter(args.output, plain_schema) if fmt == "csv"
                  else pq.ParquetWriter(args.output, plain_schema, compression="zstd"))
    except OSError as exc:                     # no such directory, no permission: said before reading
        raise InvalidInput(f"-o {args.output}: cannot be written ({exc})") from None
    rows, done = 0, False
    try:
        for i, lo in enumerate(chunks):
            try:
                table = read(storage_ids=args.storage, start=lo, end=min(end, lo + step), root=cfg.metrics_root)
            except pa.ArrowInvalid as exc:         # a file in the dataset damaged from outside (ours are renamed in whole)
                raise InvalidResults(f"a metrics file under {cfg.metrics_root} cannot be read: "
                                     f"{str(exc).splitlines()[0]}") from None
            if table.num_rows:
                writer.write_table(table.cast(plain_schema))
                rows += table.num_rows
            _progress(i + 1, len(chunks), rows)
        done = True
    finally:
        writer.close()
        if not done:                           # no half file left that looks like an export
            Path(args.output).unlink(missing_ok=True)
    print(f"\nwrote {rows} rows to {args.output}", file=sys.stderr)
    if not rows:
        span = time_span(storage_ids=args.storage, root=cfg.metrics_root)
        if span:
            lo, hi = span
            print(f"no points in that window; {', '.join(args.storage)} has points from "
                  f"{dt.datetime.fromtimestamp(lo / 1000, dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ} to "
                  f"{dt.datetime.fromtimestamp(hi / 1000, dt.timezone.utc):%Y-%m-%dT%H:%M:%SZ}", file=sys.stderr)
        else:
            print(f"no points at all for {', '.join(args.storage)} under {cfg.metrics_root}", file=sys.stderr)
    return 0


def _progress(done: int, total: int, rows: int) -> None:
    width = 30
    filled = int(width * done / max(1, total))
    sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total} hours, {rows} rows")
    sys.stderr.flush()


# -- wiring -------------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="delfin-dm", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--namespace", default=None, help="Ray namespace of the driver manager (default delfin)")
    ap.add_argument("--address", default=None,
                    help="Ray cluster to join (default: RAY_ADDRESS, or the head `up` started for the data dir)")
    ap.add_argument("--data-dir", default=None, help="registry, keys, metrics and run state (default ~/.delfin-dm)")
    sub = ap.add_subparsers(dest="command", required=True, metavar="COMMAND")
    json_flag = argparse.ArgumentParser(add_help=False)
    json_flag.add_argument("--json", action="store_true", help="print JSON instead of a table")
    # the global options are also accepted after the command (`delfin-dm up --data-dir D`)
    common = argparse.ArgumentParser(add_help=False)
    for flag, text in (("--namespace", "Ray namespace"), ("--address", "Ray cluster to join"),
                       ("--data-dir", "registry, keys, metrics and run state")):
        common.add_argument(flag, default=argparse.SUPPRESS, help=f"{text} (as before the command)")

    up = sub.add_parser("up", parents=[common], help="start the driver manager and the HTTP API")
    up.add_argument("--with-simulator", action="store_true", help="also run and register simulated arrays")
    up.add_argument("--arrays", type=int, default=2, help="simulated REST arrays (default 2)")
    up.add_argument("--ssh-arrays", type=int, default=1, help="simulated SSH arrays (default 1)")
    up.add_argument("--no-vendor-arrays", dest="vendor_arrays", action="store_false",
                    help="leave out the simulated FlashArray, Unity and Storwize run by Delfin's drivers")
    up.add_argument("--volumes", type=int, default=500, help="volumes per simulated array (default 500)")
    up.add_argument("--perf-interval", type=int, default=10, help="simulated sample step in s (default 10)")
    up.add_argument("--host", default="127.0.0.1", help="HTTP address to listen on (default 127.0.0.1)")
    up.add_argument("--port", type=int, default=8190, help="HTTP port (default 8190)")
    up.add_argument("--detach", action="store_true", help="leave it running and exit; `delfin-dm down` stops it")
    sub.add_parser("down", parents=[common], help="stop what `up` started (storages stay registered)")
    sub.add_parser("status", parents=[json_flag, common], help="Ray, supervisor, HTTP app, storages by state")
    sub.add_parser("simulator", help="run simulated arrays on their own (see `delfin-dm simulator --help`)",
                   add_help=False)

    reg = sub.add_parser("register", parents=[common], help="register a storage (one login, checked)")
    reg.add_argument("--file", help="access info as JSON (Delfin's create body)")
    reg.add_argument("--vendor", help="driver vendor, e.g. simulator, pure, ibm")
    reg.add_argument("--model", help="driver model, e.g. rest, flasharray, storwize_svc")
    reg.add_argument("--host", help="array management address")
    reg.add_argument("--port", type=int, help="array management port")
    reg.add_argument("--username", help="login name")
    reg.add_argument("--ssh", action="store_true", help="an ssh block instead of a rest block")
    reg.add_argument("--pub-key", help="the array's SSH host key ('ssh-rsa AAAA...')")
    reg.add_argument("--insecure-http", action="store_true", help="plain HTTP without TLS (the simulator)")
    reg.add_argument("--extra", action="append", metavar="KEY=VALUE", help="an extra_attributes entry (repeatable)")
    reg.add_argument("--password-stdin", action="store_true", help="read the password from stdin")

    sub.add_parser("list", parents=[json_flag, common], help="storages: driver, endpoint, state, sessions, last collection")
    show = sub.add_parser("show", parents=[json_flag, common], help="one storage in full (no password)")
    show.add_argument("storage_id", help="storage id")
    sync = sub.add_parser("sync", parents=[common], help="start a resource sync of one storage")
    sync.add_argument("storage_id", help="storage id")
    upd = sub.add_parser("update-access-info", parents=[common], help="new credentials for a storage")
    upd.add_argument("storage_id", help="storage id")
    upd.add_argument("--file", help="Delfin's update body as JSON")
    upd.add_argument("--password-stdin", action="store_true", help="read the new password from stdin")
    rm = sub.add_parser("remove", parents=[common], help="remove a storage (logs out, stops its actor)")
    rm.add_argument("storage_id", help="storage id")
    rm.add_argument("--drop-metrics", action="store_true", help="also delete its metrics from the dataset")
    al = sub.add_parser("alerts", parents=[json_flag, common], help="the driver manager's alerts")
    al.add_argument("--storage", help="only this storage's")
    sub.add_parser("drivers", parents=[json_flag, common], help="installed drivers (ours and Delfin's) and their origin")
    sub.add_parser("config", parents=[json_flag, common], help="every setting, its value and where it came from")

    met = sub.add_parser("metrics", parents=[common], help="metrics dataset tools")
    msub = met.add_subparsers(dest="metrics_command", required=True, metavar="ACTION")
    exp = msub.add_parser("export", parents=[common], help="export a time window to Parquet or CSV")
    exp.add_argument("--storage", action="append", required=True, help="storage id (repeatable)")
    exp.add_argument("--start", required=True, help="epoch ms, ISO time, now, or relative: -15m, -2h, -1d")
    exp.add_argument("--end", default="now", help="as --start (default now)")
    exp.add_argument("-o", "--output", required=True, help="file.parquet or file.csv")
    exp.add_argument("--root", default=None, help="metrics root (default <data dir>/metrics)")
    comp = sub.add_parser("completion", help="print a shell completion script")
    comp.add_argument("shell", choices=["bash"], help="the shell")
    return ap


def completion(parser: argparse.ArgumentParser) -> str:
    """A bash completion script: commands, then each command's options."""
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    cases = "\n".join(f"        {name}) opts=\"{' '.join(o for a in p._actions for o in a.option_strings)}\" ;;"
                      for name, p in sub.choices.items())
    return f"""# delfin-dm bash completion: eval "$(delfin-dm completion bash)"
_delfin_dm() {{
    local cur=${{COMP_WORDS[COMP_CWORD]}} cmd="" opts
    for w in "${{COMP_WORDS[@]:1:COMP_CWORD-1}}"; do case "$w" in -*) ;; *) cmd=$w; break ;; esac; done
    case "$cmd" in
        "") opts="{' '.join(sub.choices)} --namespace --address --data-dir --help" ;;
{cases}
        *) opts="" ;;
    esac
    COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}}
complete -F _delfin_dm delfin-dm
"""


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "up": cmd_up, "down": cmd_down, "status": cmd_status, "register": cmd_register, "list": cmd_list,
    "show": cmd_show, "sync": cmd_sync, "update-access-info": cmd_update, "remove": cmd_remove,
    "alerts": cmd_alerts, "drivers": cmd_drivers, "config": cmd_config, "metrics": cmd_metrics_export}


def _command_word(argv: list[str]) -> Optional[int]:
    """Index of the command (the first word that is neither an option nor an option's value)."""
    i = 0
    while i < len(argv):
        if argv[i] in ("--namespace", "--address", "--data-dir"):
            i += 2
            continue
        if argv[i].startswith("-"):
            i += 1
            continue
        return i
    return None


def _relative_times(argv: list[str]) -> list[str]:
    """``--start -2h``: argparse would read -2h as an option; bind it to its flag."""
    out: list[str] = []
    for arg in argv:
        if out and out[-1] in ("--start", "--end") and re.fullmatch(r"-\d+[smhd]", arg):
            out[-1] = f"{out[-1]}={arg}"
        else:
            out.append(arg)
    return out


def main(argv: Optional[list[str]] = None) -> int:
    argv = _relative_times(list(sys.argv[1:] if argv is None else argv))
    at = _command_word(argv)
    if at is not None and argv[at] == "simulator":        # its own options, passed through
        return cmd_simulator(argv[at + 1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "completion":
        say(completion(parser))
        return 0
    if not hasattr(args, "json"):
        args.json = False
    from drivers.errors import DelfinError

    from .local_cluster import StartFailed
    from .service import NotRunning
    try:
        with chatter_to_stderr():
            return COMMANDS[args.command](args)
    except (NotRunning, StartFailed) as exc:
        print(f"delfin-dm: {exc}", file=sys.stderr)
        return EXIT_REFUSED
    except DelfinError as exc:
        if args.json:
            print(json.dumps(exc.to_dict()), file=sys.stderr)
        else:
            print(f"delfin-dm: {exc.error_code}: {exc.msg}", file=sys.stderr)
        return EXIT_REFUSED
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
