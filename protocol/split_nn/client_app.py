"""The operator's Flower ClientApp: its bottom model (see protocol/split_nn/__init__).

Thin: parse the run config, the node config and the message, delegate one round to
:func:`protocol.split_nn.party.operator_round`, keep the state in ``context.state``
(Flower starts a new ClientApp process per message; only the context persists) and
reply. The node config is the operator's own (``flower-supernode --node-config``):
``data-dir`` is the directory holding one folder per approved job, ``max-rounds``
caps how many rounds a job may run.
"""

from __future__ import annotations

from pathlib import Path

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp

from protocol.errors import FailedPrecondition, InvalidArgument
from protocol.split_nn.party import (
    DEFAULT_MAX_ROUNDS,
    OperatorJobStore,
    OperatorLimits,
    OperatorState,
    operator_round,
)
from protocol.split_nn.records import (
    arrays_from_record,
    arrays_to_record,
    reply_to_record,
    request_from_record,
    run_from_config,
)

STATE_BOTTOM = "split-nn.bottom"
STATE_POSITIONS = "split-nn.positions"
STATE_PROGRESS = "split-nn.progress"

app = ClientApp()


def node_settings(node_config: dict[str, object]) -> tuple[Path, OperatorLimits]:
    data_dir = node_config.get("data-dir")
    if not isinstance(data_dir, str) or not data_dir:
        raise FailedPrecondition("the operator's SuperNode has no data-dir node config")
    max_rounds = node_config.get("max-rounds", DEFAULT_MAX_ROUNDS)
    if isinstance(max_rounds, bool) or not isinstance(max_rounds, int):
        raise FailedPrecondition("node config max-rounds must be an integer")
    return Path(data_dir), OperatorLimits(max_rounds=max_rounds)


def load_state(state: RecordDict) -> OperatorState | None:
    if STATE_PROGRESS not in state.config_records:
        return None
    progress = state.config_records[STATE_PROGRESS]
    positions = arrays_from_record(state.array_records[STATE_POSITIONS])
    return OperatorState(
        next_round=int(str(progress["next-round"])),
        train_positions=positions["train"],
        validation_positions=positions["validation"],
        bottom=arrays_from_record(state.array_records[STATE_BOTTOM]),
        finished=bool(progress["finished"]),
    )


def save_state(state: RecordDict, value: OperatorState) -> None:
    state[STATE_PROGRESS] = ConfigRecord(
        {"next-round": value.next_round, "finished": value.finished}
    )
    state[STATE_POSITIONS] = arrays_to_record(
        {"train": value.train_positions, "validation": value.validation_positions}
    )
    state[STATE_BOTTOM] = arrays_to_record(value.bottom)


@app.train()
def train(message: Message, context: Context) -> Message:
    """One round: gradients in, embeddings out."""
    run = run_from_config(context.run_config)
    data_dir, limits = node_settings(dict(context.node_config))
    if not message.has_content():
        raise InvalidArgument("message: no content")
    request = request_from_record(message.content)
    reply, state = operator_round(
        run,
        context.run_id,
        request,
        load_state(context.state),
        OperatorJobStore(data_dir, run.job_id),
        limits,
    )
    save_state(context.state, state)
    return Message(reply_to_record(reply), reply_to=message)
