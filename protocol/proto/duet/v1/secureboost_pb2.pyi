from protocol.proto.duet.v1 import common_pb2 as _common_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class SbtOwner(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    SBT_OWNER_UNSPECIFIED: _ClassVar[SbtOwner]
    SBT_OWNER_BANK: _ClassVar[SbtOwner]
    SBT_OWNER_OPERATOR: _ClassVar[SbtOwner]
SBT_OWNER_UNSPECIFIED: SbtOwner
SBT_OWNER_BANK: SbtOwner
SBT_OWNER_OPERATOR: SbtOwner

class SbtRowMask(_message.Message):
    __slots__ = ("rows", "bits")
    ROWS_FIELD_NUMBER: _ClassVar[int]
    BITS_FIELD_NUMBER: _ClassVar[int]
    rows: int
    bits: bytes
    def __init__(self, rows: _Optional[int] = ..., bits: _Optional[bytes] = ...) -> None: ...

class SbtGradientSlots(_message.Message):
    __slots__ = ("value_bits", "slots", "max_summands")
    VALUE_BITS_FIELD_NUMBER: _ClassVar[int]
    SLOTS_FIELD_NUMBER: _ClassVar[int]
    MAX_SUMMANDS_FIELD_NUMBER: _ClassVar[int]
    value_bits: int
    slots: int
    max_summands: int
    def __init__(self, value_bits: _Optional[int] = ..., slots: _Optional[int] = ..., max_summands: _Optional[int] = ...) -> None: ...

class SbtSetupRequest(_message.Message):
    __slots__ = ("job_id", "public_key", "features", "max_bins", "gradient_slots", "scale_bits", "outputs", "train_rows", "validation_rows", "min_operator_rows")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    MAX_BINS_FIELD_NUMBER: _ClassVar[int]
    GRADIENT_SLOTS_FIELD_NUMBER: _ClassVar[int]
    SCALE_BITS_FIELD_NUMBER: _ClassVar[int]
    OUTPUTS_FIELD_NUMBER: _ClassVar[int]
    TRAIN_ROWS_FIELD_NUMBER: _ClassVar[int]
    VALIDATION_ROWS_FIELD_NUMBER: _ClassVar[int]
    MIN_OPERATOR_ROWS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    public_key: bytes
    features: _containers.RepeatedScalarFieldContainer[int]
    max_bins: int
    gradient_slots: SbtGradientSlots
    scale_bits: int
    outputs: int
    train_rows: int
    validation_rows: int
    min_operator_rows: int
    def __init__(self, job_id: _Optional[str] = ..., public_key: _Optional[bytes] = ..., features: _Optional[_Iterable[int]] = ..., max_bins: _Optional[int] = ..., gradient_slots: _Optional[_Union[SbtGradientSlots, _Mapping]] = ..., scale_bits: _Optional[int] = ..., outputs: _Optional[int] = ..., train_rows: _Optional[int] = ..., validation_rows: _Optional[int] = ..., min_operator_rows: _Optional[int] = ...) -> None: ...

class SbtFeatureBins(_message.Message):
    __slots__ = ("feature", "name", "bins")
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    BINS_FIELD_NUMBER: _ClassVar[int]
    feature: int
    name: str
    bins: int
    def __init__(self, feature: _Optional[int] = ..., name: _Optional[str] = ..., bins: _Optional[int] = ...) -> None: ...

class SbtSetupReply(_message.Message):
    __slots__ = ("features",)
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    features: _containers.RepeatedCompositeFieldContainer[SbtFeatureBins]
    def __init__(self, features: _Optional[_Iterable[_Union[SbtFeatureBins, _Mapping]]] = ...) -> None: ...

class SbtTreeGradients(_message.Message):
    __slots__ = ("job_id", "tree", "features", "sample")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    FEATURES_FIELD_NUMBER: _ClassVar[int]
    SAMPLE_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tree: int
    features: _containers.RepeatedScalarFieldContainer[int]
    sample: SbtRowMask
    def __init__(self, job_id: _Optional[str] = ..., tree: _Optional[int] = ..., features: _Optional[_Iterable[int]] = ..., sample: _Optional[_Union[SbtRowMask, _Mapping]] = ...) -> None: ...

class SbtGradientsUpload(_message.Message):
    __slots__ = ("tree", "gradients")
    TREE_FIELD_NUMBER: _ClassVar[int]
    GRADIENTS_FIELD_NUMBER: _ClassVar[int]
    tree: SbtTreeGradients
    gradients: _common_pb2.Chunk
    def __init__(self, tree: _Optional[_Union[SbtTreeGradients, _Mapping]] = ..., gradients: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...

class SbtNodeRequest(_message.Message):
    __slots__ = ("node", "total")
    NODE_FIELD_NUMBER: _ClassVar[int]
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    node: int
    total: bytes
    def __init__(self, node: _Optional[int] = ..., total: _Optional[bytes] = ...) -> None: ...

class SbtHistogramRequest(_message.Message):
    __slots__ = ("job_id", "tree", "nodes")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tree: int
    nodes: _containers.RepeatedCompositeFieldContainer[SbtNodeRequest]
    def __init__(self, job_id: _Optional[str] = ..., tree: _Optional[int] = ..., nodes: _Optional[_Iterable[_Union[SbtNodeRequest, _Mapping]]] = ...) -> None: ...

class SbtHistogramLayout(_message.Message):
    __slots__ = ("tree", "nodes")
    TREE_FIELD_NUMBER: _ClassVar[int]
    NODES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    nodes: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, tree: _Optional[int] = ..., nodes: _Optional[_Iterable[int]] = ...) -> None: ...

class SbtHistogramDownload(_message.Message):
    __slots__ = ("layout", "sums")
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SUMS_FIELD_NUMBER: _ClassVar[int]
    layout: SbtHistogramLayout
    sums: _common_pb2.Chunk
    def __init__(self, layout: _Optional[_Union[SbtHistogramLayout, _Mapping]] = ..., sums: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...

class SbtNodeSplit(_message.Message):
    __slots__ = ("node", "owner", "left", "feature", "bin", "default_left")
    NODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    FEATURE_FIELD_NUMBER: _ClassVar[int]
    BIN_FIELD_NUMBER: _ClassVar[int]
    DEFAULT_LEFT_FIELD_NUMBER: _ClassVar[int]
    node: int
    owner: SbtOwner
    left: SbtRowMask
    feature: int
    bin: int
    default_left: bool
    def __init__(self, node: _Optional[int] = ..., owner: _Optional[_Union[SbtOwner, str]] = ..., left: _Optional[_Union[SbtRowMask, _Mapping]] = ..., feature: _Optional[int] = ..., bin: _Optional[int] = ..., default_left: _Optional[bool] = ...) -> None: ...

class SbtSplitRequest(_message.Message):
    __slots__ = ("job_id", "tree", "splits")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tree: int
    splits: _containers.RepeatedCompositeFieldContainer[SbtNodeSplit]
    def __init__(self, job_id: _Optional[str] = ..., tree: _Optional[int] = ..., splits: _Optional[_Iterable[_Union[SbtNodeSplit, _Mapping]]] = ...) -> None: ...

class SbtOperatorSplit(_message.Message):
    __slots__ = ("node", "split_id", "left")
    NODE_FIELD_NUMBER: _ClassVar[int]
    SPLIT_ID_FIELD_NUMBER: _ClassVar[int]
    LEFT_FIELD_NUMBER: _ClassVar[int]
    node: int
    split_id: int
    left: SbtRowMask
    def __init__(self, node: _Optional[int] = ..., split_id: _Optional[int] = ..., left: _Optional[_Union[SbtRowMask, _Mapping]] = ...) -> None: ...

class SbtSplitReply(_message.Message):
    __slots__ = ("tree", "splits")
    TREE_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    tree: int
    splits: _containers.RepeatedCompositeFieldContainer[SbtOperatorSplit]
    def __init__(self, tree: _Optional[int] = ..., splits: _Optional[_Iterable[_Union[SbtOperatorSplit, _Mapping]]] = ...) -> None: ...

class SbtInternalNode(_message.Message):
    __slots__ = ("node", "owner")
    NODE_FIELD_NUMBER: _ClassVar[int]
    OWNER_FIELD_NUMBER: _ClassVar[int]
    node: int
    owner: SbtOwner
    def __init__(self, node: _Optional[int] = ..., owner: _Optional[_Union[SbtOwner, str]] = ...) -> None: ...

class SbtTreeDone(_message.Message):
    __slots__ = ("job_id", "tree", "splits")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TREE_FIELD_NUMBER: _ClassVar[int]
    SPLITS_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    tree: int
    splits: _containers.RepeatedCompositeFieldContainer[SbtInternalNode]
    def __init__(self, job_id: _Optional[str] = ..., tree: _Optional[int] = ..., splits: _Optional[_Iterable[_Union[SbtInternalNode, _Mapping]]] = ...) -> None: ...

class SbtLeafSetsRequest(_message.Message):
    __slots__ = ("job_id", "split", "trees")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    TREES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    split: _common_pb2.DataSplit
    trees: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, job_id: _Optional[str] = ..., split: _Optional[_Union[_common_pb2.DataSplit, str]] = ..., trees: _Optional[_Iterable[int]] = ...) -> None: ...

class SbtTreeLeafSets(_message.Message):
    __slots__ = ("tree", "row_bytes")
    TREE_FIELD_NUMBER: _ClassVar[int]
    ROW_BYTES_FIELD_NUMBER: _ClassVar[int]
    tree: int
    row_bytes: int
    def __init__(self, tree: _Optional[int] = ..., row_bytes: _Optional[int] = ...) -> None: ...

class SbtLeafSetsLayout(_message.Message):
    __slots__ = ("split", "rows", "trees")
    SPLIT_FIELD_NUMBER: _ClassVar[int]
    ROWS_FIELD_NUMBER: _ClassVar[int]
    TREES_FIELD_NUMBER: _ClassVar[int]
    split: _common_pb2.DataSplit
    rows: int
    trees: _containers.RepeatedCompositeFieldContainer[SbtTreeLeafSets]
    def __init__(self, split: _Optional[_Union[_common_pb2.DataSplit, str]] = ..., rows: _Optional[int] = ..., trees: _Optional[_Iterable[_Union[SbtTreeLeafSets, _Mapping]]] = ...) -> None: ...

class SbtLeafSetsDownload(_message.Message):
    __slots__ = ("layout", "sets")
    LAYOUT_FIELD_NUMBER: _ClassVar[int]
    SETS_FIELD_NUMBER: _ClassVar[int]
    layout: SbtLeafSetsLayout
    sets: _common_pb2.Chunk
    def __init__(self, layout: _Optional[_Union[SbtLeafSetsLayout, _Mapping]] = ..., sets: _Optional[_Union[_common_pb2.Chunk, _Mapping]] = ...) -> None: ...

class SbtFinishRequest(_message.Message):
    __slots__ = ("job_id", "trees")
    JOB_ID_FIELD_NUMBER: _ClassVar[int]
    TREES_FIELD_NUMBER: _ClassVar[int]
    job_id: str
    trees: int
    def __init__(self, job_id: _Optional[str] = ..., trees: _Optional[int] = ...) -> None: ...

class SbtFinishReply(_message.Message):
    __slots__ = ("operator_trees",)
    OPERATOR_TREES_FIELD_NUMBER: _ClassVar[int]
    operator_trees: int
    def __init__(self, operator_trees: _Optional[int] = ...) -> None: ...

class SbtAck(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
