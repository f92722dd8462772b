from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class JobStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    JOB_STATUS_UNSPECIFIED: _ClassVar[JobStatus]
    JOB_STATUS_CREATED: _ClassVar[JobStatus]
    JOB_STATUS_PENDING_APPROVAL: _ClassVar[JobStatus]
    JOB_STATUS_APPROVED: _ClassVar[JobStatus]
    JOB_STATUS_REFUSED: _ClassVar[JobStatus]
    JOB_STATUS_RUNNING: _ClassVar[JobStatus]
    JOB_STATUS_SUCCEEDED: _ClassVar[JobStatus]
    JOB_STATUS_FAILED: _ClassVar[JobStatus]
    JOB_STATUS_CANCELLED: _ClassVar[JobStatus]
JOB_STATUS_UNSPECIFIED: JobStatus
JOB_STATUS_CREATED: JobStatus
JOB_STATUS_PENDING_APPROVAL: JobStatus
JOB_STATUS_APPROVED: JobStatus
JOB_STATUS_REFUSED: JobStatus
JOB_STATUS_RUNNING: JobStatus
JOB_STATUS_SUCCEEDED: JobStatus
JOB_STATUS_FAILED: JobStatus
JOB_STATUS_CANCELLED: JobStatus

class JobProposal(_message.Message):
    __slots__ = ("job_id", "purpose", "features", "model", "max_rows", "batch_size", "description", "psi_mode", "task")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    MAX_ROWS_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    PSI_MODE_FIELD_NUMBER: _ClassVar[int]
    TASK_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    purpose: str
    features: _containers.RepeatedScalarFieldContainer[str]
    model: str
    max_rows: int
    batch_size: int
    description: str
    psi_mode: str
    task: str
    def __init__(self, job_id: _Optional[str] = ..., purpose: _Optional[str] = ..., features: _Optional[_Iterable[str]] = ..., model: _Optional[str] = ..., max_rows: _Optional[int] = ..., batch_size: _Optional[int] = ..., description: _Optional[str] = ..., psi_mode: _Optional[str] = ..., task: _Optional[str] = ...) -> None: ...

class JobRef(_message.Message):
    __slots__ = ("job_id",)
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    def __init__(self, job_id: _Optional[str] = ...) -> None: ...

class OperatorFeature(_message.Message):
    __slots__ = ("index", "display_name", "kind")
    INDEX_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    index: int
    display_name: str
    kind: str
    def __init__(self, index: _Optional[int] = ..., display_name: _Optional[str] = ..., kind: _Optional[str] = ...) -> None: ...

class JobDecision(_message.Message):
    __slots__ = ("job_id", "status", "message", "features", "min_batch_size")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MIN_BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    status: JobStatus
    message: str
    features: _containers.RepeatedCompositeFieldContainer[OperatorFeature]
    min_batch_size: int
    def __init__(self, job_id: _Optional[str] = ..., status: _Optional[_Union[JobStatus, str]] = ..., message: _Optional[str] = ..., features: _Optional[_Iterable[_Union[OperatorFeature, _Mapping]]] = ..., min_batch_size: _Optional[int] = ...) -> None: ...

class JobBinding(_message.Message):
    __slots__ = ("job_id", "alignment_id", "rows", "validation_bitmap")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    ALIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_BITMAP_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    alignment_id: str
    rows: int
    validation_bitmap: bytes
    def __init__(self, job_id: _Optional[str] = ..., alignment_id: _Optional[str] = ..., rows: _Optional[int] = ..., validation_bitmap: _Optional[bytes] = ...) -> None: ...

class FeatureQuery(_message.Message):
    __slots__ = ("patterns",)
    PATTERNS_FIELD_NUMBER: _ClassVar[int]
    patterns: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, patterns: _Optional[_Iterable[str]] = ...) -> None: ...

class FeatureCatalog(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[OperatorFeature]
    def __init__(self, features: _Optional[_Iterable[_Union[OperatorFeature, _Mapping]]] = ...) -> None: ...

class JobOutcome(_message.Message):
    __slots__ = ("job_id", "succeeded", "message")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SUCCEEDED_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    succeeded: bool
    message: str
    def __init__(self, job_id: _Optional[str] = ..., succeeded: _Optional[bool] = ..., message: _Optional[str] = ...) -> None: ...
