"""Driver-manager alerts with Delfin's alert fields, and a non-blocking webhook sender."""
from __future__ import annotations

import logging
import queue
import threading
import time
import uuid
from typing import Any, Optional

import requests

log = logging.getLogger("delfin_dm.alerts")

#: name -> (severity, category, description format)
ALERT_KINDS: dict[str, tuple[str, str, str]] = {
    "CredentialsRejected": ("Major", "Fault",
                            "The array rejected the credentials of storage {storage_id}; "
                            "no login is attempted until the access info is updated."),
    "StorageUnreachable": ("Critical", "Fault", "Storage {storage_id} is unreachable: {detail}"),
    "StorageRecovered": ("Informational", "Recovery", "Storage {storage_id} is reachable again."),
    "WindowLost": ("Warning", "Event", "Performance window of storage {storage_id} lost: {detail}"),
}
FAULT_ALERTS = ("CredentialsRejected", "StorageUnreachable")


def make_alert(name: str, storage_id: str, detail: str = "", storage: Optional[dict] = None) -> dict[str, Any]:
    severity, category, fmt = ALERT_KINDS[name]
    storage = storage or {}
    return {"alert_id": uuid.uuid4().hex, "alert_name": name, "severity": severity,
            "category": category, "type": "EquipmentAlarm",
            "occur_time": int(time.time() * 1000),
            "description": fmt.format(storage_id=storage_id, detail=detail),
            "recovery_advice": "Update the access info." if name == "CredentialsRejected" else "",
            "resource_type": "Storage", "location": storage_id, "match_key": f"{name}:{storage_id}",
            "storage_id": storage_id, "storage_name": storage.get("name"),
            "vendor": storage.get("vendor"), "model": storage.get("model"),
            "serial_number": storage.get("serial_number")}


class WebhookSender:
    """POSTs alerts as JSON to each URL from a background thread, retrying with backoff."""

    def __init__(self, urls: list[str], attempts: int = 4) -> None:
        self.urls, self.attempts = list(urls), attempts
        self._queue: "queue.Queue[dict]" = queue.Queue(maxsize=10000)
        self.delivered = 0
        if self.urls:
            threading.Thread(target=self._run, daemon=True, name="webhooks").start()

    def send(self, alert: dict[str, Any]) -> None:
        if self.urls:
            try:
                self._queue.put_nowait(alert)
            except queue.Full:
                log.warning("webhook queue full; alert %s not sent", alert.get("alert_name"))

    def _run(self) -> None:
        http = requests.Session()
        while True:
            alert = self._queue.get()
            for url in self.urls:
                for attempt in range(self.attempts):
                    try:
                        if http.post(url, json=alert, timeout=5).status_code < 300:
                            self.delivered += 1
                            break
                    except requests.RequestException:
                        pass
                    time.sleep(min(30.0, 0.5 * 2 ** attempt))
