"""``delfin-dm``: start/stop the service, run the simulator, and operate storages.

    delfin-dm up [--with-simulator] [--address ADDR] [--port 8190] [--detach]
    delfin-dm down [--address ADDR]
    delfin-dm simulator [simulator args...]
    delfin-dm register --file access.json | --vendor V --model M --host H --port P --username U [--ssh]
    delfin-dm list | drivers | alerts [--storage ID] | remove ID
    delfin-dm update-access-info ID [--file F | --password-stdin]
    delfin-dm metrics export --storage ID --start T --end T -o out.parquet|out.csv

Passwords are read from a file, stdin or a prompt; never from the command line.
"""
from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import signal
import sys
import threading
import time
from typing import Any, Optional

import rayactors  # noqa: F401  (RAY_AUTH_MODE before ray is imported)
from drivers.errors import DelfinError, InvalidInput
from rayactors.config import Config

from .deploy import deploy, shutdown


def _client(args: argparse.Namespace) -> Any:
    from rayactors.client import DriverManagerClient
    address = args.address or os.environ.get("RAY_ADDRESS") or "auto"
    return DriverManagerClient(address=address, config=Config.load(namespace=args.namespace))


def _password(prompt: str, from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().rstrip("\n")
    return getpass.getpass(prompt)


# -- up / down ----------------------------------------------------------------------------------
def cmd_up(args: argparse.Namespace) -> int:
    from drivers.delfin_host import delfin_entry_points
    from drivers.simulator.control import (SimulatorProcess, pure_access, rest_access, ssh_access,
                                           storwize_access)
    from rayactors.client import DriverManagerClient
    from rayactors.runtime import ensure_supervisor, init_ray

    cfg = Config.load(namespace=args.namespace, data_dir=args.data_dir)
    import ray
    init_ray(cfg, args.address)
    started_cluster = not args.address and not os.environ.get("RAY_ADDRESS")
    ensure_supervisor(cfg)
    url = deploy(cfg, host=args.host, port=args.port)
    client = DriverManagerClient(config=cfg)
    sim, demo_ids = None, []
    try:
        if args.with_simulator:
            sim = SimulatorProcess()
            for i in range(args.arrays + args.ssh_arrays):
                arr = sim.add_array(name=f"demo-{i}", perf_interval=args.perf_interval,
                                    sizes={"volumes": args.volumes})
                access = (ssh_access if i >= args.arrays else rest_access)(arr)
                demo_ids.append(client.discover_storage(None, access)["id"])
            # one FlashArray and one Storwize, managed by SODA Delfin's own drivers, unchanged
            vendors = {"pure flasharray": ("pure", pure_access), "ibm storwize_svc": ("storwize", storwize_access)}
            for name, (kind, make_access) in vendors.items():
                if args.vendor_arrays and name in delfin_entry_points():
                    arr = sim.add_array(name=f"demo-{kind}", kind=kind, perf_interval=args.perf_interval,
                                        sizes={"volumes": min(args.volumes, 100)})
                    access = make_access(arr)
                    access["extra_attributes"] = {**access.get("extra_attributes", {}),
                                                  "collect_interval": str(args.perf_interval)}
                    demo_ids.append(client.discover_storage(None, access)["id"])
        gcs = ray.get_runtime_context().gcs_address
        _print_banner(url, gcs, cfg, demo_ids, sim)
        if args.detach:
            return 0
        stop = threading.Event()
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: stop.set())
        stop.wait()
        print("stopping ...", flush=True)
    finally:
        if not args.detach:
            for sid in demo_ids:            # demo arrays vanish with the simulator: forget them
                try:
                    client.remove_storage(None, sid)
                except DelfinError:
                    pass
            shutdown()
            if started_cluster:
                ray.shutdown()
            else:
                _stop_supervisor(cfg)
            if sim:
                sim.stop()
    return 0


def _print_banner(url: str, gcs: str, cfg: Config, ids: list[str], sim: Any) -> None:
    first = ids[0] if ids else "<storage-id>"
    print(f"""
delfin-dm ready: {url}
  API docs     {url}/docs     OpenAPI {url}/openapi.json
  health       {url}/health   Prometheus {url}/metrics
  Ray address  {gcs}          namespace {cfg.namespace}
  data dir     {cfg.data_dir}{('   simulator admin ' + sim.admin) if sim else ''}

Try:
  curl -s {url}/v1/storages
  curl -s '{url}/v1/volumes?storage_id={first}' | head -c 400

In a notebook (after the first collection window):
  import rayactors; from rayactors import metrics
  df = metrics.read(storage_ids=["{first}"], root="{cfg.metrics_root}").to_pandas()
  df.pivot_table(index="timestamp", columns="resource_id", values="value", observed=True)

Ctrl-C stops everything this command started.""", flush=True)


def _stop_supervisor(cfg: Config) -> None:
    import ray
    try:
        sup = ray.get_actor(cfg.supervisor_name, namespace=cfg.namespace)
        ray.get(sup.shutdown_all.remote(), timeout=60)
        ray.kill(sup, no_restart=True)
    except (ValueError, Exception):
        pass


def cmd_down(args: argparse.Namespace) -> int:
    import ray

    from rayactors.runtime import init_ray
    cfg = Config.load(namespace=args.namespace)
    init_ray(cfg, args.address or os.environ.get("RAY_ADDRESS") or "auto")
    shutdown()
    _stop_supervisor(cfg)
    print("stopped the HTTP app and the driver manager (storages stay registered)")
    ray.shutdown()
    return 0


def cmd_simulator(args: argparse.Namespace, rest: list[str]) -> int:
    from drivers.simulator.__main__ import main
    return main(rest)


# -- storages -----------------------------------------------------------------------------------
def cmd_register(args: argparse.Namespace) -> int:
    if args.file:
        with open(args.file) as fh:
            access = json.load(fh)
    else:
        if not all([args.vendor, args.model, args.host, args.port, args.username]):
            raise InvalidInput("give --file or all of --vendor --model --host --port --username")
        block = {"host": args.host, "port": args.port, "username": args.username,
                 "password": _password(f"password for {args.username}@{args.host}: ", args.password_stdin)}
        if args.ssh:
            if args.pub_key:
                block["pub_key"] = args.pub_key
            access = {"vendor": args.vendor, "model": args.model, "ssh": block}
        else:
            access = {"vendor": args.vendor, "model": args.model, "rest": block}
            if args.insecure_http:
                access["extra_attributes"] = {"scheme": "http", "verify": "false"}
    storage = _client(args).discover_storage(None, access)
    print(json.dumps(storage, indent=2))
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    client = _client(args)
    rows = []
    for s in client.list_storages():
        try:
            state = client.storage_state(s["id"])
            stats = client.collection_stats(s["id"])
        except DelfinError:
            state, stats = {"state": "?"}, {}
        last = stats.get("last_success")
        rows.append([s["id"], s.get("name", ""), f"{s.get('vendor')}/{s.get('model')}", state.get("state", "?"),
                     time.strftime("%H:%M:%S", time.localtime(last)) if last else "-",
                     "1" if state.get("state") == "ready" else "0"])
    _table(["ID", "NAME", "VENDOR/MODEL", "STATE", "LAST COLLECTION", "SESSIONS"], rows)
    return 0


def _table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows)] if rows else [len(h) for h in header]
    for r in [header, *rows]:
        print("  ".join(str(x).ljust(w) for x, w in zip(r, widths)))


def cmd_update(args: argparse.Namespace) -> int:
    client = _client(args)
    if args.file:
        with open(args.file) as fh:
            patch = json.load(fh)
    else:
        current = client.get_access_info(args.storage_id)
        block = "rest" if current.get("rest") else "ssh"
        patch = {block: {"password": _password("new password: ", args.password_stdin)}}
    print(json.dumps(client.update_access_info(None, {**patch, "storage_id": args.storage_id}), indent=2))
    return 0


def cmd_remove(args: argparse.Namespace) -> int:
    _client(args).remove_storage(None, args.storage_id)
    print(f"removed {args.storage_id}")
    return 0


def cmd_drivers(args: argparse.Namespace) -> int:
    from drivers.plugins import driver_catalog
    rows = [[r["name"], r["origin"] + (f" (shadowed by {r['shadowed_by']})" if r.get("shadowed_by") else ""),
             r["module"]] for r in driver_catalog()]
    _table(["DRIVER (vendor model)", "ORIGIN", "MODULE"], rows)
    return 0


def cmd_alerts(args: argparse.Namespace) -> int:
    rows = [[a["sequence_number"], time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(a["occur_time"] / 1000)),
             a["severity"], a["alert_name"], a.get("storage_id") or "", "cleared" if a.get("cleared") else "open"]
            for a in _client(args).alerts(args.storage)]
    _table(["SEQ", "TIME", "SEVERITY", "ALERT", "STORAGE", "STATUS"], rows)
    return 0


def _ms(text: str) -> int:
    if text.isdigit():
        return int(text)
    value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return int(value.timestamp() * 1000)


def cmd_metrics_export(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    from rayactors.metrics import read
    cfg = Config.load(namespace=args.namespace, data_dir=args.data_dir, metrics_root=args.root)
    start, end = _ms(args.start), _ms(args.end)
    if start >= end:
        raise InvalidInput("--start must be before --end")
    step = 3_600_000
    chunks = list(range(start, end, step))
    writer: Optional[Any] = None
    rows = 0
    fmt = "csv" if args.output.endswith(".csv") else "parquet"
    try:
        for i, lo in enumerate(chunks):
            table = read(storage_ids=args.storage, start=lo, end=min(end, lo + step), root=cfg.metrics_root)
            if table.num_rows:
                plain = table.cast(pa.schema([f.with_type(pa.string()) if pa.types.is_dictionary(f.type) else f
                                              for f in table.schema]))
                if writer is None:
                    writer = (pacsv.CSVWriter(args.output, plain.schema) if fmt == "csv"
                              else pq.ParquetWriter(args.output, plain.schema, compression="zstd"))
                writer.write_table(plain)
                rows += table.num_rows
            _progress(i + 1, len(chunks), rows)
    finally:
        if writer is not None:
            writer.close()
    print(f"\nwrote {rows} rows to {args.output}", file=sys.stderr)
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
    ap.add_argument("--namespace", default=None, help="Ray namespace (default delfin)")
    ap.add_argument("--address", default=None, help="Ray cluster address (default: RAY_ADDRESS, or start one)")
    sub = ap.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="start the driver manager and the HTTP API")
    up.add_argument("--with-simulator", action="store_true", help="also run and register simulated arrays")
    up.add_argument("--arrays", type=int, default=2, help="simulated REST arrays (default 2)")
    up.add_argument("--ssh-arrays", type=int, default=1, help="simulated SSH arrays (default 1)")
    up.add_argument("--volumes", type=int, default=500, help="volumes per simulated array")
    up.add_argument("--no-vendor-arrays", dest="vendor_arrays", action="store_false",
                    help="leave out the simulated FlashArray and Storwize run by Delfin's drivers")
    up.add_argument("--perf-interval", type=int, default=10, help="simulated sample step in s (default 10)")
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8190)
    up.add_argument("--data-dir", default=None)
    up.add_argument("--detach", action="store_true", help="leave it running in the cluster and exit")
    sub.add_parser("down", help="stop the HTTP API and the driver manager")
    sub.add_parser("simulator", help="run simulated arrays (python -m drivers.simulator)", add_help=False)

    reg = sub.add_parser("register", help="register a storage")
    reg.add_argument("--file", help="access info JSON")
    for flag in ("--vendor", "--model", "--host", "--username", "--pub-key"):
        reg.add_argument(flag)
    reg.add_argument("--port", type=int)
    reg.add_argument("--ssh", action="store_true", help="an ssh block instead of a rest block")
    reg.add_argument("--insecure-http", action="store_true", help="plain HTTP, no TLS verification")
    reg.add_argument("--password-stdin", action="store_true")

    sub.add_parser("list", help="storages with state and last collection")
    sub.add_parser("drivers", help="installed drivers (ours and Delfin's) with their origin")
    upd = sub.add_parser("update-access-info", help="new credentials for a storage")
    upd.add_argument("storage_id")
    upd.add_argument("--file")
    upd.add_argument("--password-stdin", action="store_true")
    rm = sub.add_parser("remove", help="remove a storage (logs out, kills its actor)")
    rm.add_argument("storage_id")
    al = sub.add_parser("alerts", help="driver-manager alerts")
    al.add_argument("--storage")

    met = sub.add_parser("metrics", help="metrics dataset tools")
    msub = met.add_subparsers(dest="metrics_command", required=True)
    exp = msub.add_parser("export", help="export a window to Parquet or CSV")
    exp.add_argument("--storage", action="append", required=True, help="storage id (repeatable)")
    exp.add_argument("--start", required=True, help="ISO time or epoch ms")
    exp.add_argument("--end", required=True, help="ISO time or epoch ms")
    exp.add_argument("-o", "--output", required=True, help="file.parquet or file.csv")
    exp.add_argument("--data-dir", default=None)
    exp.add_argument("--root", default=None, help="metrics root (default <data dir>/metrics)")
    return ap


COMMANDS = {"up": cmd_up, "down": cmd_down, "register": cmd_register, "list": cmd_list,
            "update-access-info": cmd_update, "remove": cmd_remove, "alerts": cmd_alerts,
            "drivers": cmd_drivers}


def main(argv: Optional[list[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if "simulator" in argv[:3]:
        i = argv.index("simulator")
        return cmd_simulator(argparse.Namespace(), argv[i + 1:])
    args = build_parser().parse_args(argv)
    try:
        if args.command == "metrics":
            return cmd_metrics_export(args)
        return COMMANDS[args.command](args)
    except DelfinError as exc:
        print(json.dumps(exc.to_dict()), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
