"""A separate OS process acting as one Delfin process (API, task or alert) on some node.

Phase 1: 50 calls (list_volumes / get_storage). Then wait for the go-file and make one more
call, which must fail with StorageNotFound once the storage is removed. Prints JSON lines.
"""
import json
import os
import sys
import time

import rayactors  # noqa: F401
from rayactors import Config, DriverManagerClient


def main() -> None:
    address, namespace, storage_id, go_file = sys.argv[1:5]
    client = DriverManagerClient(address=address, config=Config.load(namespace=namespace))
    for i in range(50):
        if i % 2:
            client.get_storage(None, storage_id)
        else:
            client.list_volumes(None, storage_id)
    print(json.dumps({"phase": 1, "ok": 50}), flush=True)
    deadline = time.monotonic() + 120
    while not os.path.exists(go_file) and time.monotonic() < deadline:
        time.sleep(0.1)
    try:
        client.list_volumes(None, storage_id)
        print(json.dumps({"phase": 2, "error": None}), flush=True)
    except Exception as exc:
        print(json.dumps({"phase": 2, "error": type(exc).__name__}), flush=True)


if __name__ == "__main__":
    main()
