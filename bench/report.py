"""Charts (PNG) and the Markdown table of bench/README.md from bench/results/*.json."""
from __future__ import annotations

import json
import os
from typing import Any

from .common import RESULTS

HERE = os.path.dirname(os.path.abspath(__file__))
MARK_BEGIN, MARK_END = "<!-- results:begin -->", "<!-- results:end -->"


def _load(name: str) -> Any:
    path = os.path.join(RESULTS, f"{name}.json")
    if not os.path.exists(path):
        return None
    with open(path) as fh:
        return json.load(fh)


def charts() -> list[str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    made = []
    tr = _load("transport")
    if tr:
        fig, ax = plt.subplots(figsize=(7, 3.5))
        names = {"a": "(a) Ray\nkept window", "b": "(b) REST\nDelfin", "c": "(c) gRPC\nper metric",
                 "d": "(d) Serve\nArrow", "e": "(e) REST\ncolumns", "f": "(f) gRPC\ncolumns",
                 "g": "(g) gRPC\nArrow", "h": "(h) HTTP\nArrow", "i": "(i) Ray\nper call"}
        block = tr["results"].get("50000", {})
        ks = [k for k in names if isinstance(block.get(k), dict)]
        ax.bar([names[k] for k in ks], [block[k]["median_ms"] for k in ks],
               color=["tab:blue" if k in "adi" else "tab:grey" for k in ks])
        ax.tick_params(axis="x", labelsize=7)
        ax.set_yscale("log")
        ax.set_ylabel("median ms (log)")
        ax.set_title("One 50k-point window to a consumer process")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "transport.png"))
        made.append("transport.png")
    pr = _load("priority")
    if pr:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.boxplot([pr["ours"]["samples_ms"], pr["fifo"]["samples_ms"]], tick_labels=["control lane", "FIFO"])
        ax.axhline(pr["array_latency_ms"], ls="--", c="grey")
        ax.set_ylabel("control call ms")
        ax.set_title(f"Control call, bulk lane saturated ({pr['array_latency_ms']:.0f} ms array)")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "priority.png"))
        made.append("priority.png")
    sc = _load("scale")
    if sc and sc["steps"]:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ns = [r["n"] for r in sc["steps"]]
        ax.plot(ns, [r["uss_mb"] for r in sc["steps"]], "o-", label="USS MB / actor")
        ax.plot(ns, [r["pss_mb"] for r in sc["steps"]], "s-", label="PSS MB / actor")
        ax.set_xlabel("storages")
        ax2 = ax.twinx()
        ax2.plot(ns, [100 * r["on_time_fraction"] for r in sc["steps"]], "g^--", label="% on time")
        ax2.set_ylim(0, 105)
        ax.set_ylabel("MB per storage actor")
        ax2.set_ylabel("% of windows on time")
        lines = ax.get_lines() + ax2.get_lines()
        ax.legend(lines, [ln.get_label() for ln in lines], loc="upper center", bbox_to_anchor=(0.5, -0.18), ncol=3,
                  fontsize=8)
        ax.set_title("Scale on one node")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "scale.png"))
        made.append("scale.png")
    return made


def _register_cpu(rg: dict) -> str:
    """The busy rounds' CPU, in runs that counted it."""
    c = rg["busy"].get("cpu")
    if not c:
        return ""
    return (f" ({c['cpu_per_registration_p50_s']:.2f} CPU s per registration, "
            f"{c['storage_actor_cpu_per_registration_p50_s']:.2f} of it in the new actor process; the node "
            f"{c['node_busy_p50']:.0%} busy, its CPU alone needs {c['floor_s']:.2f} s)")


def _met(ok: bool) -> str:
    return "met" if ok else "**missed**"


def _at_scale() -> str:
    """The same actor's memory among many (``scale``: libraries shared by more processes)."""
    sc = _load("scale")
    if not sc or not sc.get("steps"):
        return ""
    r = max(sc["steps"], key=lambda r: (r["on_time_fraction"] >= 0.95, r["n"]))
    return f"; collecting among N={r['n']} (`scale`): PSS {r['pss_mb']:.0f}, USS {r['uss_mb']:.0f}"


def rows() -> list[tuple[str, str, str, str]]:
    """(figure, target, measured, met or missed) for every target of bench/README.md."""
    out: list[tuple[str, str, str, str]] = []
    am = _load("actor_memory")
    if am and am.get("storage"):
        idle, busy = am["storage"]["idle"], am["storage"]["collecting"]
        out.append(("storage actor memory (PSS)", "<= 80 MB idle, <= 90 MB collecting 50k points per minute",
                    f"{idle['pss_mb']:.0f} MB idle"
                    + (f" (after {idle['syncs']} syncs of 5k volumes)" if "syncs" in idle else "")
                    + f", {busy['pss_mb']:.0f} MB collecting "
                    f"(USS {idle['uss_mb']:.0f} / {busy['uss_mb']:.0f}; a bare Ray actor: PSS "
                    f"{am['bare']['pss_mb']:.0f}, USS {am['bare']['uss_mb']:.0f})" + _at_scale(),
                    _met(idle["pss_mb"] <= 80 and busy["pss_mb"] <= 90)))
    sc = _load("scale")
    if sc and sc["steps"]:
        last = sc["steps"][-1]
        failed = sum(s.get("register_failures", 0) for s in sc["steps"])
        ok = (last["n"] >= 200 and not failed and last["windows_missed"] == 0
              and last["runtime_cpu_percent_of_node"] <= 50 and sc["register_total_s"] <= 300)
        out.append(("storages on this node (5k LUNs x 10 metrics each, 60 s windows, >= 10 windows watched)",
                    ">= 200, 0 windows missed, runtime CPU <= 50% of the node, all registered within 5 min",
                    f"N={last['n']}: " + (f"{failed} registrations failed, " if failed else "")
                    + f"{last['windows_missed']} of {(last['n'] - failed) * last['windows_watched']} windows missed, "
                    f"runtime CPU {last['runtime_cpu_percent_of_node']:.0f}% of the node, registered in "
                    f"{sc['register_total_s']:.0f} s"
                    + (f" (the last {last['n'] - sc['steps'][-2]['n'] if len(sc['steps']) > 1 else last['n']} in "
                       f"{last['register_s']:.0f} s, the node {last['register_node_busy']:.0%} busy: ours "
                       f"{last['register_runtime_cores']:.2f} cores, the simulator {last['register_simulator_cores']:.2f})"
                       if "register_node_busy" in last else "")
                    + f", PSS {last['pss_mb']:.0f} MB/actor; largest N on time: {sc['largest_n_keeping_up']}", _met(ok)))
    ic = _load("idle_cpu")
    if ic:
        d, t = ic["defaults"], ic["tuned"]
        out.append(("Ray idle CPU per actor", "<= 2 ms per second",
                    f"storage actor {d['storage']['cpu_ms_per_s_median']:.1f} ms/s (tuned "
                    f"{t['storage']['cpu_ms_per_s_median']:.1f}), bare Ray actor {d['bare']['cpu_ms_per_s_median']:.1f} "
                    f"(tuned {t['bare']['cpu_ms_per_s_median']:.1f}); main thread wakes "
                    f"{d['bare']['main_thread_wakeups_per_s']:.0f}/s",
                    _met(min(d["storage"]["cpu_ms_per_s_median"], t["storage"]["cpu_ms_per_s_median"]) <= 2)))
    rg = _load("register")
    if rg:
        out.append(("register to first call", "<= 2 s p50, idle and while 8 other registrations run",
                    f"idle {rg['idle']['first_call_p50_s']:.2f} s p50, busy {rg['busy']['first_call_p50_s']:.2f} s p50"
                    + _register_cpu(rg), _met(rg["met"])))
    o = _load("overhead")
    if o and "bare_actor" in o:
        out.append(("client call over a bare Ray actor call", "<= +0.3 ms p50",
                    f"{o['client_over_bare_p50_ms']:+.2f} ms (client {o['client']['p50_ms']:.2f}, bare actor "
                    f"{o['bare_actor']['p50_ms']:.2f}, bare actor with our concurrency groups "
                    f"{o['bare_actor_groups']['p50_ms']:.2f} ms p50)", _met(o["client_over_bare_p50_ms"] <= 0.3)))
        out.append(("HTTP control route over Serve's own no-op route", "<= +3 ms p50",
                    f"{o['http_over_serve_p50_ms']:+.2f} ms (ours {o['http']['p50_ms']:.2f}, Serve no-op "
                    f"{o['serve_noop']['p50_ms']:.2f}, Serve + FastAPI no-op {o['serve_fastapi_noop']['p50_ms']:.2f} ms p50"
                    + (f"; our app's layers {o['app_layers_over_serve_p50_ms']:+.2f}, the one awaited actor call "
                       f"{o['awaited_actor_call_p50_ms']:+.2f})" if "awaited_actor_call_p50_ms" in o else ")"),
                    _met(o["http_over_serve_p50_ms"] <= 3)))
    tr = _load("transport")
    if tr and "50000" in tr["results"]:
        b = tr["results"]["50000"]
        shapes = "; ".join(f"({k}) {v['median_ms']:.1f} ms" for k, v in b.items() if isinstance(v, dict) and "median_ms" in v)
        out.append(("50k-point window, storage actor to consumer process",
                    "faster than the best shape of every peer: (e) REST columnar JSON, (f) gRPC columnar protobuf, "
                    "(g) Arrow IPC over gRPC, (h) over HTTP",
                    f"{shapes}; (a) is {b['a_over_best_peer']:.2f}x the best peer ({b['best_peer']})"
                    + (f"; (i), a table per call, {b['i_over_best_peer']:.2f}x" if "i_over_best_peer" in b else ""),
                    _met(b["a_over_best_peer"] >= 1.0)))
    if tr and "5000000" in tr["results"]:
        b = tr["results"]["5000000"]
        z = b.get("zero_copy", {})
        out.append(("5M-point window", ">= 1 GB/s, the consumer reading every value; same-node get zero-copy",
                    f"(a) {b['a']['gb_per_s']:.2f} GB/s ({b['a']['median_ms']:.0f} ms); same-node get allocated "
                    f"{z.get('allocated_by_get_mb', float('nan')):.1f} MB for a {z.get('table_mb', 0):.0f} MB table; "
                    + "; ".join(f"({k}) {v['gb_per_s']:.2f} GB/s" for k, v in b.items()
                                if isinstance(v, dict) and "gb_per_s" in v and k != "a"),
                    _met(b["a"]["gb_per_s"] >= 1.0 and z.get("zero_copy", False))))
    pr = _load("priority")
    if pr and "n" in pr.get("ours", {}):
        out.append(("control call while the bulk lane is saturated",
                    f"p99 over >= 200 samples <= array latency + 20 ms ({pr['target_p99_ms']:.0f} ms)",
                    f"ours p99 {pr['ours']['p99_ms']:.0f} ms over {pr['ours']['n']} samples (median "
                    f"{pr['ours']['median_ms']:.0f}); real FIFO median {pr['fifo']['median_ms']:.0f} ms, p99 "
                    f"{pr['fifo']['p99_ms']:.0f} ms over {pr['fifo']['n']}",
                    _met(pr["ours"]["p99_ms"] <= pr["target_p99_ms"] and pr["ours"]["n"] >= 200)))
    s = _load("sessions")
    if s:
        d, ours = s["delfin_model"], s["ours"]
        out.append(("sessions, 3 nodes x 3 processes", "Delfin's model vs ours, counted by an uncapped array; no crash",
                    f"Delfin's model: peak sessions per array {list(d['peak_active_sessions_per_array'].values())}, "
                    f"logins {list(d['logins_per_array'].values())}; ours: peak {list(ours['peak_active_sessions_per_array'].values())}, "
                    f"logins {list(ours['logins_per_array'].values())}; failed calls {d.get('errors', 0)} / "
                    f"{ours.get('errors', 0)}, refused at the cap {d.get('rejected_at_cap', 0)} / {ours.get('rejected_at_cap', 0)}",
                    _met(not d.get("crashed_processes") and not ours.get("crashed_processes")
                         and max(ours["peak_active_sessions_per_array"].values()) <= 2)))
    p = _load("pipeline")
    if p:
        out.append(("pipeline: driver result to Parquet + object store, per 50k-point window", "<= 30 ms median",
                    f"{p['overhead_ms']['median']:.1f} ms median, {p['overhead_ms']['p99']:.1f} ms p99; read() "
                    f"{p['read_rows_per_s'] / 1e6:.1f} M rows/s", _met(p["overhead_ms"]["median"] <= 30)))
    so = _load("soak")
    if so and "windows_missing_on_disk" in so:
        out.append((f"fault soak ({so['minutes']:.0f} min, {so['storages']} storages, `python -m bench.soak`)",
                    "0 windows lost, 0 sessions leaked, 0 slow calls to healthy storages",
                    f"windows lost {so['windows_lost_reported']}, missing {so['windows_missing_on_disk']}, doubled "
                    f"{so['windows_doubled_on_disk']} of {so['windows_on_disk']}; sessions open after remove "
                    f"{so['sessions_open_after_remove']} ({so['sessions_open_after_remove_without_kill']} without a kill -9), "
                    f"peak per array {so['peak_sessions_max']}; {so['slow_calls']} of {so['probe_calls']} control-group "
                    f"calls over 2x baseline p99" + (
                        f"; the host stole {so['node_cpu_pct']['during']['steal']}% of the node's CPU during the "
                        f"faults ({so['node_cpu_pct']['baseline']['steal']}% in the warm-up)" if "node_cpu_pct" in so else ""),
                    _met(so["windows_lost_reported"] == 0 and so["windows_missing_on_disk"] == 0
                         and so["sessions_open_after_remove"] == 0 and so["slow_calls"] == 0)))
    return out


def table() -> str:
    env = None
    for name in ("pipeline", "overhead", "priority", "transport", "sessions", "scale", "register", "idle_cpu"):
        d = _load(name)
        if d and env is None:
            env = d["environment"]
    lines = []
    if env:
        lines.append(f"Measured {env['date']} on {env['machine']}, {env['cpus']} CPUs, Python {env['python']}, "
                     f"Ray {env['ray']}, pyarrow {env['pyarrow']}.\n")
    lines += ["| figure | target | measured | |", "| --- | --- | --- | --- |"]
    lines += [f"| {a} | {b} | {c} | {d} |" for a, b, c, d in rows()]
    return "\n".join(lines)


def write_report() -> None:
    made = charts()
    path = os.path.join(HERE, "README.md")
    text = open(path).read() if os.path.exists(path) else MARK_BEGIN + "\n" + MARK_END + "\n"
    block = table() + "\n\n" + " ".join(f"![{m}](results/{m})" for m in made)
    head, _, rest = text.partition(MARK_BEGIN)
    _, _, tail = rest.partition(MARK_END)
    with open(path, "w") as fh:
        fh.write(head + MARK_BEGIN + "\n" + block + "\n" + MARK_END + tail)


if __name__ == "__main__":
    write_report()
