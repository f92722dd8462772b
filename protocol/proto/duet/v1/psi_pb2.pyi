from protocol.proto.duet.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class PsiMode(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PSI_MODE_UNSPECIFIED: _ClassVar[PsiMode]
    PSI_MODE_INTERSECTION: _ClassVar[PsiMode]
    PSI_MODE_BOTH: _ClassVar[PsiMode]
    PSI_MODE_CARDINALITY: _ClassVar[PsiMode]
PSI_MODE_UNSPECIFIED: PsiMode
PSI_MODE_INTERSECTION: PsiMode
PSI_MODE_BOTH: PsiMode
PSI_MODE_CARDINALITY: PsiMode

class PsiOpenRequest(_message.Message):
    __slots__ = ("mode", "bank_set_size", "unbalanced", "cached_set_id", "suite", "job_id")
    MODE_FIELD_NUMBER: _ClassVar[int]
    BANK_SET_SIZE_FIELD_NUMBER: _ClassVar[int]
    UNBALANCED_FIELD_NUMBER: _ClassVar[int]
    CACHED_SET_ID_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    mode: PsiMode
    bank_set_size: int
    unbalanced: bool
    cached_set_id: str
    suite: str
    job_id: str
    def __init__(self, mode: _Optional[_Union[PsiMode, str]] = ..., bank_set_size: _Optional[int] = ..., unbalanced: _Optional[bool] = ..., cached_set_id: _Optional[str] = ..., suite: _Optional[str] = ..., job_id: _Optional[str] = ...) -> None: ...

class PsiOpenReply(_message.Message):
    __slots__ = ("session_id", "operator_set_size", "suite", "operator_set_id", "operator_set_follows", "operator_set_expires_at")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_SET_SIZE_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_SET_ID_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_SET_FOLLOWS_FIELD_NUMBER: _ClassVar[int]
    OPERATOR_SET_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    operator_set_size: int
    suite: str
    operator_set_id: str
    operator_set_follows: bool
    operator_set_expires_at: int
    def __init__(self, session_id: _Optional[str] = ..., operator_set_size: _Optional[int] = ..., suite: _Optional[str] = ..., operator_set_id: _Optional[str] = ..., operator_set_follows: _Optional[bool] = ..., operator_set_expires_at: _Optional[int] = ...) -> None: ...

class PsiSessionRef(_message.Message):
    __slots__ = ("session_id",)
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    def __init__(self, session_id: _Optional[str] = ...) -> None: ...

class PsiUploadReceipt(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: int
    def __init__(self, items: _Optional[int] = ...) -> None: ...

class PsiFinishReply(_message.Message):
    __slots__ = ("intersection_size", "alignment_id")
    INTERSECTION_SIZE_FIELD_NUMBER: _ClassVar[int]
    ALIGNMENT_ID_FIELD_NUMBER: _ClassVar[int]
    intersection_size: int
    alignment_id: str
    def __init__(self, intersection_size: _Optional[int] = ..., alignment_id: _Optional[str] = ...) -> None: ...
