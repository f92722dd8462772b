"""Split neural network math (pure torch, no I/O): both parties' models, FedBCD rounds.

The operator's *bottom* model maps its features to an embedding per row; the bank's
*top* model maps its own features (through an optional bank bottom) and the operator's
embedding to a logit. Training runs in few, large rounds (FedBCD, Liu et al., arXiv
1912.11187): each round the operator sends the embeddings of every training row, the
bank trains its models on them for ``bank_local_epochs`` passes and returns the
gradient of each row's loss with respect to that row's embedding, and the operator
takes ``operator_local_epochs`` passes over the same minibatches with those (stale)
gradients. With one minibatch and one local step on each side a round is exactly one
centralized gradient step on the joint model (tests check it).

Per-row gradients are gradients of that row's own loss (not of the batch mean), so
they do not depend on how rows are batched; each side divides by its batch size.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

import numpy as np
import torch
from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "tanh": nn.Tanh,
    "gelu": nn.GELU,
}
# Bounds on the architecture a job may ask for: the operator runs the bottom model
# next to its raw data and refuses specs outside them (no model of arbitrary size).
MAX_WIDTH = 1024
MAX_DEPTH = 4
MAX_FEATURES = 4096
OPTIMIZERS = ("adam", "sgd")


class SplitNnSpecError(ValueError):
    """A split-NN spec or an input matrix does not fit the job's architecture."""


def _widths(name: str, widths: tuple[int, ...], *, allow_empty: bool) -> None:
    if not allow_empty and not widths:
        raise SplitNnSpecError(f"{name}: needs at least one layer width")
    if len(widths) > MAX_DEPTH:
        raise SplitNnSpecError(
            f"{name}: at most {MAX_DEPTH} hidden layers, got {len(widths)}"
        )
    for width in widths:
        if isinstance(width, bool) or not isinstance(width, int):
            raise SplitNnSpecError(
                f"{name}: layer widths must be integers, got {width!r}"
            )
        if not 1 <= width <= MAX_WIDTH:
            raise SplitNnSpecError(
                f"{name}: layer width must be between 1 and {MAX_WIDTH}, got {width}"
            )


@dataclass(frozen=True)
class SplitNnSpec:
    """The architecture both parties agree on for one job.

    ``operator_hidden`` are the operator bottom's hidden widths, followed by a linear
    layer to ``embedding`` outputs. ``bank_hidden`` are the bank bottom's widths (its
    last width is the bank embedding; empty means the bank's features enter the top
    model as they are). ``top_hidden`` are the top model's hidden widths before the
    single logit.
    """

    bank_features: int
    operator_features: int
    embedding: int = 8
    operator_hidden: tuple[int, ...] = (32,)
    bank_hidden: tuple[int, ...] = (16,)
    top_hidden: tuple[int, ...] = (16,)
    activation: str = "relu"

    def __post_init__(self) -> None:
        for name in ("bank_features", "operator_features", "embedding"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise SplitNnSpecError(f"{name}: must be an integer, got {value!r}")
        if not 0 <= self.bank_features <= MAX_FEATURES:
            raise SplitNnSpecError(
                f"bank_features: must be between 0 and {MAX_FEATURES},"
                f" got {self.bank_features}"
            )
        if not 1 <= self.operator_features <= MAX_FEATURES:
            raise SplitNnSpecError(
                f"operator_features: must be between 1 and {MAX_FEATURES},"
                f" got {self.operator_features}"
            )
        if not 1 <= self.embedding <= MAX_WIDTH:
            raise SplitNnSpecError(
                f"embedding: must be between 1 and {MAX_WIDTH}, got {self.embedding}"
            )
        _widths("operator_hidden", self.operator_hidden, allow_empty=True)
        _widths("bank_hidden", self.bank_hidden, allow_empty=True)
        _widths("top_hidden", self.top_hidden, allow_empty=True)
        if self.bank_hidden and self.bank_features == 0:
            raise SplitNnSpecError(
                "bank_hidden: the bank has no features, so it has no bottom model;"
                " set bank_hidden = []"
            )
        if self.activation not in ACTIVATIONS:
            known = ", ".join(ACTIVATIONS)
            raise SplitNnSpecError(
                f"activation: unknown {self.activation!r} (known: {known})"
            )

    @property
    def bank_width(self) -> int:
        """Width of the bank's part of the top model's input."""
        return self.bank_hidden[-1] if self.bank_hidden else self.bank_features


@dataclass(frozen=True)
class TrainHyper:
    """FedBCD hyperparameters; the learning rate decays on a cosine to ``lr_floor``."""

    rounds: int = 10
    batch_size: int = 512
    learning_rate: float = 2e-3
    bank_local_epochs: int = 2
    operator_local_epochs: int = 1
    optimizer: Literal["adam", "sgd"] = "adam"
    lr_floor: float = 0.1
    decay: bool = True

    def __post_init__(self) -> None:
        checks = (
            ("rounds", 1 <= self.rounds <= 1000, "between 1 and 1000"),
            ("batch_size", 1 <= self.batch_size <= 1_000_000, ">= 1"),
            ("bank_local_epochs", 1 <= self.bank_local_epochs <= 20, "1..20"),
            ("operator_local_epochs", 1 <= self.operator_local_epochs <= 20, "1..20"),
            ("lr_floor", 0.0 <= self.lr_floor <= 1.0, "between 0 and 1"),
        )
        for name, ok, rule in checks:
            if not ok:
                raise SplitNnSpecError(
                    f"{name}: must be {rule}, got {getattr(self, name)}"
                )
        if not (math.isfinite(self.learning_rate) and 0 < self.learning_rate <= 10):
            raise SplitNnSpecError(
                f"learning_rate: must be in (0, 10], got {self.learning_rate}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise SplitNnSpecError(
                f"optimizer: unknown {self.optimizer!r}"
                f" (known: {', '.join(OPTIMIZERS)})"
            )

    def learning_rate_at(self, round_index: int) -> float:
        """Learning rate of round ``round_index`` (0-based)."""
        if not self.decay or self.rounds == 1:
            return self.learning_rate
        cosine = 0.5 * (1.0 + math.cos(math.pi * round_index / self.rounds))
        return self.learning_rate * (self.lr_floor + (1.0 - self.lr_floor) * cosine)


def _mlp(
    inputs: int, hidden: tuple[int, ...], outputs: int | None, activation: str
) -> nn.Sequential:
    layers: list[nn.Module] = []
    width = inputs
    for size in hidden:
        layers += [nn.Linear(width, size), ACTIVATIONS[activation]()]
        width = size
    if outputs is not None:
        layers.append(nn.Linear(width, outputs))
    return nn.Sequential(*layers)


def build_operator_bottom(spec: SplitNnSpec, seed: int) -> nn.Sequential:
    """The operator's bottom model: features -> embedding (linear last layer)."""
    torch.manual_seed(seed)
    return _mlp(
        spec.operator_features, spec.operator_hidden, spec.embedding, spec.activation
    )


def build_bank_models(
    spec: SplitNnSpec, seed: int
) -> tuple[nn.Sequential, nn.Sequential]:
    """The bank's bottom (identity if ``bank_hidden`` is empty) and top models."""
    torch.manual_seed(seed)
    bottom = _mlp(spec.bank_features, spec.bank_hidden, None, spec.activation)
    top = _mlp(spec.bank_width + spec.embedding, spec.top_hidden, 1, spec.activation)
    return bottom, top


def check_matrix(values: np.ndarray, columns: int, what: str) -> torch.Tensor:
    """A float32 tensor of ``values`` after checking it is a finite (rows, columns)."""
    array = np.asarray(values)
    if array.ndim != 2 or array.shape[1] != columns:
        raise SplitNnSpecError(
            f"{what}: expected a matrix with {columns} columns (the job's spec),"
            f" got shape {tuple(array.shape)}"
        )
    if not np.issubdtype(array.dtype, np.number) or np.issubdtype(
        array.dtype, np.complexfloating
    ):
        raise SplitNnSpecError(
            f"{what}: expected real numbers, got dtype {array.dtype}"
        )
    bad = np.argwhere(~np.isfinite(array))
    if bad.size:
        row, column = (int(v) for v in bad[0])
        raise SplitNnSpecError(
            f"{what}: non-finite value at row {row}, column {column}"
            f" ({len(bad)} such values)"
        )
    return torch.from_numpy(np.ascontiguousarray(array, dtype=np.float32))


def check_order(order: np.ndarray, rows: int, what: str = "order") -> np.ndarray:
    """``order`` must be a permutation of 0..rows-1: every training row exactly once."""
    array = np.asarray(order)
    if array.shape != (rows,) or not np.issubdtype(array.dtype, np.integer):
        raise SplitNnSpecError(
            f"{what}: expected {rows} integer row indices, got shape {array.shape}"
            f" and dtype {array.dtype}"
        )
    if rows and not np.array_equal(np.sort(array), np.arange(rows)):
        raise SplitNnSpecError(f"{what}: is not a permutation of the {rows} rows")
    return array.astype(np.int64)


def minibatches(order: np.ndarray, batch_size: int) -> Iterator[np.ndarray]:
    """Consecutive slices of ``order``; the last one may be shorter (no row dropped)."""
    for start in range(0, len(order), batch_size):
        yield order[start : start + batch_size]


# torch.optim.Adam's defaults.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


class Optimizer:
    """Plain SGD or Adam (torch.optim.Adam's update and defaults), state as arrays.

    Written out rather than taken from torch.optim: constructing a torch optimizer
    imports torch._dynamo (about 2 s of CPU), and Flower starts a fresh process for
    every message the operator handles.
    """

    def __init__(self, params: list[nn.Parameter], kind: str, lr: float) -> None:
        self.params = params
        self.kind = kind
        self.lr = lr
        self.steps = 0
        adam = kind == "adam"
        self.first = [torch.zeros_like(p) for p in params] if adam else []
        self.second = [torch.zeros_like(p) for p in params] if adam else []

    def zero_grad(self) -> None:
        for param in self.params:
            param.grad = None

    def step(self) -> None:
        self.steps += 1
        beta1, beta2 = ADAM_BETAS
        with torch.no_grad():
            for index, param in enumerate(self.params):
                grad = param.grad
                if grad is None:
                    continue
                if self.kind == "sgd":
                    param.add_(grad, alpha=-self.lr)
                    continue
                first, second = self.first[index], self.second[index]
                first.mul_(beta1).add_(grad, alpha=1 - beta1)
                second.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
                correction1 = 1 - beta1**self.steps
                correction2 = 1 - beta2**self.steps
                denominator = (second.sqrt() / math.sqrt(correction2)).add_(ADAM_EPS)
                param.addcdiv_(first, denominator, value=-self.lr / correction1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"optimizer.steps": np.array([self.steps], dtype=np.int64)}
        for index, (first, second) in enumerate(
            zip(self.first, self.second, strict=True)
        ):
            arrays[f"optimizer.{index}.first"] = first.numpy().copy()
            arrays[f"optimizer.{index}.second"] = second.numpy().copy()
        return arrays

    def load_arrays(self, arrays: dict[str, np.ndarray]) -> None:
        slots = {k for k in arrays if k.startswith("optimizer.")}
        expected = {"optimizer.steps"} | {
            f"optimizer.{i}.{slot}"
            for i in range(len(self.first))
            for slot in ("first", "second")
        }
        if slots != expected:
            raise SplitNnSpecError("saved optimizer state does not match the model")
        steps = np.asarray(arrays["optimizer.steps"]).reshape(-1)
        if steps.size != 1 or steps.dtype.kind not in "iu" or steps[0] < 0:
            raise SplitNnSpecError("saved optimizer step count is malformed")
        self.steps = int(steps[0])
        for index, param in enumerate(self.params if self.first else []):
            for slot, target in (("first", self.first), ("second", self.second)):
                value = arrays[f"optimizer.{index}.{slot}"]
                if tuple(value.shape) != tuple(param.shape):
                    raise SplitNnSpecError(
                        "saved optimizer state does not match the model"
                    )
                target[index] = torch.from_numpy(np.array(value, dtype=np.float32))


def _optimizer(params: list[nn.Parameter], hyper: TrainHyper) -> Optimizer:
    return Optimizer(params, hyper.optimizer, hyper.learning_rate)


def _set_lr(optimizer: Optimizer, lr: float) -> None:
    optimizer.lr = lr


# ---- persistence: plain arrays (no pickle), keyed by parameter / optimizer slot ----


def state_to_arrays(
    modules: dict[str, nn.Module], optimizer: Optimizer
) -> dict[str, np.ndarray]:
    """Weights and optimizer slots as named numpy arrays."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, module in modules.items():
        for name, tensor in module.state_dict().items():
            arrays[f"{prefix}.{name}"] = tensor.detach().cpu().numpy().copy()
    return arrays | optimizer.to_arrays()


def arrays_to_state(
    arrays: dict[str, np.ndarray],
    modules: dict[str, nn.Module],
    optimizer: Optimizer,
) -> None:
    """Load what :func:`state_to_arrays` wrote; unknown or missing keys are errors."""
    expected = {
        f"{prefix}.{name}"
        for prefix, module in modules.items()
        for name in module.state_dict()
    }
    weight_keys = {k for k in arrays if not k.startswith("optimizer.")}
    if weight_keys != expected:
        missing = sorted(expected - weight_keys)
        extra = sorted(weight_keys - expected)
        raise SplitNnSpecError(
            f"saved model does not match the spec (missing {missing[:3]},"
            f" unexpected {extra[:3]})"
        )
    for prefix, module in modules.items():
        current = module.state_dict()
        loaded = {}
        for name, tensor in current.items():
            value = arrays[f"{prefix}.{name}"]
            if tuple(value.shape) != tuple(tensor.shape):
                raise SplitNnSpecError(
                    f"saved weight {prefix}.{name} has shape {value.shape},"
                    f" the spec needs {tuple(tensor.shape)}"
                )
            loaded[name] = torch.from_numpy(np.array(value, dtype=np.float32))
        module.load_state_dict(loaded)
    optimizer.load_arrays(arrays)


# ---- the two parties ---------------------------------------------------------------


class OperatorBottom:
    """The operator's bottom model and optimizer (its whole training state)."""

    def __init__(self, spec: SplitNnSpec, hyper: TrainHyper, seed: int) -> None:
        self.spec = spec
        self.hyper = hyper
        self.model = build_operator_bottom(spec, seed)
        self.optimizer = _optimizer(list(self.model.parameters()), hyper)

    def embed(self, features: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.model(features).numpy()

    def apply_gradients(
        self,
        features: torch.Tensor,
        gradients: np.ndarray,
        order: np.ndarray,
        round_index: int,
    ) -> None:
        """Local passes over the bank's minibatches with the round's per-row gradients.

        ``features`` and ``gradients`` are aligned on the training rows; ``order`` is
        the round's permutation of them (the bank's minibatches in its order).
        """
        rows = features.shape[0]
        grads = check_matrix(gradients, self.spec.embedding, "embedding gradients")
        if grads.shape[0] != rows:
            raise SplitNnSpecError(
                f"embedding gradients: expected {rows} rows, got {grads.shape[0]}"
            )
        order = check_order(order, rows)
        _set_lr(self.optimizer, self.hyper.learning_rate_at(round_index))
        for _ in range(self.hyper.operator_local_epochs):
            for batch in minibatches(order, self.hyper.batch_size):
                index = torch.from_numpy(batch)
                self.optimizer.zero_grad()
                out = self.model(features[index])
                # d/dθ of sum_i <f(x_i), g_i> / b is the mean over the batch of the
                # chain rule with the bank's per-row gradients g_i.
                (out * grads[index]).sum().div(len(batch)).backward()
                self.optimizer.step()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return state_to_arrays({"bottom": self.model}, self.optimizer)

    @classmethod
    def from_arrays(
        cls, spec: SplitNnSpec, hyper: TrainHyper, arrays: dict[str, np.ndarray]
    ) -> OperatorBottom:
        party = cls(spec, hyper, seed=0)
        arrays_to_state(arrays, {"bottom": party.model}, party.optimizer)
        return party


@dataclass(frozen=True)
class BankRound:
    """What one bank round produced: per-row embedding gradients and the loss."""

    gradients: np.ndarray  # (n_train, embedding) float32, per-row loss gradients
    train_loss: float  # mean BCE over the last local pass


class BankTop:
    """The bank's bottom and top models and their optimizer."""

    def __init__(self, spec: SplitNnSpec, hyper: TrainHyper, seed: int) -> None:
        self.spec = spec
        self.hyper = hyper
        self.bottom, self.top = build_bank_models(spec, seed)
        params = [*self.bottom.parameters(), *self.top.parameters()]
        self.optimizer = _optimizer(params, hyper)
        self.loss = nn.BCEWithLogitsLoss()

    def logits(self, bank_x: torch.Tensor, embeddings: torch.Tensor) -> torch.Tensor:
        return self.top(torch.cat([self.bottom(bank_x), embeddings], dim=1)).squeeze(1)

    def predict(self, bank_x: torch.Tensor, embeddings: np.ndarray) -> np.ndarray:
        emb = check_matrix(embeddings, self.spec.embedding, "operator embeddings")
        if emb.shape[0] != bank_x.shape[0]:
            raise SplitNnSpecError(
                f"operator embeddings: expected {bank_x.shape[0]} rows,"
                f" got {emb.shape[0]}"
            )
        with torch.no_grad():
            return self.logits(bank_x, emb).numpy()

    def train_round(
        self,
        bank_x: torch.Tensor,
        embeddings: np.ndarray,
        labels: torch.Tensor,
        order: np.ndarray,
        round_index: int,
    ) -> BankRound:
        """Local passes on fixed embeddings; returns the last pass's row gradients."""
        rows = bank_x.shape[0]
        emb = check_matrix(embeddings, self.spec.embedding, "operator embeddings")
        if emb.shape[0] != rows:
            raise SplitNnSpecError(
                f"operator embeddings: expected {rows} rows, got {emb.shape[0]}"
            )
        order = check_order(order, rows)
        _set_lr(self.optimizer, self.hyper.learning_rate_at(round_index))
        gradients = torch.zeros_like(emb)
        total = 0.0
        for _ in range(self.hyper.bank_local_epochs):
            total = 0.0
            for batch in minibatches(order, self.hyper.batch_size):
                index = torch.from_numpy(batch)
                leaf = emb[index].clone().requires_grad_(True)
                self.optimizer.zero_grad()
                loss = self.loss(self.logits(bank_x[index], leaf), labels[index])
                loss.backward()
                self.optimizer.step()
                assert leaf.grad is not None
                # The batch-mean loss's gradient times b is each row's own gradient.
                gradients[index] = leaf.grad * len(batch)
                total += float(loss.detach()) * len(batch)
        return BankRound(gradients.numpy(), total / max(rows, 1))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return state_to_arrays({"bottom": self.bottom, "top": self.top}, self.optimizer)

    @classmethod
    def from_arrays(
        cls, spec: SplitNnSpec, hyper: TrainHyper, arrays: dict[str, np.ndarray]
    ) -> BankTop:
        party = cls(spec, hyper, seed=0)
        arrays_to_state(
            arrays, {"bottom": party.bottom, "top": party.top}, party.optimizer
        )
        return party


class CentralModel:
    """The same architecture trained on the joined data: the quality reference."""

    def __init__(
        self, spec: SplitNnSpec, hyper: TrainHyper, seed: int, operator_seed: int
    ) -> None:
        self.spec = spec
        self.hyper = hyper
        self.operator = build_operator_bottom(spec, operator_seed)
        self.bottom, self.top = build_bank_models(spec, seed)
        params = [
            *self.operator.parameters(),
            *self.bottom.parameters(),
            *self.top.parameters(),
        ]
        self.optimizer = _optimizer(params, hyper)
        self.loss = nn.BCEWithLogitsLoss()

    def logits(self, bank_x: torch.Tensor, operator_x: torch.Tensor) -> torch.Tensor:
        joined = torch.cat([self.bottom(bank_x), self.operator(operator_x)], dim=1)
        return self.top(joined).squeeze(1)

    def train_epoch(
        self,
        bank_x: torch.Tensor,
        operator_x: torch.Tensor,
        labels: torch.Tensor,
        order: np.ndarray,
        lr: float,
    ) -> float:
        _set_lr(self.optimizer, lr)
        total = 0.0
        for batch in minibatches(order, self.hyper.batch_size):
            index = torch.from_numpy(batch)
            self.optimizer.zero_grad()
            loss = self.loss(
                self.logits(bank_x[index], operator_x[index]), labels[index]
            )
            loss.backward()
            self.optimizer.step()
            total += float(loss.detach()) * len(batch)
        return total / max(len(order), 1)

    def fit(
        self,
        bank_x: torch.Tensor,
        operator_x: torch.Tensor,
        labels: torch.Tensor,
        rng: np.random.Generator,
    ) -> None:
        """As many epochs as the split model's bank passes, same schedule."""
        for round_index in range(self.hyper.rounds):
            lr = self.hyper.learning_rate_at(round_index)
            for _ in range(self.hyper.bank_local_epochs):
                order = rng.permutation(len(labels))
                self.train_epoch(bank_x, operator_x, labels, order, lr)

    def predict(self, bank_x: torch.Tensor, operator_x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return self.logits(bank_x, operator_x).numpy()
