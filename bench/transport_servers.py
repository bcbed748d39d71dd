"""Contender servers for bench/transport.py, each in its own process: REST/JSON and gRPC."""
from __future__ import annotations

import json
import sys
from concurrent import futures


def metric_list(points: int, series_metrics: int) -> list[dict]:
    """Delfin's Metric shape as plain dicts: one series per (volume, metric), one sample each."""
    n_res = points // series_metrics
    out = []
    for r in range(n_res):
        for m in range(series_metrics):
            out.append({"name": f"m{m}", "labels": {"storage_id": "bench", "resource_type": "volume",
                                                     "resource_id": f"vol-{r}", "resource_name": f"vol-{r}",
                                                     "type": "RAW", "unit": "IOPS"},
                        "values": {"1800000000000": float((r * 31 + m) % 1000)}})
    return out


def serve_rest(port: int, points: int, series_metrics: int) -> None:
    import uvicorn
    from fastapi import FastAPI, Response
    app = FastAPI()
    metrics = metric_list(points, series_metrics)

    @app.get("/metrics")
    def get_metrics() -> Response:
        return Response(json.dumps(metrics), media_type="application/json")
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning")


def serve_grpc(port: int, points: int, series_metrics: int) -> None:
    import grpc
    import window_pb2
    import window_pb2_grpc
    window = window_pb2.Window()
    for m in metric_list(points, series_metrics):
        msg = window.metrics.add(name=m["name"])
        msg.labels.update(m["labels"])
        msg.values[1800000000000] = m["values"]["1800000000000"]

    class Collector(window_pb2_grpc.CollectorServicer):
        def Collect(self, request, context):
            return window

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4),
                         options=[("grpc.max_send_message_length", 1 << 30)])
    window_pb2_grpc.add_CollectorServicer_to_server(Collector(), server)
    server.add_insecure_port(f"127.0.0.1:{port}")
    server.start()
    print("ready", flush=True)
    server.wait_for_termination()


if __name__ == "__main__":
    kind, port, points, per = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
    (serve_rest if kind == "rest" else serve_grpc)(port, points, per)
