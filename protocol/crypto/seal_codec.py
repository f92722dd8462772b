"""SEAL's binary format for CKKS ciphertexts and plaintexts, read and written in numpy.

TenSEAL's SEAL binding (`tenseal.sealapi`, SEAL 4.1 in tenseal 0.3.18, pinned) exposes
no coefficient access: objects are loaded and saved through files, in SEAL's
serialization format. This module is that format's codec, so the exact layer
(`ckks_exact`) can read the RNS residues of a decrypted plaintext and craft
ciphertexts whose polynomials it chose:

    SEALHeader  magic 0xA15E (u16), header size 16 (u8), version major, minor (u8),
                compression (u8: 0 none, 1 zlib, 2 zstd), reserved (u16), size (u64)
    Ciphertext  parms_id (4 x u64), is_ntt_form (u8), size, N, L (u64), scale (f64),
                correction factor (u64), then a DynArray: its own header, count (u64),
                count u64 coefficients laid out [polynomial][prime][coefficient]
    Plaintext   parms_id (4 x u64), coefficient count (u64), scale (f64), DynArray

SEAL saves with zstd; this module decompresses with the zstd that TenSEAL's extension
bundles and exports (the library that wrote the bytes), and writes uncompressed bytes,
which SEAL always accepts. SEAL validates whatever is loaded (sizes, parameters,
coefficients below their primes), so crafted or received bytes that do not describe a
valid object for the context raise ValueError here.
"""

from __future__ import annotations

import atexit
import ctypes
import os
import struct
import tempfile
import threading
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt
import tenseal.sealapi as sealapi

_HEADER = struct.Struct("<HBBBBHQ")
_MAGIC = 0xA15E
_COMPR_NONE, _COMPR_ZLIB, _COMPR_ZSTD = 0, 1, 2
_PARMS = struct.Struct("<4Q")
_CT_META = struct.Struct("<B3QdQ")  # is_ntt_form, size, N, L, scale, correction
_PT_META = struct.Struct("<Qd")  # coefficient count, scale
_COUNT = struct.Struct("<Q")
# Largest object this codec inflates: a size-3 ciphertext at N = 32768 with 16 primes.
_MAX_INFLATED = 3 * 32768 * 16 * 8 + 4096

ParmsId = tuple[int, int, int, int]


def _load_zstd() -> ctypes.CDLL:
    import _sealapi_cpp  # TenSEAL's SEAL extension, which bundles zstd

    library = ctypes.CDLL(_sealapi_cpp.__file__)
    library.ZSTD_decompress.restype = ctypes.c_size_t
    library.ZSTD_decompress.argtypes = [
        ctypes.c_void_p,
        ctypes.c_size_t,
        ctypes.c_char_p,
        ctypes.c_size_t,
    ]
    library.ZSTD_isError.restype = ctypes.c_uint
    library.ZSTD_isError.argtypes = [ctypes.c_size_t]
    library.ZSTD_getFrameContentSize.restype = ctypes.c_ulonglong
    library.ZSTD_getFrameContentSize.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
    return library


_zstd = _load_zstd()


def _inflate(payload: bytes) -> bytes:
    size = _zstd.ZSTD_getFrameContentSize(payload, len(payload))
    if size > _MAX_INFLATED:  # also the error codes (2^64 - 1, 2^64 - 2)
        raise ValueError("zstd payload of a SEAL object has no valid size")
    out = ctypes.create_string_buffer(size)
    written = _zstd.ZSTD_decompress(out, size, payload, len(payload))
    if _zstd.ZSTD_isError(written) or written != size:
        raise ValueError("corrupt zstd payload in a SEAL object")
    return out.raw


def _body(data: bytes) -> bytes:
    """The uncompressed members of a serialized SEAL object."""
    if len(data) < _HEADER.size:
        raise ValueError("SEAL object is truncated")
    magic, size, major, _, compression, _, total = _HEADER.unpack_from(data)
    if magic != _MAGIC or size != _HEADER.size or major != 4 or total != len(data):
        raise ValueError("not a SEAL 4 object")
    payload = data[_HEADER.size :]
    if compression == _COMPR_NONE:
        return payload
    if compression == _COMPR_ZSTD:
        return _inflate(payload)
    if compression == _COMPR_ZLIB:
        import zlib

        return zlib.decompress(payload)
    raise ValueError(f"unknown SEAL compression mode {compression}")


def _seal_version() -> tuple[int, int]:
    """The SEAL version the binding writes (and reads back without complaint)."""
    path = _scratch_path()
    try:
        sealapi.Plaintext().save(path)
        with open(path, "rb") as handle:
            _, _, major, minor, _, _, _ = _HEADER.unpack(handle.read(_HEADER.size))
    finally:
        with open(path, "wb"):
            pass
    return major, minor


def _header(size: int) -> bytes:
    global _version
    if _version is None:
        _version = _seal_version()
    return _HEADER.pack(_MAGIC, _HEADER.size, *_version, _COMPR_NONE, 0, size)


_version: tuple[int, int] | None = None


def _wrap(members: bytes) -> bytes:
    return _header(_HEADER.size + len(members)) + members


def _read_array(body: bytes, offset: int, expected: int) -> npt.NDArray[np.uint64]:
    inner = body[offset : offset + _HEADER.size]
    if len(inner) < _HEADER.size:
        raise ValueError("SEAL object is truncated")
    magic, _, _, _, compression, _, _ = _HEADER.unpack(inner)
    if magic != _MAGIC or compression != _COMPR_NONE:
        raise ValueError("unexpected SEAL array layout")
    (count,) = _COUNT.unpack_from(body, offset + _HEADER.size)
    start = offset + _HEADER.size + _COUNT.size
    if count != expected or len(body) != start + 8 * count:
        raise ValueError("SEAL array size does not match its metadata")
    return np.frombuffer(body, dtype="<u8", count=count, offset=start).astype(np.uint64)


def _array(values: npt.NDArray[np.uint64]) -> bytes:
    raw = np.ascontiguousarray(values, dtype="<u8").tobytes()
    size = _HEADER.size + _COUNT.size + len(raw)
    return _header(size) + _COUNT.pack(values.size) + raw


@dataclass(frozen=True)
class CiphertextData:
    """A CKKS ciphertext's metadata and polynomials, shape (size, L, N), RNS form."""

    parms_id: ParmsId
    is_ntt_form: bool
    scale: float
    data: npt.NDArray[np.uint64]

    def to_bytes(self) -> bytes:
        size, primes, degree = self.data.shape
        meta = _CT_META.pack(int(self.is_ntt_form), size, degree, primes, self.scale, 1)
        return _wrap(_PARMS.pack(*self.parms_id) + meta + _array(self.data))

    @classmethod
    def from_bytes(cls, data: bytes) -> CiphertextData:
        body = _body(data)
        head = _PARMS.size + _CT_META.size
        if len(body) < head:
            raise ValueError("SEAL ciphertext is truncated")
        parms = _PARMS.unpack_from(body)
        ntt, size, degree, primes, scale, _ = _CT_META.unpack_from(body, _PARMS.size)
        if size > 16 or primes > 64 or degree > 65536:
            raise ValueError("SEAL ciphertext dimensions out of range")
        values = _read_array(body, head, size * primes * degree)
        return cls(parms, bool(ntt), scale, values.reshape(size, primes, degree))


@dataclass(frozen=True)
class PlaintextData:
    """A CKKS plaintext (NTT form at its level), residues of shape (L, N)."""

    parms_id: ParmsId
    scale: float
    data: npt.NDArray[np.uint64]

    def to_bytes(self) -> bytes:
        meta = _PT_META.pack(self.data.size, self.scale)
        return _wrap(_PARMS.pack(*self.parms_id) + meta + _array(self.data))

    @classmethod
    def from_bytes(cls, data: bytes, degree: int) -> PlaintextData:
        body = _body(data)
        head = _PARMS.size + _PT_META.size
        if len(body) < head:
            raise ValueError("SEAL plaintext is truncated")
        parms = _PARMS.unpack_from(body)
        count, scale = _PT_META.unpack_from(body, _PARMS.size)
        if count % degree:
            raise ValueError("SEAL plaintext size is not a multiple of N")
        values = _read_array(body, head, count)
        return cls(parms, scale, values.reshape(count // degree, degree))


class _Serializable(Protocol):
    def save(self, path: str) -> None: ...


def _scratch_path() -> str:
    """A per-thread scratch file, on tmpfs when the machine has one (the binding
    loads and saves through files only)."""
    path: str | None = getattr(_scratch, "path", None)
    if path is None:
        base = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        fd, path = tempfile.mkstemp(prefix="duet-seal-", dir=base)
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


def save_bytes(obj: _Serializable) -> bytes:
    """SEAL's serialization of a ciphertext or plaintext (zstd-compressed)."""
    path = _scratch_path()
    try:
        obj.save(path)
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        with open(path, "wb"):
            pass  # leave no key-dependent data behind in the scratch file


def load_ciphertext(context: sealapi.SEALContext, data: bytes) -> sealapi.Ciphertext:
    """Load and validate a ciphertext for `context` (ValueError if invalid). The blob
    must be exactly as long as its header says: SEAL itself ignores trailing bytes."""
    if len(data) < _HEADER.size or _HEADER.unpack_from(data)[-1] != len(data):
        raise ValueError(
            "not a valid SEAL ciphertext for this context: its length does not"
            " match its header"
        )
    ciphertext = sealapi.Ciphertext()
    path = _scratch_path()
    try:
        with open(path, "wb") as handle:
            handle.write(data)
        ciphertext.load(context, path)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(
            f"not a valid SEAL ciphertext for this context: {exc}"
        ) from exc
    finally:
        with open(path, "wb"):
            pass
    return ciphertext


def load_plaintext(context: sealapi.SEALContext, data: bytes) -> sealapi.Plaintext:
    """Load and validate a plaintext for `context` (ValueError if invalid)."""
    plaintext = sealapi.Plaintext()
    path = _scratch_path()
    try:
        with open(path, "wb") as handle:
            handle.write(data)
        plaintext.load(context, path)
    except (RuntimeError, ValueError) as exc:
        raise ValueError(f"not a valid SEAL plaintext for this context: {exc}") from exc
    finally:
        with open(path, "wb"):
            pass
    return plaintext
