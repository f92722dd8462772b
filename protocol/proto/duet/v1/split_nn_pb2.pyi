from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class NnPrepareRequest(_message.Message):
    __slots__ = ("job_id", "operator_features", "rounds")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_FEATURES_FIELD_NUMBER: _ClassVar[int]
    ROUNDS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    operator_features: _containers.RepeatedScalarFieldContainer[int]
    rounds: int
    def __init__(self, job_id: _Optional[str] = ..., operator_features: _Optional[_Iterable[int]] = ..., rounds: _Optional[int] = ...) -> None: ...

class NnPrepareReply(_message.Message):
    __slots__ = ("operator_columns", "node_public_key", "train_rows", "validation_rows")
    OPERATOR_COLUMNS_FIELD_NUMBER: _ClassVar[int]
    NODE_PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ROWS_FIELD_NUMBER: _ClassVar[int]
    operator_columns: int
    node_public_key: bytes
    train_rows: int
    validation_rows: int
    def __init__(self, operator_columns: _Optional[int] = ..., node_public_key: _Optional[bytes] = ..., train_rows: _Optional[int] = ..., validation_rows: _Optional[int] = ...) -> None: ...

class NnStartRequest(_message.Message):
    __slots__ = ("job_id", "superlink_host", "superlink_port")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SUPERLINK_HOST_FIELD_NUMBER: _ClassVar[int]
    SUPERLINK_PORT_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    superlink_host: str
    superlink_port: int
    def __init__(self, job_id: _Optional[str] = ..., superlink_host: _Optional[str] = ..., superlink_port: _Optional[int] = ...) -> None: ...

class NnStartReply(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class NnCompleteRequest(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class NnCompleteReply(_message.Message):
    __slots__ = ("model_name", "model_version")
    MODEL_NAME_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    model_name: str
    model_version: int
    def __init__(self, model_name: _Optional[str] = ..., model_version: _Optional[int] = ...) -> None: ...
