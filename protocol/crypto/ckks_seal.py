"""SEAL-level CKKS operation TenSEAL does not expose: add a *complex* plaintext to
*every* slot.

Why it is needed. A TenSEAL CKKSVector of size s shows s slots, but its ciphertext has
N/2, and the key holder can decode all of them with its secret key (SEAL's decryptor
and encoder). After `dot` or `sum`, the hidden slots hold the rotation partial sums of
the elementwise products, so a mask on the visible slots alone would let the key holder
read x_i * w_i for every i, e.g. the peer's plaintext weights. TenSEAL refuses to add a
plaintext longer than the vector, so the mask is added here with SEAL's evaluator.

Why complex. CKKS slots are complex numbers; TenSEAL only encodes real ones, so a real
mask leaves the imaginary parts untouched. After a plaintext product the imaginary
part of a slot is about x * Im(error of the input ciphertext), and the key holder, who
made that input, knows its error: averaged over a training run it reads the peer's
plaintext x. A mask whose imaginary parts are uniform too hides that (the real parts
are the mask the caller removes; the imaginary parts are never needed).

How. A serialized TenSEAL CKKSVector (tenseal 0.3.18, pinned) is a protobuf message with
field 1 = sizes, field 2 = the SEAL ciphertext, field 3 = scale. We load field 2 with
SEAL, add an encoded plaintext of N/2 values at the ciphertext's level and scale, and
put it back. Only public material is used (the evaluator needs no keys). A unit test
decodes every slot with the secret key to check that none is left unmasked.
"""

from __future__ import annotations

import atexit
import os
import tempfile
import threading

import numpy as np
import numpy.typing as npt
import tenseal as ts
import tenseal.sealapi as sealapi

_CIPHERTEXT_FIELD = 2
_WIRE_VARINT, _WIRE_FIXED64, _WIRE_BYTES = 0, 1, 2


def _read_varint(data: bytes, offset: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        byte = data[offset]
        offset += 1
        value |= (byte & 0x7F) << shift
        shift += 7
        if byte < 0x80:
            return value, offset


def _varint(value: int) -> bytes:
    out = bytearray()
    while True:
        low, value = value & 0x7F, value >> 7
        out.append(low | 0x80 if value else low)
        if not value:
            return bytes(out)


def _fields(data: bytes) -> list[tuple[int, int, bytes]]:
    """Top-level protobuf fields as (number, wire type, raw value bytes)."""
    fields = []
    offset = 0
    while offset < len(data):
        tag, offset = _read_varint(data, offset)
        number, wire = tag >> 3, tag & 7
        if wire == _WIRE_BYTES:
            size, offset = _read_varint(data, offset)
            fields.append((number, wire, data[offset : offset + size]))
            offset += size
        elif wire == _WIRE_FIXED64:
            fields.append((number, wire, data[offset : offset + 8]))
            offset += 8
        elif wire == _WIRE_VARINT:
            start = offset
            _, offset = _read_varint(data, offset)
            fields.append((number, wire, data[start:offset]))
        else:
            raise ValueError(f"unexpected protobuf wire type {wire} in a CKKS vector")
    return fields


def _message(fields: list[tuple[int, int, bytes]]) -> bytes:
    out = bytearray()
    for number, wire, value in fields:
        out += _varint((number << 3) | wire)
        out += _varint(len(value)) + value if wire == _WIRE_BYTES else value
    return bytes(out)


def _scratch_path() -> str:
    """A per-thread scratch file, on tmpfs when the machine has one (SEAL's Python
    binding loads and saves ciphertexts through files only)."""
    path = getattr(_scratch, "path", None)
    if path is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        fd, path = tempfile.mkstemp(prefix="duet-ckks-", dir=base)
        os.close(fd)
        _scratch.path = path
        atexit.register(_remove, path)
    return path


_scratch = threading.local()


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass


def add_to_every_slot_bytes(
    vector: ts.CKKSVector, context: ts.Context, values: npt.ArrayLike
) -> bytes:
    """Serialized `vector + values` over all N/2 slots (values real or complex)."""
    fields = _fields(vector.serialize())
    numbers = [number for number, _, _ in fields]
    if numbers.count(_CIPHERTEXT_FIELD) != 1:
        raise ValueError("unexpected TenSEAL CKKS vector layout")
    index = numbers.index(_CIPHERTEXT_FIELD)
    seal_context = context.seal_context().data
    ciphertext = sealapi.Ciphertext()
    path = _scratch_path()
    try:
        with open(path, "wb") as handle:
            handle.write(fields[index][2])
        ciphertext.load(seal_context, path)
        plaintext = sealapi.Plaintext()
        slots = np.asarray(values)
        encodable = (
            slots.astype(np.complex128).tolist()
            if np.iscomplexobj(slots)
            else slots.astype(np.float64).tolist()
        )
        sealapi.CKKSEncoder(seal_context).encode(
            encodable, ciphertext.parms_id(), ciphertext.scale, plaintext
        )
        sealapi.Evaluator(seal_context).add_plain_inplace(ciphertext, plaintext)
        ciphertext.save(path)
        with open(path, "rb") as handle:
            fields[index] = (_CIPHERTEXT_FIELD, _WIRE_BYTES, handle.read())
    finally:
        with open(path, "wb"):
            pass  # leave no ciphertext behind in the scratch file
    return _message(fields)


def add_to_every_slot(
    vector: ts.CKKSVector, context: ts.Context, values: npt.ArrayLike
) -> ts.CKKSVector:
    """Return vector + values over all N/2 slots of its ciphertext."""
    return ts.ckks_vector_from(
        context, add_to_every_slot_bytes(vector, context, values)
    )
