"""The bank's Flower ServerApp: top model, labels, validation metrics per round.

Thin: parse the run config, load the bank's job data from ``bank-job-dir``, run
:class:`protocol.split_nn.party.BankDriver` with a ``send`` built on Flower's Grid
(one message to the operator's node per round, polled with the round deadline instead
of Flower's fixed 3 s sleep), and write ``metrics.json`` after every round (the bank
node's supervisor shows it as progress), then the bank's model, its scores and
the final embeddings they were computed from.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

import numpy as np
from flwr.app import Context, Message
from flwr.serverapp import Grid, ServerApp

from models.jsonable import to_jsonable
from protocol.errors import FailedPrecondition, PeerCallError, ProtocolError
from protocol.split_nn.bank import BankData, BankDriver, BankResult
from protocol.split_nn.messages import MESSAGE_TYPE, EmbeddingReply, EmbeddingRequest
from protocol.split_nn.party import save_arrays
from protocol.split_nn.records import (
    reply_from_record,
    request_to_record,
    run_from_config,
)

METRICS_FILE = "metrics.json"
BANK_MODEL_FILE = "bank_model.npz"
SCORES_FILE = "scores.npz"
EMBEDDINGS_FILE = "embeddings.npz"  # the final round's (the bank received them)
POLL_S = 0.2

app = ServerApp()


class DeadlineExceeded(ProtocolError):
    code = "DEADLINE_EXCEEDED"


def write_json(path: Path, value: dict[str, Any]) -> None:
    """Atomic write (temp file, then rename), so a reader never sees half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(to_jsonable(value), indent=2, allow_nan=False))
    os.replace(tmp, path)


class MetricsFile:
    """``metrics.json`` in the bank's job directory: status and one entry per round."""

    def __init__(self, path: Path, job_id: str, run_id: int) -> None:
        self.path = path
        self.value: dict[str, Any] = {
            "job_id": job_id,
            "run_id": run_id,
            "status": "running",
            "rounds": [],
        }
        write_json(path, self.value)

    def round(self, metrics: dict[str, Any]) -> None:
        self.value["rounds"].append(metrics)
        write_json(self.path, self.value)

    def finish(self, result: BankResult, seconds: float) -> None:
        self.value |= {
            "status": "succeeded",
            "validation_auc": result.validation_auc,
            "train_auc": result.train_auc,
            "leak": result.leak,
            "seconds": seconds,
        }
        write_json(self.path, self.value)

    def fail(self, error: BaseException) -> None:
        self.value |= {"status": "failed", "error": f"{type(error).__name__}: {error}"}
        write_json(self.path, self.value)


class GridSend:
    """One round trip to the operator's node, with the round's deadline."""

    def __init__(self, grid: Grid, node_id: int, timeout_s: float) -> None:
        self.grid = grid
        self.node_id = node_id
        self.timeout_s = timeout_s

    def _wait_for_node(self, deadline: float) -> None:
        while self.node_id not in set(self.grid.get_node_ids()):
            if time.monotonic() > deadline:
                raise DeadlineExceeded(
                    f"the operator's SuperNode (node {self.node_id}) is not online"
                )
            time.sleep(POLL_S)

    def __call__(self, request: EmbeddingRequest) -> EmbeddingReply:
        deadline = time.monotonic() + self.timeout_s
        self._wait_for_node(deadline)
        message = Message(
            request_to_record(request),
            self.node_id,
            MESSAGE_TYPE,
            ttl=self.timeout_s,
            group_id=str(request.round_index),
        )
        ids = [i for i in self.grid.push_messages([message]) if i]
        if len(ids) != 1:
            raise FailedPrecondition(
                f"round {request.round_index}: the SuperLink did not accept the message"
            )
        while time.monotonic() < deadline:
            replies = list(self.grid.pull_messages(ids))
            if replies:
                reply = replies[0]
                if reply.has_error():
                    raise PeerCallError(
                        f"split-nn round {request.round_index}",
                        str(reply.error.code),
                        reply.error.reason or "no reason given",
                    )
                return reply_from_record(reply.content)
            time.sleep(POLL_S)
        raise DeadlineExceeded(
            f"the operator did not answer round {request.round_index} within"
            f" {self.timeout_s:.0f} s"
        )


def run_bank(grid: Grid, context: Context) -> BankResult:
    """The bank's whole run; also what the pinned runner calls."""
    run = run_from_config(context.run_config)
    job_dir = Path(run.bank_job_dir)
    metrics = MetricsFile(job_dir / METRICS_FILE, run.job_id, context.run_id)
    started = time.perf_counter()
    try:
        data = BankData.load(job_dir, run.spec.bank_features)
        driver = BankDriver(
            run,
            data,
            GridSend(grid, run.operator_node_id, run.round_timeout_s),
            # Never seeded from the run config, which the operator receives: noise
            # it could regenerate would protect nothing. The noise always comes
            # from the OS; the model's seed only from the bank's own job data.
            model_rng=np.random.default_rng(data.model_seed),
            noise_rng=np.random.default_rng(),
            progress=metrics.round,
        )
        result = driver.train()
    except BaseException as err:
        metrics.fail(err)
        raise
    save_arrays(job_dir / BANK_MODEL_FILE, result.model)
    save_arrays(job_dir / SCORES_FILE, result.scores)
    save_arrays(job_dir / EMBEDDINGS_FILE, result.embeddings)
    metrics.finish(result, time.perf_counter() - started)
    return result


@app.main()
def main(grid: Grid, context: Context) -> None:
    run_bank(grid, context)
