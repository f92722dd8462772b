"""Split-NN parties in process: the bank's driver against the operator's handler.

Every request and reply goes through the Flower record serde, as on the wire.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from flwr.app import RecordDict

from models.label_protection import DefenceSpec
from models.split_nn import SplitNnSpec, TrainHyper
from protocol.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from protocol.split_nn.bank import BankData, BankDriver
from protocol.split_nn.messages import (
    PHASE_INIT,
    PHASE_UPDATE,
    EmbeddingReply,
    EmbeddingRequest,
    SplitNnRun,
)
from protocol.split_nn.party import (
    OPERATOR_FEATURES_FILE,
    OPERATOR_MODEL_FILE,
    OperatorJobStore,
    OperatorLimits,
    OperatorState,
    operator_round,
)
from protocol.split_nn.records import (
    reply_from_record,
    reply_to_record,
    request_from_record,
    request_to_record,
    run_from_config,
    run_to_config,
)

JOB = "0123456789abcdef0123456789abcdef"


def _run(rounds: int = 3, defence: str = "marvell") -> SplitNnRun:
    return SplitNnRun(
        job_id=JOB,
        spec=SplitNnSpec(bank_features=3, operator_features=4, embedding=2),
        hyper=TrainHyper(rounds=rounds, batch_size=64, learning_rate=0.01),
        defence=DefenceSpec(kind=defence, batch_size=128),  # type: ignore[arg-type]
        seed=5,
        operator_node_id=123,
        bank_job_dir="/nonexistent",
        round_timeout_s=30.0,
    )


def _world(tmp_path: Path, rows: int = 400) -> tuple[BankData, OperatorJobStore]:
    rng = np.random.default_rng(0)
    operator_x = rng.standard_normal((rows, 4)).astype(np.float32)
    bank_x = rng.standard_normal((rows, 3)).astype(np.float32)
    logit = 1.5 * operator_x[:, 0] - operator_x[:, 1] + bank_x[:, 0] - 1.0
    labels = (rng.random(rows) < 1 / (1 + np.exp(-logit))).astype(np.int64)
    validation = np.zeros(rows, dtype=bool)
    validation[rng.permutation(rows)[: rows // 4]] = True
    store = OperatorJobStore(tmp_path / "operator", JOB)
    store.root.mkdir(parents=True)
    np.save(store.root / OPERATOR_FEATURES_FILE, operator_x)
    return BankData(bank_x, labels, validation), store


class WireOperator:
    """The operator's handler behind the Flower record serde; keeps state."""

    def __init__(self, run: SplitNnRun, store: OperatorJobStore) -> None:
        self.run = run
        self.store = store
        self.state: OperatorState | None = None
        self.seen: list[RecordDict] = []

    def __call__(self, request: EmbeddingRequest) -> EmbeddingReply:
        record = request_to_record(request)
        self.seen.append(record)
        reply, self.state = operator_round(
            self.run,
            run_id=77,
            request=request_from_record(record),
            state=self.state,
            store=self.store,
            limits=OperatorLimits(),
        )
        return reply_from_record(reply_to_record(reply))


def _driver(run: SplitNnRun, data: BankData, operator: WireOperator) -> BankDriver:
    return BankDriver(
        run,
        data,
        operator,
        model_rng=np.random.default_rng(1),
        noise_rng=np.random.default_rng(),
    )


def test_run_config_round_trips_if_valid() -> None:
    # Prepare
    run = _run()

    # Execute
    parsed = run_from_config(run_to_config(run))

    # Assert
    assert parsed == run


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("job-id", "../../etc", "run config job-id: must be 32 lowercase hex"),
        ("rounds", "3", "run config rounds: expected int, got str"),
        ("operator-hidden", "32,x", "run config operator-hidden: expected comma-sep"),
        ("embedding", 0, "run config: embedding: must be between 1 and 1024, got 0"),
        ("defence", "maxnorm", "run config: defence: unknown kind 'maxnorm'"),
        ("round-timeout", 0.0, "run config round-timeout: must be between 1 and 3600"),
    ],
)
def test_run_config_refuses_with_named_key_if_invalid(
    key: str, value: object, message: str
) -> None:
    # Prepare
    config = run_to_config(_run()) | {key: value}

    # Execute / Assert
    with pytest.raises(InvalidArgument) as err:
        run_from_config(config)
    assert str(err.value).startswith(message)


def test_request_refuses_if_gradients_are_not_float() -> None:
    # Prepare
    record = request_to_record(
        EmbeddingRequest(
            1,
            PHASE_UPDATE,
            gradients=np.zeros((4, 2), dtype=np.int64),
            order=np.arange(4),
        )
    )

    # Execute / Assert
    with pytest.raises(InvalidArgument, match="array 'gradients' must be 2-D of kind"):
        request_from_record(record)


def test_training_learns_and_operator_saves_its_model_if_run_completes(
    tmp_path: Path,
) -> None:
    # Prepare
    run = _run(rounds=4)
    data, store = _world(tmp_path)
    operator = WireOperator(run, store)

    # Execute
    result = _driver(run, data, operator).train()

    # Assert: the defence's noise is fresh per run, so the AUC varies (0.741-0.856
    # over 100 runs; 9 of them below 0.75); chance is 0.5.
    assert result.validation_auc > 0.7
    assert [r["round"] for r in result.rounds] == [1, 2, 3, 4]
    assert operator.state is not None and operator.state.finished
    assert (store.root / OPERATOR_MODEL_FILE).is_file()
    assert result.leak["rounds"] == 4


def test_operator_receives_only_positions_gradients_and_order_if_training(
    tmp_path: Path,
) -> None:
    # Prepare
    run = _run(rounds=2)
    data, store = _world(tmp_path)
    operator = WireOperator(run, store)

    # Execute
    _driver(run, data, operator).train()

    # Assert: no label, bank feature or score reaches the operator
    keys = [set(r.array_records["arrays"].keys()) for r in operator.seen]
    assert keys[0] == {"train-positions", "validation-positions"}
    assert all(k == {"gradients", "order"} for k in keys[1:])
    configs = [dict(r.config_records["config"]) for r in operator.seen]
    assert all(set(c) == {"round", "phase"} for c in configs)
    for record in operator.seen[1:]:
        gradients = record.array_records["arrays"]["gradients"].numpy()
        assert gradients.shape == (int((~data.validation).sum()), 2)


def test_defence_noise_differs_between_runs_if_run_config_is_the_same(
    tmp_path: Path,
) -> None:
    # Prepare: the operator knows the run config, so it must not fix the noise
    run = _run(rounds=1)
    sent = []
    for attempt in range(2):
        data, store = _world(tmp_path / str(attempt))
        operator = WireOperator(run, store)

        # Execute
        _driver(run, data, operator).train()
        sent.append(operator.seen[1].array_records["arrays"]["gradients"].numpy())

    # Assert
    assert not np.allclose(sent[0], sent[1])


def test_operator_refuses_to_reinitialize_if_state_exists(tmp_path: Path) -> None:
    # Prepare
    run = _run()
    data, store = _world(tmp_path)
    operator = WireOperator(run, store)
    init = EmbeddingRequest(
        0,
        PHASE_INIT,
        train_positions=np.flatnonzero(~data.validation),
        validation_positions=np.flatnonzero(data.validation),
    )
    operator(init)

    # Execute / Assert
    with pytest.raises(FailedPrecondition, match="never re-initialized"):
        operator(init)
    operator.state = None  # a lost context: the job's claim still stands
    with pytest.raises(FailedPrecondition, match="state of this run was lost"):
        operator(init)


def test_operator_refuses_a_second_run_of_the_same_job(tmp_path: Path) -> None:
    # Prepare
    run = _run()
    data, store = _world(tmp_path)
    store.claim(run_id=1)
    init = EmbeddingRequest(
        0,
        PHASE_INIT,
        train_positions=np.flatnonzero(~data.validation),
        validation_positions=np.flatnonzero(data.validation),
    )

    # Execute / Assert
    with pytest.raises(PermissionDenied, match="already trained in another run"):
        operator_round(run, 2, init, None, store, OperatorLimits())


def test_operator_refuses_if_rounds_arrive_out_of_order(tmp_path: Path) -> None:
    # Prepare
    run = _run()
    data, store = _world(tmp_path)
    operator = WireOperator(run, store)
    train = np.flatnonzero(~data.validation)
    operator(
        EmbeddingRequest(
            0,
            PHASE_INIT,
            train_positions=train,
            validation_positions=np.flatnonzero(data.validation),
        )
    )
    skip = EmbeddingRequest(
        2,
        PHASE_UPDATE,
        gradients=np.zeros((len(train), 2), dtype=np.float32),
        order=np.arange(len(train)),
    )

    # Execute / Assert
    with pytest.raises(FailedPrecondition, match="expected round 1, got 2"):
        operator(skip)


def test_operator_refuses_if_run_exceeds_its_round_limit(tmp_path: Path) -> None:
    # Prepare
    run = _run(rounds=10)
    data, store = _world(tmp_path)
    init = EmbeddingRequest(
        0,
        PHASE_INIT,
        train_positions=np.flatnonzero(~data.validation),
        validation_positions=np.flatnonzero(data.validation),
    )

    # Execute / Assert
    with pytest.raises(PermissionDenied, match="at most 5 rounds per job"):
        operator_round(run, 1, init, None, store, OperatorLimits(max_rounds=5))


def test_operator_refuses_positions_outside_its_aligned_rows(tmp_path: Path) -> None:
    # Prepare
    run = _run()
    _, store = _world(tmp_path, rows=100)
    init = EmbeddingRequest(
        0,
        PHASE_INIT,
        train_positions=np.arange(50, 101),
        validation_positions=np.arange(10),
    )

    # Execute / Assert
    with pytest.raises(InvalidArgument, match="positions must be between 0 and 99"):
        operator_round(run, 1, init, None, store, OperatorLimits())


def test_operator_refuses_if_job_has_no_features(tmp_path: Path) -> None:
    # Prepare
    run = _run()
    store = OperatorJobStore(tmp_path, JOB)
    init = EmbeddingRequest(
        0, PHASE_INIT, train_positions=np.arange(5), validation_positions=np.arange(0)
    )

    # Execute / Assert
    with pytest.raises(FailedPrecondition, match="no aligned features for this job"):
        operator_round(run, 1, init, None, store, OperatorLimits())


def test_bank_data_names_the_file_if_columns_differ(tmp_path: Path) -> None:
    # Prepare
    data, _ = _world(tmp_path)
    data.save(tmp_path / "bank")

    # Execute / Assert
    with pytest.raises(InvalidArgument) as err:
        BankData.load(tmp_path / "bank", bank_features=5)
    assert str(err.value) == (
        "bank features (bank_data.npz): expected a matrix with 5 columns"
        " (the job's spec), got shape (400, 3)"
    )


def test_operator_state_survives_flower_context_if_saved_between_messages(
    tmp_path: Path,
) -> None:
    # Prepare: the ClientApp keeps its state in context.state (a Flower RecordDict)
    from protocol.split_nn.client_app import load_state, save_state

    run = _run(rounds=2)
    data, store = _world(tmp_path)
    train = np.flatnonzero(~data.validation)
    _, state = operator_round(
        run,
        5,
        EmbeddingRequest(
            0,
            PHASE_INIT,
            train_positions=train,
            validation_positions=np.flatnonzero(data.validation),
        ),
        None,
        store,
        OperatorLimits(),
    )
    update = EmbeddingRequest(
        1,
        PHASE_UPDATE,
        gradients=np.ones((len(train), 2), dtype=np.float32),
        order=np.arange(len(train)),
    )
    _, state = operator_round(run, 5, update, state, store, OperatorLimits())
    context_state = RecordDict()

    # Execute
    save_state(context_state, state)
    restored = load_state(context_state)

    # Assert
    assert restored is not None
    assert restored.next_round == state.next_round == 2
    assert set(restored.bottom) == set(state.bottom)
    for key, value in state.bottom.items():
        np.testing.assert_array_equal(restored.bottom[key], value)
    np.testing.assert_array_equal(restored.train_positions, train)


def test_bank_data_keeps_its_model_seed_local_if_saved(tmp_path: Path) -> None:
    # Prepare
    data, _ = _world(tmp_path)
    seeded = BankData(data.features, data.labels, data.validation, model_seed=11)

    # Execute
    seeded.save(tmp_path / "bank")
    loaded = BankData.load(tmp_path / "bank", bank_features=3)

    # Assert: the seed lives in the bank's job folder, not in the shared run config
    assert loaded.model_seed == 11
    assert not any("seed" in key and key != "seed" for key in run_to_config(_run()))
