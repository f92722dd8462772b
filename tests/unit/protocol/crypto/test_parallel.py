"""Process and thread pools: splitting, ordering, error propagation, inline mode."""

from __future__ import annotations

import math
import os

import pytest

from protocol.crypto import paillier as he
from protocol.crypto import parallel
from protocol.crypto.paillier_keys import PaillierPrivateKey, PaillierPublicKey
from protocol.crypto.wire import vector_from_bytes, vector_to_bytes


def test_split_ranges_covers_every_item_once_if_sizes_do_not_divide():
    # Execute
    ranges = parallel.split_ranges(10, 3)

    # Assert
    assert ranges == [(0, 3), (3, 6), (6, 10)]
    assert parallel.split_ranges(5, 8, min_size=2) == [(0, 2), (2, 5)]
    assert parallel.split_ranges(0, 4) == []


def test_process_pool_keeps_task_order_if_tasks_finish_out_of_order():
    # Prepare
    pool = parallel.ProcessPool(2)
    try:
        # Execute
        results = pool.map(math.factorial, [(n,) for n in (2000, 1, 500, 3)])
        broadcast = pool.broadcast(math.gcd, (12, 18))
    finally:
        pool.close()

    # Assert
    assert results == [math.factorial(n) for n in (2000, 1, 500, 3)]
    assert broadcast == [6, 6]


def test_process_pool_raises_worker_error_with_the_cause_if_a_task_fails():
    # Prepare
    pool = parallel.ProcessPool(2)
    try:
        # Execute / Assert
        with pytest.raises(parallel.WorkerError, match="^ValueError: math domain"):
            pool.map(math.sqrt, [(4.0,), (-1.0,), (9.0,)])
        # the pool stays usable after a failed task
        assert pool.map(math.sqrt, [(4.0,), (9.0,)]) == [2.0, 3.0]
    finally:
        pool.close()


def test_process_pool_marks_itself_broken_if_a_worker_dies():
    # Prepare
    pool = parallel.ProcessPool(2)
    try:
        # Execute / Assert: a worker exiting mid-task cannot be trusted to reply again
        with pytest.raises(
            parallel.WorkerError, match="^a crypto worker process died$"
        ):
            pool.map(os._exit, [(3,)])
        assert pool.broken
    finally:
        pool.close()


def test_inline_mode_gives_the_same_results_if_one_worker_is_configured(
    public_key: PaillierPublicKey, private_key: PaillierPrivateKey
):
    # Prepare
    previous = parallel.worker_count()
    parallel.set_worker_count(1)
    try:
        # Execute
        vec = he.encrypt_vector(public_key, list(range(-20, 20)))
        summed = he.rerandomize(he.sum_all(vec))
        received = vector_from_bytes(vector_to_bytes(summed), public_key)
        decrypted = he.decrypt_ints(private_key, received)
    finally:
        parallel.set_worker_count(previous)

    # Assert
    assert decrypted == [-20]
