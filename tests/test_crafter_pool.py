"""Background world generation: quick, deterministic, and robust to a dead worker."""

from __future__ import annotations

import time

import numpy as np
import pytest

from bridges.crafter import pool as pool_mod
from bridges.crafter.env import SEED_STRIDE, make_env
from bridges.crafter.pool import WorldPool, new_game


def same_world(a, b) -> bool:
    wa, wb = a._world, b._world
    objs = lambda w: sorted((type(o).__name__, int(o.pos[0]), int(o.pos[1])) for o in w.objects)  # noqa: E731
    return (
        np.array_equal(wa._mat_map, wb._mat_map)
        and objs(wa) == objs(wb)
        and tuple(a._player.pos) == tuple(b._player.pos)
        and wa.random.get_state()[1].tolist() == wb.random.get_state()[1].tolist()
    )


def wait_done(pool: WorldPool, seeds, timeout=60.0) -> None:
    deadline = time.monotonic() + timeout
    while not all(pool._pending[s].done() for s in seeds):
        assert time.monotonic() < deadline, "background world generation took too long"
        time.sleep(0.05)


@pytest.mark.parametrize("backend", ["process", "thread"])
def test_pool_returns_prefetched_worlds_quickly_and_deterministically(backend):
    pool = WorldPool(length=1000, backend=backend)
    pool.prefetch(101)
    pool.prefetch(202)
    wait_done(pool, [101, 202])
    t = time.perf_counter()
    got = pool.get(101)
    waited = time.perf_counter() - t
    assert waited < 0.05, f"a prefetched world took {waited * 1000:.1f} ms to hand over"
    assert pool.hits == 1 and pool.misses == 0
    assert same_world(got, new_game(101, 1000))
    assert got._length == 1000 and got._step == 0
    assert same_world(pool.get(202), new_game(202, 1000))
    assert not same_world(got, new_game(202, 1000))
    pool.close()


def test_a_seed_not_prefetched_is_built_on_demand():
    pool = WorldPool(backend="thread", depth=2)
    for s in (1, 2, 3):  # depth 2: the oldest guess (1) is dropped
        pool.prefetch(s)
    assert list(pool._pending) == [2, 3]
    assert same_world(pool.get(1), new_game(1))
    assert pool.misses == 1
    pool.close()


def test_a_dead_worker_process_costs_a_stall_not_the_episode():
    pool = WorldPool(backend="process")
    pool.prefetch(7)
    worker = pool_mod.shared_worker("process")
    worker._proc.kill()  # the child we started
    worker._proc.wait()
    assert same_world(pool.get(7), new_game(7))  # built here instead
    deadline = time.monotonic() + 10
    while not worker.broken:
        assert time.monotonic() < deadline
        time.sleep(0.02)
    pool.prefetch(8)  # a fresh worker process takes over
    assert pool_mod.shared_worker("process") is not worker
    wait_done(pool, [8])
    assert same_world(pool.get(8), new_game(8)) and pool.hits == 1
    pool.close()


def test_env_prefetches_the_next_episode_world():
    env = make_env(seed=500, prefetch="thread", max_steps=200)
    env.reset()  # the first world was queued when the env was made
    assert env._pool.hits == 1
    wait_done(env._pool, [500 + SEED_STRIDE])
    env.reset()  # no seed: the env's own schedule, base + stride per episode
    assert env.seed == 500 + SEED_STRIDE and env._pool.hits == 2
    env.reset(seed=9)  # a caller with its own seeds: a miss, then its stride is learned
    env.reset(seed=19)
    assert env._pool.misses == 2
    wait_done(env._pool, [29])
    env.reset(seed=29)
    assert env._pool.hits == 3
    env.close()
