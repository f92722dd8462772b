"""Split-NN models: specs validated with clear errors, FedBCD rounds, persistence."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.split_nn import (
    BankTop,
    CentralModel,
    OperatorBottom,
    Optimizer,
    SplitNnSpec,
    SplitNnSpecError,
    TrainHyper,
    build_bank_models,
    build_operator_bottom,
    check_matrix,
    check_order,
)

SPEC = SplitNnSpec(bank_features=5, operator_features=4, embedding=3)


def _data(rows: int = 64, seed: int = 0) -> tuple[torch.Tensor, ...]:
    rng = np.random.default_rng(seed)
    bank_x = torch.from_numpy(rng.standard_normal((rows, 5)).astype(np.float32))
    operator_x = torch.from_numpy(rng.standard_normal((rows, 4)).astype(np.float32))
    labels = torch.from_numpy((rng.random(rows) < 0.3).astype(np.float32))
    return bank_x, operator_x, labels


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (
            {"operator_features": 0},
            "operator_features: must be between 1 and 4096, got 0",
        ),
        ({"embedding": 0}, "embedding: must be between 1 and 1024, got 0"),
        ({"operator_hidden": (32, 0)}, "operator_hidden: layer width must be between"),
        ({"top_hidden": (8,) * 5}, "top_hidden: at most 4 hidden layers, got 5"),
        (
            {"activation": "swish"},
            "activation: unknown 'swish' (known: relu, tanh, gelu)",
        ),
        (
            {"bank_features": 0},
            "bank_hidden: the bank has no features, so it has no bottom model",
        ),
        ({"bank_features": 2.5}, "bank_features: must be an integer, got 2.5"),
    ],
)
def test_spec_refuses_with_named_field_if_invalid(
    kwargs: dict[str, object], message: str
) -> None:
    # Prepare
    fields: dict[str, object] = {"bank_features": 5, "operator_features": 4} | kwargs

    # Execute / Assert
    with pytest.raises(SplitNnSpecError) as err:
        SplitNnSpec(**fields)  # type: ignore[arg-type]
    assert message in str(err.value)


def test_hyper_refuses_with_named_field_if_invalid() -> None:
    # Execute / Assert
    with pytest.raises(SplitNnSpecError, match=r"^rounds: must be between 1 and 1000"):
        TrainHyper(rounds=0)
    with pytest.raises(SplitNnSpecError, match=r"^optimizer: unknown 'rmsprop'"):
        TrainHyper(optimizer="rmsprop")  # type: ignore[arg-type]


def test_models_have_the_spec_shapes_if_built() -> None:
    # Prepare
    spec = SplitNnSpec(
        bank_features=5,
        operator_features=4,
        embedding=3,
        operator_hidden=(7, 6),
        bank_hidden=(9,),
        top_hidden=(11,),
    )
    bank_x, operator_x, _ = _data(10)

    # Execute
    bottom = build_operator_bottom(spec, seed=1)
    bank_bottom, top = build_bank_models(spec, seed=2)
    embedding = bottom(operator_x)
    logits = top(torch.cat([bank_bottom(bank_x), embedding], dim=1))

    # Assert
    assert embedding.shape == (10, 3)
    assert logits.shape == (10, 1)
    assert [m.in_features for m in bottom if isinstance(m, torch.nn.Linear)] == [
        4,
        7,
        6,
    ]
    assert top[0].in_features == 9 + 3


def test_bank_features_enter_top_as_they_are_if_no_bank_hidden() -> None:
    # Prepare
    spec = SplitNnSpec(
        bank_features=5, operator_features=4, embedding=3, bank_hidden=()
    )

    # Execute
    bank_bottom, top = build_bank_models(spec, seed=0)

    # Assert
    assert len(bank_bottom) == 0
    assert top[0].in_features == 5 + 3


def test_check_matrix_names_the_expected_columns_if_shape_differs() -> None:
    # Execute / Assert
    with pytest.raises(SplitNnSpecError) as err:
        check_matrix(np.zeros((6, 9)), 10, "operator features")
    assert str(err.value) == (
        "operator features: expected a matrix with 10 columns (the job's spec),"
        " got shape (6, 9)"
    )


def test_check_matrix_names_row_and_column_if_not_finite() -> None:
    # Prepare
    values = np.zeros((4, 3))
    values[2, 1] = np.nan
    values[3, 0] = np.inf

    # Execute / Assert
    with pytest.raises(SplitNnSpecError) as err:
        check_matrix(values, 3, "bank features")
    assert str(err.value) == (
        "bank features: non-finite value at row 2, column 1 (2 such values)"
    )


def test_check_order_refuses_if_not_a_permutation() -> None:
    # Execute / Assert
    with pytest.raises(
        SplitNnSpecError, match="order: is not a permutation of the 3 rows"
    ):
        check_order(np.array([0, 1, 1]), 3)
    with pytest.raises(SplitNnSpecError, match="order: expected 3 integer row indices"):
        check_order(np.array([0.0, 1.0, 2.0]), 3)


def test_bank_round_refuses_if_embeddings_do_not_match_spec() -> None:
    # Prepare
    bank_x, _, labels = _data(8)
    bank = BankTop(SPEC, TrainHyper(), seed=0)

    # Execute / Assert
    with pytest.raises(
        SplitNnSpecError, match="operator embeddings: expected a matrix"
    ):
        bank.train_round(bank_x, np.zeros((8, 4)), labels, np.arange(8), 0)
    with pytest.raises(SplitNnSpecError, match="operator embeddings: expected 8 rows"):
        bank.train_round(bank_x, np.zeros((7, 3)), labels, np.arange(8), 0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_round_equals_central_gradient_step_if_one_batch_and_one_local_step(
    optimizer: str,
) -> None:
    # Prepare
    hyper = TrainHyper(
        rounds=1,
        batch_size=64,
        learning_rate=0.1,
        bank_local_epochs=1,
        operator_local_epochs=1,
        optimizer=optimizer,  # type: ignore[arg-type]
    )
    bank_x, operator_x, labels = _data(64)
    order = np.random.default_rng(3).permutation(64)
    operator = OperatorBottom(SPEC, hyper, seed=11)
    bank = BankTop(SPEC, hyper, seed=12)
    central = CentralModel(SPEC, hyper, seed=12, operator_seed=11)

    # Execute
    embeddings = operator.embed(operator_x)
    result = bank.train_round(bank_x, embeddings, labels, order, round_index=0)
    operator.apply_gradients(operator_x, result.gradients, order, round_index=0)
    central.train_epoch(bank_x, operator_x, labels, order, hyper.learning_rate_at(0))

    # Assert
    pairs = [
        (operator.model, central.operator),
        (bank.bottom, central.bottom),
        (bank.top, central.top),
    ]
    for split_part, central_part in pairs:
        for a, b in zip(
            split_part.parameters(), central_part.parameters(), strict=True
        ):
            torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_gradients_are_per_row_and_independent_of_batching_if_sgd_lr_zero() -> None:
    # Prepare: with a zero learning rate nothing moves, so batching is the only change
    hyper_small = TrainHyper(batch_size=5, learning_rate=1e-12, optimizer="sgd")
    hyper_large = TrainHyper(batch_size=64, learning_rate=1e-12, optimizer="sgd")
    bank_x, operator_x, labels = _data(64)
    embeddings = OperatorBottom(SPEC, hyper_small, seed=1).embed(operator_x)
    order = np.arange(64)

    # Execute
    small = BankTop(SPEC, hyper_small, seed=2).train_round(
        bank_x, embeddings, labels, order, 0
    )
    large = BankTop(SPEC, hyper_large, seed=2).train_round(
        bank_x, embeddings, labels, order, 0
    )

    # Assert
    np.testing.assert_allclose(small.gradients, large.gradients, rtol=1e-4, atol=1e-7)


def test_operator_state_round_trips_if_saved_between_messages() -> None:
    # Prepare
    hyper = TrainHyper(batch_size=16, optimizer="adam")
    _, operator_x, _ = _data(64)
    gradients = np.random.default_rng(5).standard_normal((64, 3)).astype(np.float32)
    order = np.random.default_rng(6).permutation(64)
    kept = OperatorBottom(SPEC, hyper, seed=4)
    kept.apply_gradients(operator_x, gradients, order, 0)
    restored = OperatorBottom.from_arrays(SPEC, hyper, kept.to_arrays())

    # Execute
    kept.apply_gradients(operator_x, gradients, order, 1)
    restored.apply_gradients(operator_x, gradients, order, 1)

    # Assert
    np.testing.assert_array_equal(kept.embed(operator_x), restored.embed(operator_x))


def test_saved_state_is_refused_if_spec_differs() -> None:
    # Prepare
    arrays = OperatorBottom(SPEC, TrainHyper(), seed=0).to_arrays()
    other = SplitNnSpec(bank_features=5, operator_features=4, embedding=5)

    # Execute / Assert
    with pytest.raises(
        SplitNnSpecError, match="saved weight bottom.2.weight has shape"
    ):
        OperatorBottom.from_arrays(other, TrainHyper(), arrays)


def test_bank_state_round_trips_if_saved_and_loaded() -> None:
    # Prepare
    bank_x, operator_x, labels = _data(32)
    bank = BankTop(SPEC, TrainHyper(), seed=3)
    embeddings = OperatorBottom(SPEC, TrainHyper(), seed=1).embed(operator_x)
    bank.train_round(bank_x, embeddings, labels, np.arange(32), 0)

    # Execute
    loaded = BankTop.from_arrays(SPEC, TrainHyper(), bank.to_arrays())

    # Assert
    np.testing.assert_array_equal(
        bank.predict(bank_x, embeddings), loaded.predict(bank_x, embeddings)
    )


def test_learning_rate_decays_on_cosine_to_floor_if_decay_on() -> None:
    # Prepare
    hyper = TrainHyper(rounds=4, learning_rate=1.0, lr_floor=0.1)

    # Execute
    rates = [hyper.learning_rate_at(r) for r in range(4)]

    # Assert
    assert rates[0] == pytest.approx(1.0)
    assert rates == sorted(rates, reverse=True)
    assert rates[2] == pytest.approx(0.1 + 0.9 * 0.5)


@pytest.mark.parametrize("kind", ["adam", "sgd"])
def test_optimizer_matches_torch_optim_if_same_gradients(kind: str) -> None:
    # Prepare
    torch.manual_seed(0)
    ours = torch.nn.Linear(4, 3)
    reference = torch.nn.Linear(4, 3)
    reference.load_state_dict(ours.state_dict())
    optimizer = Optimizer(list(ours.parameters()), kind, lr=0.05)
    torch_optimizer = (
        torch.optim.Adam(reference.parameters(), lr=0.05)
        if kind == "adam"
        else torch.optim.SGD(reference.parameters(), lr=0.05)
    )
    inputs = torch.randn(16, 4)

    # Execute
    for _ in range(5):
        for model, opt in ((ours, optimizer), (reference, torch_optimizer)):
            opt.zero_grad()
            model(inputs).pow(2).sum().backward()
            opt.step()

    # Assert
    for a, b in zip(ours.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)
