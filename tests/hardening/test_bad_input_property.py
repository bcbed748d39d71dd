"""Random and malformed input at the edges: only Delfin errors, never an unhandled exception,
never a corrupted registry. Generated vendors never name a driver that opens a connection."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drivers.access_info import AccessInfo
from drivers.errors import DelfinError, InvalidInput

json_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=20))
json_value = st.recursive(json_leaf, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                             st.dictionaries(st.text(max_size=8), inner, max_size=4)),
                          max_leaves=12)
block = st.fixed_dictionaries({}, optional={"host": json_value, "port": json_value, "username": json_value,
                                            "password": json_value, "verify": json_value, "pub_key": json_value})
access_like = st.fixed_dictionaries(
    {}, optional={"vendor": st.one_of(st.sampled_from(["acme", "", "simulator "]), json_value),
                  "model": st.one_of(st.sampled_from(["x9000", "rest "]), json_value),
                  "rest": st.one_of(block, json_value), "ssh": st.one_of(block, json_value),
                  "extra_attributes": json_value, "storage_id": json_value})


@settings(max_examples=300, deadline=None)
@given(data=st.one_of(access_like, json_value))
def test_access_info_model_accepts_or_says_invalid_input(data):
    try:
        ai = AccessInfo.parse(data)
    except InvalidInput as exc:
        assert exc.code == 400 and exc.error_args
        return
    assert "password" not in repr(ai) or "**********" in repr(ai)


@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
@given(access=access_like, storage_id=st.one_of(json_value, st.text(max_size=40)),
       method=st.sampled_from(["get_storage", "list_volumes", "list_filesystems", "collect_perf_metrics",
                               "remove_storage", "update_access_info", "discover_storage", "storage_state",
                               "get_access_info", "parse_alert"]))
def test_client_facade_raises_only_delfin_errors(manager, access, storage_id, method):
    c = manager.client
    before = c.list_storages()
    try:
        if method == "discover_storage":
            c.discover_storage(None, access)
        elif method == "update_access_info":
            c.update_access_info(None, {**access, "storage_id": storage_id} if isinstance(access, dict) else access)
        elif method in ("storage_state", "get_access_info"):
            getattr(c, method)(storage_id)
        elif method == "collect_perf_metrics":
            c.collect_perf_metrics(None, storage_id, access, storage_id, 5)
        elif method == "parse_alert":
            c.parse_alert(None, storage_id, access)
        else:
            getattr(c, method)(None, storage_id)
    except DelfinError:
        pass
    assert c.list_storages() == before
