"""The worker functions, the process pool and in-order consumption of results."""

from __future__ import annotations

import threading
from concurrent.futures import Future

import pytest

from protocol.psi.group import BlindingKey, hash_to_group
from protocol.psi.pool import (
    InvalidGroupElement,
    OrderedResults,
    batches,
    blind_phones,
    feed,
    multiply,
    shared_pool,
)


def _done(value: bytes) -> Future[bytes]:
    future: Future[bytes] = Future()
    future.set_result(value)
    return future


def test_pool_blinds_like_direct_computation_if_run_in_workers() -> None:
    # Prepare
    key = BlindingKey.generate()
    phones = b"".join(f"1380013{i:04d}".encode() for i in range(300))
    # Execute
    parts = [shared_pool(2).blind(key, part) for part in batches(phones, 11, 64)]
    blinded = b"".join(f.result() for f in parts)
    # Assert
    assert blinded == blind_phones(key.secret, phones)
    assert blinded[:32] == key.apply(hash_to_group(b"13800130000"))


def test_multiply_raises_invalid_group_element_if_item_low_order() -> None:
    # Prepare
    key = BlindingKey.generate()
    items = key.apply(hash_to_group(b"13800138000")) + bytes(32)
    # Execute
    with pytest.raises(InvalidGroupElement) as info:
        multiply(key.secret, items)
    # Assert
    assert str(info.value) == "item 1 of a batch is a low-order point"


def test_ordered_results_yields_in_order_if_futures_finish_out_of_order() -> None:
    # Prepare
    results = OrderedResults()
    first: Future[bytes] = Future()
    results.append(first)
    results.append(_done(b"second"))
    results.close()
    threading.Timer(0.05, lambda: first.set_result(b"first")).start()
    # Execute
    seen = list(results)
    # Assert
    assert seen == [b"first", b"second"]


def test_ordered_results_waits_for_producer_if_consumer_starts_first() -> None:
    # Prepare
    results = OrderedResults()

    def produce() -> None:
        for part in (b"a", b"b", b"c"):
            results.append(_done(part))
        results.close()

    threading.Timer(0.05, produce).start()
    # Execute
    seen = list(results)
    # Assert
    assert seen == [b"a", b"b", b"c"]


def test_ordered_results_raises_producer_error_if_failed() -> None:
    # Prepare
    results = OrderedResults()
    results.append(_done(b"a"))
    results.fail(RuntimeError("upload broke"))
    # Execute
    with pytest.raises(RuntimeError) as info:
        list(results)
    # Assert
    assert str(info.value) == "upload broke"


def test_ordered_results_stops_quietly_if_consumer_not_alive() -> None:
    # Prepare
    results = OrderedResults()
    results.append(_done(b"a"))
    # Execute
    seen = list(results.iterate(lambda: False, poll_s=0.01))
    # Assert
    assert seen == [b"a"]


def test_feed_stays_within_capacity_if_consumer_is_slower() -> None:
    # Prepare
    submitted: list[int] = []
    taken: list[int] = []
    outstanding: list[int] = []

    def submit(part: bytes) -> Future[bytes]:
        submitted.append(1)
        outstanding.append(len(submitted) - len(taken))
        return _done(part)

    parts = [bytes([i]) for i in range(50)]
    # Execute
    results = feed(submit, parts, capacity=4)
    for _ in results.drain():
        taken.append(1)
    # Assert
    assert len(taken) == 50
    assert max(outstanding) <= 4 + 1  # the one being handed over may count twice


def test_drain_refused_if_results_already_drained() -> None:
    # Prepare
    results = feed(_done, [b"a", b"b"], capacity=8)
    assert list(results.drain()) == [b"a", b"b"]
    # Execute
    with pytest.raises(RuntimeError) as info:
        list(results.drain())
    # Assert
    assert str(info.value) == "these results were already drained"


def test_feed_stops_and_consumer_fails_if_cancelled() -> None:
    # Prepare
    pending: Future[bytes] = Future()
    results = feed(lambda part: pending, (bytes([i]) for i in range(1000)), 2)
    # Execute
    results.cancel(RuntimeError("session abandoned"))
    with pytest.raises(RuntimeError) as info:
        list(results.drain())
    # Assert
    assert str(info.value) == "session abandoned"
    assert pending.cancelled()
