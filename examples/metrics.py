# %% [markdown]
# # Metrics into a notebook
#
# Registers two simulated arrays, waits for two collection windows, then pulls the points
# into pyarrow, pandas and polars, runs a DuckDB query and plots IOPS per volume.
# Runs headless too: `python examples/metrics.py` (the tests execute it).
# Joins the cluster in `RAY_ADDRESS` if set, else starts a local one.

# %%
import os
import tempfile
import time

import rayactors  # noqa: F401  (sets RAY_AUTH_MODE before Ray is imported)
from drivers.simulator.control import SimulatorProcess, rest_access
from rayactors import metrics, start

namespace = os.environ.get("DELFIN_DM_NAMESPACE", "notebook")
data_dir = os.environ.get("DELFIN_DM_DATA_DIR") or tempfile.mkdtemp(prefix="delfin-nb-")
sim = SimulatorProcess()
client = start(namespace=namespace, data_dir=data_dir, perf_overlap_s=2)

# %% Register two simulated arrays (2 s samples, 50 volumes each)
arrays = [sim.add_array(perf_interval=2, sizes={"volumes": 50}) for _ in range(2)]
ids = [client.discover_storage(None, rest_access(a, resource_metrics={"volume": ["iops", "throughput"]}))["id"]
       for a in arrays]

# %% Wait for two windows per storage
deadline = time.time() + 60
while min(client.collection_stats(s).get("windows_collected", 0) for s in ids) < 2:
    assert time.time() < deadline, "no windows collected"
    time.sleep(0.5)

# %% Pull the points: pyarrow -> pandas and polars
table = metrics.read(storage_ids=ids, root=client.cfg.metrics_root)
df = table.to_pandas()
assert set(df["storage_id"].astype(str)) == set(ids)
assert set(df["metric"].astype(str)) == {"iops", "throughput"}

import polars as pl  # noqa: E402

pdf = pl.from_arrow(table)
per_storage = pdf.group_by("storage_id").agg(pl.col("value").count().alias("points"))
assert per_storage.height == 2

# %% DuckDB over the same files
import duckdb  # noqa: E402

top = duckdb.sql(f"""
    SELECT resource_id, avg(value) AS iops
    FROM read_parquet('{client.cfg.metrics_root}/**/*.parquet', hive_partitioning=true)
    WHERE metric = 'iops' AND storage_id = '{ids[0]}'
    GROUP BY resource_id ORDER BY iops DESC LIMIT 5""").fetchall()
assert len(top) == 5

# %% Plot IOPS per volume of the first storage
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

iops = df[(df["metric"] == "iops") & (df["storage_id"] == ids[0])]
pivot = iops.pivot_table(index="timestamp", columns="resource_id", values="value", observed=True)
ax = pivot.iloc[:, :8].plot(figsize=(8, 4), title="IOPS, first 8 volumes")
ax.set_ylabel("IOPS")
out = os.environ.get("NOTEBOOK_PLOT", os.path.join(data_dir, "iops.png"))
plt.savefig(out)
print(f"{table.num_rows} points from {len(ids)} storages; plot in {out}")

# %% Clean up what this notebook started
for sid in ids:
    client.remove_storage(None, sid)
sim.stop()
