"""Peer servers for bench/transport.py, each in its own process, each in its best shape: the
window is built and serialized once at start, so a request costs only the transport.

``rest``: FastAPI/uvicorn with ``/metrics`` (Delfin's Metric shape), ``/columnar`` (columnar
JSON) and ``/arrow`` (Arrow IPC stream). ``grpc``: ``Collect`` (a message per metric),
``CollectColumnar`` (packed columns) and ``CollectArrow`` (Arrow IPC in a bytes field).
"""
from __future__ import annotations

import json
import sys
from concurrent import futures

import pyarrow as pa


def window(points: int, per: int) -> pa.Table:
    from bench.transport import window_table
    return window_table(points, per)


def ipc_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def columns(table: pa.Table) -> dict:
    """The window as dictionary-encoded columns (the same encoding as our Arrow schema)."""
    def dictionary(name: str) -> tuple[list, list]:
        col = table.column(name).combine_chunks()
        return col.dictionary.to_pylist(), col.indices.to_pylist()
    res, res_idx = dictionary("resource_id")
    met, met_idx = dictionary("metric")
    unit, unit_idx = dictionary("unit")
    return {"storage_id": table.column("storage_id")[0].as_py(), "resource_type": "volume",
            "resource_ids": res, "metric_names": met, "units": unit,
            "timestamps": table.column("timestamp").cast(pa.int64()).to_pylist(),
            "resource_index": res_idx, "metric_index": met_idx, "unit_index": unit_idx,
            "values": table.column("value").to_pylist()}


def metric_list(table: pa.Table) -> list[dict]:
    """Delfin's Metric shape: one series per (resource, metric) with its own label map."""
    cols = columns(table)
    out = []
    for i, v in enumerate(cols["values"]):
        r, m = cols["resource_ids"][cols["resource_index"][i]], cols["metric_names"][cols["metric_index"][i]]
        out.append({"name": m, "labels": {"storage_id": cols["storage_id"], "resource_type": "volume",
                                          "resource_id": r, "resource_name": r, "type": "RAW",
                                          "unit": cols["units"][cols["unit_index"][i]]},
                    "values": {str(cols["timestamps"][i]): v}})
    return out


def serve_rest(port: int, points: int, per: int) -> None:
    import uvicorn
    from fastapi import FastAPI, Response
    table = window(points, per)
    bodies = {"metrics": json.dumps(metric_list(table)).encode(), "columnar": json.dumps(columns(table)).encode()}
    arrow = ipc_bytes(table)
    app = FastAPI()

    @app.get("/metrics")
    def delfin_shape() -> Response:
        return Response(bodies["metrics"], media_type="application/json")

    @app.get("/columnar")
    def columnar() -> Response:
        return Response(bodies["columnar"], media_type="application/json")

    @app.get("/arrow")
    def arrow_ipc() -> Response:
        return Response(arrow, media_type="application/vnd.apache.arrow.stream")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_grpc(port: int, points: int, per: int) -> None:
    import grpc
    import window_pb2
    import window_pb2_grpc
    table = window(points, per)
    per_metric = window_pb2.Window()
    for m in metric_list(table):
        msg = per_metric.metrics.add(name=m["name"])
        msg.labels.update(m["labels"])
        for ts, v in m["values"].items():
            msg.values[int(ts)] = v
    columnar = window_pb2.ColumnarWindow(**columns(table))
    arrow = window_pb2.ArrowWindow(ipc_stream=ipc_bytes(table))

    class Collector(window_pb2_grpc.CollectorServicer):
        def Collect(self, request, context):
            return per_metric

        def CollectColumnar(self, request, context):
            return columnar

        def CollectArrow(self, request, context):
            return arrow

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_send_message_length", 1 << 30)])
    window_pb2_grpc.add_CollectorServicer_to_server(Collector(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    server.wait_for_termination()


if __name__ == "__main__":
    kind, port, points, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    (serve_rest if kind == "rest" else serve_grpc)(port, points, per)
