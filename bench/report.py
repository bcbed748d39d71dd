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
        names = {"a": "Ray actor\nArrow", "b": "REST/JSON", "c": "gRPC\nprotobuf", "d": "Serve\nArrow IPC"}
        block = tr["results"].get("50000", {})
        ks = list(block)
        ax.bar([names[k] for k in ks], [block[k]["median_ms"] for k in ks], yerr=None)
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
        ax.set_title("Control call with 16 bulk calls in flight")
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
        ax.legend(loc="upper left")
        ax.set_title("Scale on one node")
        fig.tight_layout()
        fig.savefig(os.path.join(RESULTS, "scale.png"))
        made.append("scale.png")
    return made


def table() -> str:
    lines = []
    env = None
    for name in ("pipeline", "overhead", "priority", "transport", "sessions", "scale"):
        d = _load(name)
        if d and env is None:
            env = d["environment"]
    if env:
        lines.append(f"Measured {env['date']} on {env['machine']}, {env['cpus']} CPUs, Python {env['python']}, "
                     f"Ray {env['ray']}, pyarrow {env['pyarrow']}.\n")
    lines += ["| benchmark | figure | target |", "| --- | --- | --- |"]
    p = _load("pipeline")
    if p:
        lines.append(f"| pipeline | {p['overhead_ms']['median']:.1f} ms median, {p['overhead_ms']['p99']:.1f} ms p99 per "
                     f"{p['points_per_window']}-point window; read() {p['read_rows_per_s']/1e6:.1f} M rows/s | <= 30 ms |")
    o = _load("overhead")
    if o:
        lines.append(f"| call overhead (p50 / p99) | direct {o['direct']['p50_ms']:.3f} / {o['direct']['p99_ms']:.3f} ms; "
                     f"client {o['client']['p50_ms']:.2f} / {o['client']['p99_ms']:.2f} ms; "
                     f"HTTP {o['http']['p50_ms']:.2f} / {o['http']['p99_ms']:.2f} ms | |")
    pr = _load("priority")
    if pr:
        lines.append(f"| priority | control lane p99 {pr['ours']['p99_ms']:.0f} ms vs FIFO p99 {pr['fifo']['p99_ms']:.0f} ms "
                     f"(array latency {pr['array_latency_ms']} ms) | p99 <= {pr['target_p99_ms']} ms |")
    tr = _load("transport")
    if tr:
        for pts, block in tr["results"].items():
            parts = [f"({k}) {v['median_ms']:.1f} ms, {v['mb']:.1f} MB, {v['gb_per_s']:.2f} GB/s"
                     + (f", x{v['speedup_vs_b']:.1f} vs (b)" if "speedup_vs_b" in v else "") for k, v in block.items()]
            target = "(a) >= 20x (b), >= 5x (c)" if pts == "50000" else ">= 1 GB/s"
            lines.append(f"| transport {int(pts):,} points | " + "; ".join(parts) + f" | {target} |")
    s = _load("sessions")
    if s:
        d, ours = s["delfin_model"], s["ours"]
        lines.append(f"| sessions, 9 processes, {s['seconds']:.0f} s | Delfin model: logins/array "
                     f"{list(d['logins_per_array'].values())}, peak sessions {list(d['peak_active_sessions_per_array'].values())}; "
                     f"ours: logins/array {list(ours['logins_per_array'].values())}, peak sessions "
                     f"{list(ours['peak_active_sessions_per_array'].values())} | 1 session per array |")
    sc = _load("scale")
    if sc:
        for r in sc["steps"]:
            lines.append(f"| scale N={r['n']} ({sc['interval_s']} s windows) | register {r['register_s']:.0f} s; actor USS "
                         f"{r['uss_mb']:.0f} MB, PSS {r['pss_mb']:.0f} MB; runtime CPU {r['runtime_cpu_cores']:.2f} cores; "
                         f"on time {r['on_time_fraction']:.0%} | >= 200, <= 80 MB/actor |")
        lines.append(f"| scale: largest N keeping up | {sc['largest_n_keeping_up']} | >= 200 |")
    am = _load("actor_memory")
    if am:
        parts = [f"{r['stage']} {r['delta_mb']:+.0f}" for r in am["stages"]]
        lines.append(f"| actor memory, USS MB by stage | " + "; ".join(parts)
                     + f"; total {am['stages'][-1]['uss_mb']:.0f} | <= 80 MB/actor |")
        if am.get("delfin"):
            parts = [f"{r['stage']} +{r['over_ours_mb']:.0f}" for r in am["delfin"] if "over_ours_mb" in r]
            lines.append("| actor memory, SODA Delfin's drivers, USS MB over our stack | " + "; ".join(parts)
                         + " | (reported; an actor loads one driver) |")
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
