"""Deterministic array inventory from a seed, shared by the fake driver and the simulator."""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

GiB = 1024 ** 3

DEFAULT_SIZES = {"pools": 4, "volumes": 5000, "ports": 8, "disks": 24, "controllers": 2}


@dataclass
class Inventory:
    storage: dict[str, Any]
    pools: list[dict[str, Any]] = field(default_factory=list)
    volumes: list[dict[str, Any]] = field(default_factory=list)
    ports: list[dict[str, Any]] = field(default_factory=list)
    disks: list[dict[str, Any]] = field(default_factory=list)
    controllers: list[dict[str, Any]] = field(default_factory=list)

    def perf_resources(self) -> dict[str, list[str]]:
        """Resource ids per perf resource type (Delfin's perf type names)."""
        return {
            "storage": [self.storage["serial_number"]],
            "storagePool": [p["native_storage_pool_id"] for p in self.pools],
            "volume": [v["native_volume_id"] for v in self.volumes],
            "port": [p["native_port_id"] for p in self.ports],
            "disk": [d["native_disk_id"] for d in self.disks],
            "controller": [c["native_controller_id"] for c in self.controllers],
        }


def generate(seed: int, sizes: dict[str, int] | None = None, *, name: str = "array",
             vendor: str = "fake_vendor", model: str = "fake_model") -> Inventory:
    """Same seed and sizes -> the same inventory, row for row."""
    n = {**DEFAULT_SIZES, **(sizes or {})}
    rnd = random.Random(seed)
    serial = f"SN{seed % 10**10:010d}{rnd.randrange(16**4):04X}"
    pools = []
    for i in range(n["pools"]):
        total = rnd.randint(50, 500) * 1024 * GiB
        used = int(total * rnd.uniform(0.1, 0.9))
        pools.append({"native_storage_pool_id": f"pool-{i}", "name": f"{name}-pool-{i}",
                      "description": "simulated pool", "storage_type": "block", "status": "normal",
                      "total_capacity": total, "used_capacity": used, "free_capacity": total - used,
                      "subscribed_capacity": int(total * 1.2)})
    volumes = []
    for i in range(n["volumes"]):
        total = rnd.randint(1, 2048) * GiB
        used = int(total * rnd.random())
        volumes.append({"native_volume_id": f"vol-{i}", "name": f"{name}-vol-{i}",
                        "description": None, "type": "thin" if i % 3 else "thick",
                        "status": "available" if i % 97 else "error",
                        "native_storage_pool_id": f"pool-{i % max(1, n['pools'])}",
                        "wwn": f"6{seed % 16**7:07x}{i:024x}", "total_capacity": total,
                        "used_capacity": used, "free_capacity": total - used,
                        "compressed": bool(i % 2), "deduplicated": bool(i % 5 == 0)})
    ports = []
    for i in range(n["ports"]):
        ports.append({"native_port_id": f"port-{i}", "name": f"CL{i // 4 + 1}-{'ABCD'[i % 4]}",
                      "location": f"ctl-{i % max(1, n['controllers'])}",
                      "type": "fc" if i % 2 == 0 else "iscsi", "logical_type": "frontend",
                      "connection_status": "connected" if i % 7 else "disconnected",
                      "health_status": "normal", "native_parent_id": f"ctl-{i % max(1, n['controllers'])}",
                      "speed": 16 * 10**9, "max_speed": 32 * 10**9,
                      "wwn": f"50:06:0e:80:{seed % 256:02x}:{i // 256 % 256:02x}:{i % 256:02x}:00"})
    disks = []
    for i in range(n["disks"]):
        disks.append({"native_disk_id": f"disk-{i}", "name": f"disk-{i}",
                      "physical_type": "ssd" if i % 3 else "sas", "logical_type": "member",
                      "status": "normal" if i % 41 else "degraded", "location": f"shelf-0/slot-{i}",
                      "serial_number": f"D{seed % 10**6:06d}{i:05d}", "manufacturer": "simco",
                      "model": "SIM-SSD", "firmware": "1.0", "speed": 10000,
                      "capacity": rnd.choice([960, 1920, 3840]) * GiB, "health_score": 100})
    controllers = []
    for i in range(n["controllers"]):
        controllers.append({"native_controller_id": f"ctl-{i}", "name": f"CTL{i}", "status": "normal",
                            "location": f"enclosure-0/{i}", "soft_version": "9.1.0",
                            "cpu_info": "sim 8-core", "cpu_count": 8, "memory_size": 64 * GiB,
                            "mgmt_ip": f"127.0.0.{i + 1}"})
    total = sum(p["total_capacity"] for p in pools)
    used = sum(p["used_capacity"] for p in pools)
    storage = {"name": name, "description": "simulated array", "location": "lab",
               "status": "normal", "vendor": vendor, "model": model, "serial_number": serial,
               "firmware_version": "9.1.0", "total_capacity": total, "used_capacity": used,
               "free_capacity": total - used, "raw_capacity": sum(d["capacity"] for d in disks),
               "subscribed_capacity": sum(p["subscribed_capacity"] for p in pools)}
    return Inventory(storage, pools, volumes, ports, disks, controllers)
