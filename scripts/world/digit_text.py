"""Fixed-width decimal text built as byte matrices, for fast identifier columns.

Formatting millions of phone numbers and resident IDs through Python strings would be
the slowest step of the generator; building an (n, width) ASCII matrix with integer
arithmetic and handing its bytes to Arrow is two orders of magnitude faster.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

# ASCII text of every 4-digit group 0000..9999: one gather replaces four divisions.
_GROUPS = (
    (np.arange(10_000)[:, None] // np.array([1000, 100, 10, 1])) % 10 + ord("0")
).astype(np.uint8)


def digit_matrix(values: np.ndarray, width: int) -> np.ndarray:
    """Return the (n, width) ASCII digits of non-negative integers, zero-padded."""
    values = np.asarray(values, dtype=np.int64)
    n_groups = -(-width // 4)
    groups = np.empty((values.shape[0], n_groups), dtype=np.int64)
    rest = values
    for g in range(n_groups - 1, -1, -1):
        rest, groups[:, g] = np.divmod(rest, 10_000)
    text = _GROUPS[groups].reshape(values.shape[0], n_groups * 4)
    return text[:, n_groups * 4 - width :]


def ascii_rows(matrix: np.ndarray) -> pa.Array:
    """Return an Arrow string array whose i-th value is row i of an ASCII matrix."""
    matrix = np.ascontiguousarray(matrix, dtype=np.uint8)
    n, width = matrix.shape
    offsets = np.arange(0, (n + 1) * width, width, dtype=np.int32)
    return pa.StringArray.from_buffers(
        n, pa.py_buffer(offsets), pa.py_buffer(matrix.tobytes())
    )


def decimal_strings(values: np.ndarray, width: int) -> pa.Array:
    """Return zero-padded decimal strings of `width` digits as an Arrow array."""
    return ascii_rows(digit_matrix(values, width))


def prefixed_ids(prefix: str, values: np.ndarray, width: int) -> pa.Array:
    """Return ids like `R01234`: an ASCII prefix and zero-padded digits."""
    values = np.asarray(values, dtype=np.int64)
    head = np.frombuffer(prefix.encode("ascii"), dtype=np.uint8)
    matrix = np.empty((values.shape[0], head.size + width), dtype=np.uint8)
    matrix[:, : head.size] = head
    matrix[:, head.size :] = digit_matrix(values, width)
    return ascii_rows(matrix)
