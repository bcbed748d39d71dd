"""Windows a storage actor keeps (``recent_windows``) are put in the object store once when
collected and handed out by reference; a reader whose actor died in between asks again."""
import pyarrow as pa
import pytest
import ray
from ray.exceptions import ObjectLostError

from drivers.arrow_schema import METRIC_SCHEMA
from drivers.simulator.control import rest_access
from rayactors import metrics
from rayactors.client import DriverManagerClient
from rayactors.metrics import transfer
from rayactors.naming import get_storage_actor

from ..helpers import kill_9_and_wait, wait_for

SERIES = {"volume": ["iops", "readIops"], "controller": ["cpuUsage"]}
PER_WINDOW = 4 * 2 + 2                   # 4 volumes x 2 metrics + 2 controllers x 1


@pytest.fixture
def keeping(manager_factory, simulator):
    m = manager_factory(scheduler_enabled=True, perf_overlap_s=2, recent_windows=2)
    arr = simulator.add_array(perf_interval=2, sizes={"volumes": 4, "controllers": 2})
    sid = m.client.discover_storage(None, rest_access(arr, resource_metrics=SERIES))["id"]
    wait_for(lambda: m.client.collection_stats(sid).get("windows_collected", 0) >= 3, 30, what="3 windows")
    return m, sid


def rows(table: pa.Table) -> list[tuple]:
    cols = ("storage_id", "resource_id", "metric", "timestamp", "value")
    return sorted(zip(*(table.column(c).to_pylist() for c in cols)))


def test_kept_windows_are_published_once_and_read_like_the_parquet_copy(keeping):
    m, sid = keeping
    actor = get_storage_actor(sid, m.cfg.namespace)
    for _ in range(5):                   # two answers within one window: the same object, not a copy
        before = m.client.collection_stats(sid)["windows_collected"]
        first, second = ray.get([actor.recent_metrics.remote(1), actor.recent_metrics.remote(1)])
        if m.client.collection_stats(sid)["windows_collected"] == before:
            break
    assert isinstance(first, transfer.Published) and len(first.refs) == 1
    assert first.refs[0].hex() == second.refs[0].hex()

    two = m.client.recent_metrics(sid, 2)
    assert two.schema.equals(METRIC_SCHEMA) and two.num_rows == 2 * PER_WINDOW
    stamps = sorted(set(two.column("timestamp").cast(pa.int64()).to_pylist()))
    assert len(stamps) == 2
    on_disk = metrics.read(storage_ids=[sid], root=m.cfg.metrics_root, start=stamps[0], end=stamps[-1] + 1)
    assert rows(two) == rows(on_disk)


def test_a_reader_whose_actor_died_gets_the_windows_again(keeping):
    m, sid = keeping
    answer = ray.get(get_storage_actor(sid, m.cfg.namespace).recent_metrics.remote(1))
    kill_9_and_wait(m, sid, handles=False)
    with pytest.raises(ObjectLostError):          # the objects died with the actor that owned them
        transfer.resolve(answer, timeout=30)
    again = m.client.recent_metrics(sid, 1)       # the restarted actor answers (from Parquet, then memory)
    assert again.schema.equals(METRIC_SCHEMA) and again.num_rows == PER_WINDOW


def test_the_client_asks_again_when_the_actor_dies_between_its_answer_and_the_read(keeping):
    """The interleaving forced: the answer arrives, then the actor is killed and restarted, then
    the client reads the references it was given."""
    m, sid = keeping

    class KilledAfterAnswer(DriverManagerClient):
        asked = 0

        def _actor_call(self, storage_id, name, *args, **kwargs):
            answer = super()._actor_call(storage_id, name, *args, **kwargs)
            if name == "recent_metrics":
                self.asked += 1
                if self.asked == 1:
                    kill_9_and_wait(m, sid, handles=False)
            return answer

    client = KilledAfterAnswer(config=m.cfg)
    table = client.recent_metrics(sid, 1)
    assert client.asked == 2                      # the lost answer, then the restarted actor's
    assert table.schema.equals(METRIC_SCHEMA) and table.num_rows == PER_WINDOW
