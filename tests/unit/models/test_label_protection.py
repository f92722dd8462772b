"""Label protection: Marvell noise, the norm and direction attacks, the leak meter."""

from __future__ import annotations

import numpy as np
import pytest

from models.label_protection import (
    DefenceSpec,
    LeakMeter,
    NoiseCovariance,
    direction_attack_auc,
    even_batches,
    leak,
    marvell_covariance,
    norm_attack_auc,
    protect,
    sum_kl,
)


def _split_gradients(
    rows: int = 4096, dims: int = 8, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Gradients shaped like a split network's: (p - y) * J_i.

    J_i = a shared direction + a second direction on the rows where a hidden unit of
    the top model is active (it depends on the row's logit, hence on its label) + small
    noise, so the components across the class-mean gap also flip sign with the label.
    """
    rng = np.random.default_rng(seed)
    labels = (rng.random(rows) < 0.22).astype(np.int64)
    logits = rng.normal(-1.3 + 1.2 * labels, 0.8)
    residual = 1.0 / (1.0 + np.exp(-logits)) - labels
    shared, gated = rng.normal(0.0, 1.0, (2, dims))
    gate = (logits > -1.0)[:, None].astype(np.float64)
    jacobian = shared + gate * gated + rng.normal(0.0, 0.05, (rows, dims))
    return (residual[:, None] * jacobian).astype(np.float32), labels


def _power(cov: NoiseCovariance, dims: int, p: float) -> float:
    return p * (cov.positive_along + (dims - 1) * cov.positive_across) + (1 - p) * (
        cov.negative_along + (dims - 1) * cov.negative_across
    )


def test_leak_counts_an_inverted_signal_if_auc_below_half() -> None:
    # Execute / Assert
    assert leak(0.08) == pytest.approx(0.92)
    assert leak(0.5) == 0.5


def test_both_attacks_recover_labels_if_undefended() -> None:
    # Prepare
    gradients, labels = _split_gradients()

    # Execute
    norm = leak(norm_attack_auc(gradients, labels))
    direction = leak(direction_attack_auc(gradients, labels))

    # Assert
    assert norm > 0.85
    assert direction > 0.99


def test_max_norm_clipping_is_no_defence_if_direction_kept() -> None:
    # Prepare: clip every row to the smallest norm, as a max-norm "defence" would
    gradients, labels = _split_gradients()
    norms = np.linalg.norm(gradients, axis=1, keepdims=True)
    clipped = gradients * (norms.min() / norms)

    # Execute
    direction = leak(direction_attack_auc(clipped, labels))

    # Assert
    assert direction > 0.99


def test_marvell_covariance_spends_at_most_the_power_budget() -> None:
    # Prepare
    u, v, dims, gap2, p = 3e-4, 3e-4, 8, 1e-2, 0.22

    # Execute
    cov = marvell_covariance(u, v, dims, gap2, p, power=32 * gap2)

    # Assert
    assert _power(cov, dims, p) <= 32 * gap2 * (1 + 1e-6)
    assert cov.positive_along >= cov.positive_across >= 0
    assert cov.negative_along >= cov.negative_across >= 0


def test_marvell_sum_kl_decreases_if_budget_grows() -> None:
    # Prepare
    u, v, dims, gap2, p = 2e-4, 5e-4, 8, 1e-2, 0.22

    # Execute
    kls = [
        sum_kl(marvell_covariance(u, v, dims, gap2, p, s * gap2), u, v, dims, gap2)
        for s in (0.5, 4, 32)
    ]
    undefended = sum_kl(NoiseCovariance(0, 0, 0, 0), u, v, dims, gap2)

    # Assert
    assert undefended > kls[0] > kls[1] > kls[2]


def test_protect_returns_gradients_unchanged_if_defence_off() -> None:
    # Prepare
    gradients, labels = _split_gradients(256)

    # Execute
    sent = protect(
        gradients,
        labels,
        np.arange(256),
        DefenceSpec(kind="none"),
        np.random.default_rng(0),
    )

    # Assert
    np.testing.assert_array_equal(sent, gradients)


def test_protect_brings_both_attacks_near_chance_if_marvell_on() -> None:
    # Prepare
    gradients, labels = _split_gradients(8192)
    order = np.random.default_rng(1).permutation(8192)

    # Execute
    sent = protect(gradients, labels, order, DefenceSpec(), np.random.default_rng(2))
    meter = LeakMeter(labels, batch_size=4096)
    meter.add_round(sent, order)

    # Assert
    report = meter.report()
    assert report["norm_attack_auc"] < 0.58
    assert report["direction_attack_auc"] < 0.58


def test_protect_hides_the_across_components_if_floor_on() -> None:
    # Prepare: project out the noise direction, as an attacker can without labels
    gradients, labels = _split_gradients(8192)
    order = np.arange(8192)
    rng = np.random.default_rng(3)

    def across_leak(sent: np.ndarray) -> float:
        gap = sent[labels == 1].mean(0) - sent[labels == 0].mean(0)
        unit = gap / np.linalg.norm(gap)
        projected = sent - np.outer(sent @ unit, unit)
        return leak(direction_attack_auc(projected, labels))

    # Execute
    no_floor = protect(gradients, labels, order, DefenceSpec(across_floor=0.0), rng)
    floor = protect(gradients, labels, order, DefenceSpec(), rng)

    # Assert
    assert across_leak(no_floor) > 0.65
    assert across_leak(floor) < 0.58


def test_protect_refuses_if_training_rows_have_one_class() -> None:
    # Prepare
    gradients, _ = _split_gradients(64)

    # Execute / Assert
    with pytest.raises(ValueError, match="at least 2 training rows of each class"):
        protect(
            gradients,
            np.zeros(64, dtype=np.int64),
            np.arange(64),
            DefenceSpec(),
            np.random.default_rng(0),
        )


def test_averaged_norm_attack_sees_through_fresh_noise_if_not_class_dependent() -> None:
    # Prepare: label-independent noise on the norms, fresh every round
    gradients, labels = _split_gradients(4096)
    rng = np.random.default_rng(4)
    meter = LeakMeter(labels, batch_size=4096)
    order = np.arange(4096)

    # Execute
    for _ in range(30):
        noisy = gradients + rng.normal(0, 0.5, gradients.shape).astype(np.float32)
        meter.add_round(noisy, order)
    report = meter.report()

    # Assert
    averaged = report["norm_attack_auc_averaged_rounds"]
    assert report["norm_attack_auc_per_batch"] < averaged
    assert report["norm_attack_auc"] == averaged
    assert len(report["per_round"]) == 30


def test_defence_spec_refuses_if_unknown_kind() -> None:
    # Execute / Assert
    with pytest.raises(ValueError, match="defence: unknown kind 'maxnorm'"):
        DefenceSpec(kind="maxnorm")  # type: ignore[arg-type]


def test_protect_gives_both_classes_the_same_expected_norm_if_marvell_on() -> None:
    # Prepare
    gradients, labels = _split_gradients(4096)
    rng = np.random.default_rng(5)
    order = np.arange(4096)

    # Execute: average the squared norms over many draws of the noise
    squared = np.mean(
        [
            (protect(gradients, labels, order, DefenceSpec(), rng) ** 2).sum(axis=1)
            for _ in range(40)
        ],
        axis=0,
    )

    # Assert
    raw = (gradients**2).sum(axis=1)
    assert raw[labels == 1].mean() > 2 * raw[labels == 0].mean()
    assert squared[labels == 1].mean() == pytest.approx(
        squared[labels == 0].mean(), rel=0.03
    )


def test_even_batches_leave_no_short_remainder_if_rows_do_not_divide() -> None:
    # Execute
    batches = even_batches(np.arange(21000), 4096)

    # Assert
    assert [len(b) for b in batches] == [4200] * 5
    assert np.array_equal(np.concatenate(batches), np.arange(21000))
