from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ScoreStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SCORE_STATUS_UNSPECIFIED: _ClassVar[ScoreStatus]
    SCORE_STATUS_OK: _ClassVar[ScoreStatus]
    SCORE_STATUS_NOT_SUBSCRIBER: _ClassVar[ScoreStatus]
SCORE_STATUS_UNSPECIFIED: ScoreStatus
SCORE_STATUS_OK: ScoreStatus
SCORE_STATUS_NOT_SUBSCRIBER: ScoreStatus

class ConsentProof(_message.Message):
    __slots__ = ("consent_id", "phone", "purpose", "scope", "issued_at", "expires_at", "bank_id", "document_sha256", "max_uses", "signature")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    PHONE_FIELD_NUMBER: _ClassVar[int]
    PURPOSE_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ISSUED_AT_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    BANK_ID_FIELD_NUMBER: _ClassVar[int]
    DOCUMENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    MAX_USES_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    phone: str
    purpose: str
    scope: _containers.RepeatedScalarFieldContainer[str]
    issued_at: int
    expires_at: int
    bank_id: str
    document_sha256: str
    max_uses: int
    signature: bytes
    def __init__(self, consent_id: _Optional[str] = ..., phone: _Optional[str] = ..., purpose: _Optional[str] = ..., scope: _Optional[_Iterable[str]] = ..., issued_at: _Optional[int] = ..., expires_at: _Optional[int] = ..., bank_id: _Optional[str] = ..., document_sha256: _Optional[str] = ..., max_uses: _Optional[int] = ..., signature: _Optional[bytes] = ...) -> None: ...

class ScoreRequest(_message.Message):
    __slots__ = ("request_id", "job_id", "consent")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    CONSENT_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    job_id: str
    consent: ConsentProof
    def __init__(self, request_id: _Optional[str] = ..., job_id: _Optional[str] = ..., consent: _Optional[_Union[ConsentProof, _Mapping]] = ...) -> None: ...

class ScoreReply(_message.Message):
    __slots__ = ("request_id", "status", "partial_logit", "model_version")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PARTIAL_LOGIT_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSION_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    status: ScoreStatus
    partial_logit: float
    model_version: int
    def __init__(self, request_id: _Optional[str] = ..., status: _Optional[_Union[ScoreStatus, str]] = ..., partial_logit: _Optional[float] = ..., model_version: _Optional[int] = ...) -> None: ...

class ConsentRevocation(_message.Message):
    __slots__ = ("consent_id",)
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    def __init__(self, consent_id: _Optional[str] = ...) -> None: ...

class RevocationReply(_message.Message):
    __slots__ = ("consent_id", "was_used")
    CONSENT_ID_FIELD_NUMBER: _ClassVar[int]
    WAS_USED_FIELD_NUMBER: _ClassVar[int]
    consent_id: str
    was_used: bool
    def __init__(self, consent_id: _Optional[str] = ..., was_used: _Optional[bool] = ...) -> None: ...
