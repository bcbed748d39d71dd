"""The node balancer: each new storage actor goes to the alive node with the fewest."""
import ray

from rayactors.placement import NodeBalancer, alive_node_ids


def test_balances_by_count_and_skips_dead_nodes():
    a, b, c = ("aa" * 28, "bb" * 28, "cc" * 28)
    alive = [a, b, c]
    bal = NodeBalancer(nodes=lambda: list(alive))
    strategies = [bal.place(f"s{i}") for i in range(7)]
    picked = [s.node_id for s in strategies]
    assert sorted(picked.count(n) for n in alive) == [2, 2, 3]
    assert all(s.soft for s in strategies)                 # a dead node never strands an actor

    alive.remove(b)                                        # node b died: its actors moved
    bal.observe([(sid, a) for sid, n in bal.snapshot().items() if n == b])
    assert bal.counts()[a] > bal.counts()[c]
    assert bal.place("new").node_id == c                   # the emptiest alive node

    before = bal.counts()[c]
    bal.forget("new")
    assert bal.counts()[c] == before - 1


def test_no_nodes_means_default_scheduling():
    assert NodeBalancer(nodes=lambda: []).place("x") is None


def test_nodes_that_cannot_host_an_actor_are_left_out(ray_cluster):
    here = ray.get_runtime_context().get_node_id()
    assert alive_node_ids(0.001) == [here]
    assert alive_node_ids(10_000) == []                    # e.g. a head started with --num-cpus=0
    assert NodeBalancer(min_cpus=0.001).place("s").node_id == here
