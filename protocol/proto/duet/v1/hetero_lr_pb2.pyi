from protocol.proto.duet.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class LrSetupRequest(_message.Message):
    __slots__ = ("job_id", "bank_context", "bank_dim", "operator_features", "learning_rate", "optimizer", "momentum", "lr_decay", "l2", "batch_size", "sigmoid_terms", "sigmoid_range", "sigmoid_period", "clip")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    BANK_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    BANK_DIM_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FEATURES_FIELD_NUMBER: _ClassVar[int]
    LEARNING_RATE_FIELD_NUMBER: _ClassVar[int]
    OPTIMIZER_FIELD_NUMBER: _ClassVar[int]
    MOMENTUM_FIELD_NUMBER: _ClassVar[int]
    LR_DECAY_FIELD_NUMBER: _ClassVar[int]
    L2_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    SIGMOID_TERMS_FIELD_NUMBER: _ClassVar[int]
    SIGMOID_RANGE_FIELD_NUMBER: _ClassVar[int]
    SIGMOID_PERIOD_FIELD_NUMBER: _ClassVar[int]
    CLIP_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    bank_context: bytes
    bank_dim: int
    operator_features: _containers.RepeatedScalarFieldContainer[int]
    learning_rate: float
    optimizer: str
    momentum: float
    lr_decay: float
    l2: float
    batch_size: int
    sigmoid_terms: int
    sigmoid_range: float
    sigmoid_period: float
    clip: float
    def __init__(self, job_id: _Optional[str] = ..., bank_context: _Optional[bytes] = ..., bank_dim: _Optional[int] = ..., operator_features: _Optional[_Iterable[int]] = ..., learning_rate: _Optional[float] = ..., optimizer: _Optional[str] = ..., momentum: _Optional[float] = ..., lr_decay: _Optional[float] = ..., l2: _Optional[float] = ..., batch_size: _Optional[int] = ..., sigmoid_terms: _Optional[int] = ..., sigmoid_range: _Optional[float] = ..., sigmoid_period: _Optional[float] = ..., clip: _Optional[float] = ...) -> None: ...

class LrSetupReply(_message.Message):
    __slots__ = ("operator_context", "operator_dim", "train_rows", "validation_rows")
    OPERATOR_CONTEXT_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_DIM_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ROWS_FIELD_NUMBER: _ClassVar[int]
    operator_context: bytes
    operator_dim: int
    train_rows: int
    validation_rows: int
    def __init__(self, operator_context: _Optional[bytes] = ..., operator_dim: _Optional[int] = ..., train_rows: _Optional[int] = ..., validation_rows: _Optional[int] = ...) -> None: ...

class LrForwardRequest(_message.Message):
    __slots__ = ("job_id", "epoch", "split", "rows", "bank_logits", "operator_step", "step_epoch", "evaluation", "range_level")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BANK_LOGITS_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_STEP_FIELD_NUMBER: _ClassVar[int]
    STEP_EPOCH_FIELD_NUMBER: _ClassVar[int]
    EVALUATION_FIELD_NUMBER: _ClassVar[int]
    RANGE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    epoch: int
    split: _common_pb2.DataSplit
    rows: bytes
    bank_logits: bytes
    operator_step: _containers.RepeatedScalarFieldContainer[bytes]
    step_epoch: int
    evaluation: bool
    range_level: int
    def __init__(self, job_id: _Optional[str] = ..., epoch: _Optional[int] = ..., split: _Optional[_Union[_common_pb2.DataSplit, str]] = ..., rows: _Optional[bytes] = ..., bank_logits: _Optional[bytes] = ..., operator_step: _Optional[_Iterable[bytes]] = ..., step_epoch: _Optional[int] = ..., evaluation: _Optional[bool] = ..., range_level: _Optional[int] = ...) -> None: ...

class LrForwardReply(_message.Message):
    __slots__ = ("operator_logits",)
    OPERATOR_LOGITS_FIELD_NUMBER: _ClassVar[int]
    operator_logits: bytes
    def __init__(self, operator_logits: _Optional[bytes] = ...) -> None: ...

class LrSigmoidRequest(_message.Message):
    __slots__ = ("job_id", "bank_harmonics")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    BANK_HARMONICS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    bank_harmonics: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, job_id: _Optional[str] = ..., bank_harmonics: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LrSigmoidReply(_message.Message):
    __slots__ = ("masked_sigmoid", "negated_mask", "zone_mask")
    MASKED_SIGMOID_FIELD_NUMBER: _ClassVar[int]
    NEGATED_MASK_FIELD_NUMBER: _ClassVar[int]
    ZONE_MASK_FIELD_NUMBER: _ClassVar[int]
    masked_sigmoid: bytes
    negated_mask: bytes
    zone_mask: bytes
    def __init__(self, masked_sigmoid: _Optional[bytes] = ..., negated_mask: _Optional[bytes] = ..., zone_mask: _Optional[bytes] = ...) -> None: ...

class LrBackwardRequest(_message.Message):
    __slots__ = ("job_id", "epoch", "residual_share", "bank_products")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    RESIDUAL_SHARE_FIELD_NUMBER: _ClassVar[int]
    BANK_PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    epoch: int
    residual_share: bytes
    bank_products: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, job_id: _Optional[str] = ..., epoch: _Optional[int] = ..., residual_share: _Optional[bytes] = ..., bank_products: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LrBackwardReply(_message.Message):
    __slots__ = ("operator_products", "bank_step")
    OPERATOR_PRODUCTS_FIELD_NUMBER: _ClassVar[int]
    BANK_STEP_FIELD_NUMBER: _ClassVar[int]
    operator_products: _containers.RepeatedScalarFieldContainer[bytes]
    bank_step: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, operator_products: _Optional[_Iterable[bytes]] = ..., bank_step: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LrLossRequest(_message.Message):
    __slots__ = ("job_id", "loss_terms")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    LOSS_TERMS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    loss_terms: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, job_id: _Optional[str] = ..., loss_terms: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LrLossReply(_message.Message):
    __slots__ = ("masked_loss", "mask_constant", "zone_mask")
    MASKED_LOSS_FIELD_NUMBER: _ClassVar[int]
    MASK_CONSTANT_FIELD_NUMBER: _ClassVar[int]
    ZONE_MASK_FIELD_NUMBER: _ClassVar[int]
    masked_loss: bytes
    mask_constant: bytes
    zone_mask: bytes
    def __init__(self, masked_loss: _Optional[bytes] = ..., mask_constant: _Optional[bytes] = ..., zone_mask: _Optional[bytes] = ...) -> None: ...

class LrKeepBestRequest(_message.Message):
    __slots__ = ("job_id", "epoch")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    epoch: int
    def __init__(self, job_id: _Optional[str] = ..., epoch: _Optional[int] = ...) -> None: ...

class LrRevealRequest(_message.Message):
    __slots__ = ("job_id", "operator_step_units")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_STEP_UNITS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    operator_step_units: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, job_id: _Optional[str] = ..., operator_step_units: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LrRevealReply(_message.Message):
    __slots__ = ("bank_step_units",)
    BANK_STEP_UNITS_FIELD_NUMBER: _ClassVar[int]
    bank_step_units: _containers.RepeatedScalarFieldContainer[bytes]
    def __init__(self, bank_step_units: _Optional[_Iterable[bytes]] = ...) -> None: ...

class LrAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LrCheckpointRequest(_message.Message):
    __slots__ = ("job_id", "epoch", "bank_commitment")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    BANK_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    epoch: int
    bank_commitment: str
    def __init__(self, job_id: _Optional[str] = ..., epoch: _Optional[int] = ..., bank_commitment: _Optional[str] = ...) -> None: ...

class LrCheckpointReply(_message.Message):
    __slots__ = ("operator_commitment",)
    OPERATOR_COMMITMENT_FIELD_NUMBER: _ClassVar[int]
    operator_commitment: str
    def __init__(self, operator_commitment: _Optional[str] = ...) -> None: ...

class LrCheckpointRef(_message.Message):
    __slots__ = ("epoch", "digest")
    EPOCH_FIELD_NUMBER: _ClassVar[int]
    DIGEST_FIELD_NUMBER: _ClassVar[int]
    epoch: int
    digest: str
    def __init__(self, epoch: _Optional[int] = ..., digest: _Optional[str] = ...) -> None: ...

class LrResumeRequest(_message.Message):
    __slots__ = ("job_id", "checkpoints")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKPOINTS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    checkpoints: _containers.RepeatedCompositeFieldContainer[LrCheckpointRef]
    def __init__(self, job_id: _Optional[str] = ..., checkpoints: _Optional[_Iterable[_Union[LrCheckpointRef, _Mapping]]] = ...) -> None: ...

class LrResumeReply(_message.Message):
    __slots__ = ("checkpoint", "setup")
    CHECKPOINT_FIELD_NUMBER: _ClassVar[int]
    SETUP_FIELD_NUMBER: _ClassVar[int]
    checkpoint: LrCheckpointRef
    setup: LrSetupReply
    def __init__(self, checkpoint: _Optional[_Union[LrCheckpointRef, _Mapping]] = ..., setup: _Optional[_Union[LrSetupReply, _Mapping]] = ...) -> None: ...
