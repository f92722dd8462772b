"""CKKS slot decoding in double-double precision (about 100 bits), for masked values.

A CKKS plaintext polynomial m (real coefficients, degree < N) at scale D holds N/2
complex slots z_j = m(zeta^g_j) / D, zeta = exp(i pi / N), g_j = 3^j mod 2N (SEAL's
slot order, checked against SEAL's decoder in the tests). SEAL decodes in float64,
which is useless once the coefficients carry a large mask: a slot of magnitude 2^70
keeps no bits after the binary point. This decoder evaluates the same sums with
double-double numbers (a value is hi + lo, |lo| <= ulp(hi) / 2; Dekker's and Knuth's
error-free transformations, no FMA needed), so the error relative to the slots'
magnitude is about 2^-100 instead of 2^-50.

How: for g = 1 mod 4, m(zeta^g) = sum_{k < N/2} (c_k + i c_{k+N/2}) zeta^(g k), since
zeta^(g N/2) = i; with g = 4t + 1 this is an N/2-point DFT of the twisted sequence
(c_k + i c_{k+N/2}) zeta^k. Slots with g = 3 mod 4 are conjugates of the value at
2N - g. The roots of unity are computed once per N from integer fixed-point arithmetic
at 256 bits, so they are correct to the last bit of a double-double.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import numpy.typing as npt

F64 = npt.NDArray[np.float64]
DD = tuple[F64, F64]  # (hi, lo)
_SPLITTER = 134217729.0  # 2^27 + 1: splits a double into two 26-bit halves
_FIXED_BITS = 256


# ---- double-double arithmetic (elementwise, broadcasting) ----------------------
def _two_sum(a: F64, b: F64) -> DD:
    s = a + b
    bb = s - a
    return s, (a - (s - bb)) + (b - bb)


def _quick_two_sum(a: F64, b: F64) -> DD:
    s = a + b
    return s, b - (s - a)


def _split(a: F64) -> DD:
    t = _SPLITTER * a
    hi = t - (t - a)
    return hi, a - hi


def dd_add(x: DD, y: DD) -> DD:
    s, e = _two_sum(x[0], y[0])
    t, f = _two_sum(x[1], y[1])
    s, e = _quick_two_sum(s, e + t)
    return _quick_two_sum(s, e + f)


def _dd_add_sloppy(x: DD, y: DD) -> DD:
    """x + y with error <= ~2^-104 (|x| + |y|) rather than of |x + y|: enough inside
    an FFT, whose error analysis is in terms of the inputs' magnitudes anyway."""
    s, e = _two_sum(x[0], y[0])
    return _quick_two_sum(s, e + (x[1] + y[1]))


def dd_neg(x: DD) -> DD:
    return -x[0], -x[1]


def _dd_mul_split(x: DD, y: DD, y_split: DD) -> DD:
    """x * y with y's high part pre-split (y_split = _split(y[0]))."""
    p = x[0] * y[0]
    ah, al = _split(x[0])
    bh, bl = y_split
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return _quick_two_sum(p, e + (x[0] * y[1] + x[1] * y[0]))


def dd_mul(x: DD, y: DD) -> DD:
    return _dd_mul_split(x, y, _split(y[0]))


def dd_from_float(values: npt.ArrayLike) -> DD:
    hi = np.asarray(values, dtype=np.float64)
    return hi, np.zeros_like(hi)


def dd_mod(x: DD, period: float) -> F64:
    """x mod period, in [0, period), as float64 (error about ulp(period))."""
    k = np.floor(x[0] / period)
    p = k * period
    ph, pl = _split(p)  # exact product k * period = p + e (Dekker)
    kh, kl = _split(k)
    fh, fl = _split(np.full_like(k, period))
    e = ((kh * fh - p) + kh * fl + kl * fh) + kl * fl
    del ph, pl
    r = ((x[0] - p) - e) + x[1]  # x[0] - p is exact (Sterbenz: p is within x - period)
    return r - period * np.floor(r / period)


# ---- roots of unity and SEAL's slot order --------------------------------------
def _pi_fixed(bits: int) -> int:
    """pi * 2^bits (Machin: pi = 16 atan(1/5) - 4 atan(1/239)), exact to a few ulps."""
    guard = bits + 16

    def atan_inv(x: int) -> int:
        total, term, k, x2 = 0, (1 << guard) // x, 1, x * x
        while term:
            total += term // k if k % 4 == 1 else -(term // k)
            term //= x2
            k += 2
        return total

    return (16 * atan_inv(5) - 4 * atan_inv(239)) >> 16


def _dd_of_fixed(values: list[int], bits: int) -> DD:
    hi = np.array([v / (1 << bits) for v in values])
    lo = np.array(
        [
            (v - int(h * 2.0**bits)) / (1 << bits)
            for v, h in zip(values, hi.tolist(), strict=True)
        ]
    )
    return hi, lo


@lru_cache(maxsize=4)
def _roots(degree: int) -> tuple[DD, DD]:
    """(cos, sin) of pi k / N for k < N, as double-doubles."""
    one = 1 << _FIXED_BITS
    angle = _pi_fixed(_FIXED_BITS) // degree
    cos_step, sin_step, term, k = 0, 0, one, 0
    while term:  # Taylor series of exp(i angle)
        if k % 4 == 0:
            cos_step += term
        elif k % 4 == 1:
            sin_step += term
        elif k % 4 == 2:
            cos_step -= term
        else:
            sin_step -= term
        k += 1
        term = term * angle // (one * k)
    cos_values, sin_values = [one], [0]
    for _ in range(degree - 1):
        c, s = cos_values[-1], sin_values[-1]
        cos_values.append((c * cos_step - s * sin_step) >> _FIXED_BITS)
        sin_values.append((c * sin_step + s * cos_step) >> _FIXED_BITS)
    return _dd_of_fixed(cos_values, _FIXED_BITS), _dd_of_fixed(sin_values, _FIXED_BITS)


@lru_cache(maxsize=4)
def _slot_map(degree: int) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
    """For slot j: index t of the DFT output and whether to conjugate it."""
    g = np.array([pow(3, j, 2 * degree) for j in range(degree // 2)], dtype=np.int64)
    upper = g % 4 == 3
    t = np.where(upper, (2 * degree - g - 1) // 4, (g - 1) // 4)
    return t, upper


@lru_cache(maxsize=4)
def _plan(degree: int) -> list[tuple[DD, DD, DD, DD]]:
    """Twiddles of each radix-2 stage, expanded to the stage's (c/2, r) layout:
    exp(i pi j / r) = zeta^(N j / r) for column j < r (see `decode`)."""
    (cos_hi, cos_lo), (sin_hi, sin_lo) = _roots(degree)
    n = degree // 2
    stages = []
    r = 1
    while r < n:
        k = np.broadcast_to((degree // r) * np.arange(r), (n // (2 * r), r))
        c = (np.ascontiguousarray(cos_hi[k]), np.ascontiguousarray(cos_lo[k]))
        s = (np.ascontiguousarray(sin_hi[k]), np.ascontiguousarray(sin_lo[k]))
        stages.append((c, s, _split(c[0]), _split(s[0])))
        r *= 2
    return stages


def _mul_by_split(x: DD, x_split: DD, y: DD, y_split: DD) -> DD:
    """x * y with both high parts pre-split (Dekker's product, then renormalized)."""
    p = x[0] * y[0]
    (ah, al), (bh, bl) = x_split, y_split
    e = ((ah * bh - p) + ah * bl + al * bh) + al * bl
    return _quick_two_sum(p, e + (x[0] * y[1] + x[1] * y[0]))


def _complex_mul(x: DD, c: DD, s: DD, c_split: DD, s_split: DD) -> DD:
    """(x_re + i x_im)(c + i s) for x stacked as [re, im] on the first axis."""
    x_split = _split(x[0])
    p = _mul_by_split(x, x_split, c, c_split)  # [re c, im c]
    q = _mul_by_split(x, x_split, s, s_split)  # [re s, im s]
    swapped = (np.stack([-q[0][1], q[0][0]]), np.stack([-q[1][1], q[1][0]]))
    return _dd_add_sloppy(p, swapped)


def decode(coefficients: DD, degree: int) -> DD:
    """Slots (rows [re, im], shape (2, N/2)) of the polynomial with coefficients
    c_k = hi + lo (already divided by the scale), to about 2^-104 relative.

    The N/2-point DFT is the vectorized radix-2 recursion (stage r combines the
    length-r transforms of the sequences of stride n / r), kept in a layout where
    every operand is contiguous: T has shape (c, r), c = n / r, and a stage maps the
    halves E = T[:c/2], O = T[c/2:] to [E + f O, E - f O] side by side.
    """
    hi, lo = (np.asarray(a, dtype=np.float64) for a in coefficients)
    if hi.shape != (degree,) or lo.shape != (degree,):
        raise ValueError(f"expected {degree} coefficients")
    n = degree // 2
    (cos_hi, cos_lo), (sin_hi, sin_lo) = _roots(degree)
    twist_c, twist_s = (cos_hi[:n], cos_lo[:n]), (sin_hi[:n], sin_lo[:n])
    x: DD = (hi.reshape(2, n), lo.reshape(2, n))  # [c_k ; c_{k+n}] as [re ; im]
    x = _complex_mul(x, twist_c, twist_s, _split(twist_c[0]), _split(twist_s[0]))
    t: DD = (x[0].reshape(2, n, 1), x[1].reshape(2, n, 1))
    for stage, (c, s, c_split, s_split) in enumerate(_plan(degree)):
        half = t[0].shape[1] // 2
        even = (t[0][:, :half], t[1][:, :half])
        odd = (t[0][:, half:], t[1][:, half:])
        if stage:  # the first stage's twiddle is 1
            odd = _complex_mul(odd, c, s, c_split, s_split)
        # [E + fO, E - fO] side by side, in one addition of twice the size
        t = _dd_add_sloppy(
            (
                np.concatenate([even[0], even[0]], axis=2),
                np.concatenate([even[1], even[1]], axis=2),
            ),
            (
                np.concatenate([odd[0], -odd[0]], axis=2),
                np.concatenate([odd[1], -odd[1]], axis=2),
            ),
        )
    out = (t[0].reshape(2, n), t[1].reshape(2, n))
    index, conjugate = _slot_map(degree)
    sign = np.where(conjugate, -1.0, 1.0)
    return (
        np.stack([out[0][0][index], sign * out[0][1][index]]),
        np.stack([out[1][0][index], sign * out[1][1][index]]),
    )


def dd_of_limbs(limbs: npt.NDArray[np.uint64], offset: int, scale_bits: int) -> DD:
    """(sum_l limbs[l] 2^(32 l) + offset) / 2^scale_bits as double-doubles, limbs
    (K, n) < 2^32 each, offset 0 or +-2^e.

    The offset is applied to the top limbs in exact integer arithmetic first, so a
    value much smaller than the offset (a centered coefficient stored as x + 2^160)
    keeps its own 106 bits instead of those of x + 2^160; the limbs are then added
    from the top, each partial sum being x rounded to a multiple of 2^(32 l).
    """
    if offset and abs(offset) & (abs(offset) - 1):
        raise ValueError("the offset must be 0 or +-2^k")
    exponent = abs(offset).bit_length() - 1 if offset else 32 * (len(limbs) - 1)
    j = min(exponent // 32, len(limbs) - 1)
    if limbs[j + 2 :].any() or (j + 1 < len(limbs) and limbs[j + 1].max() >= 1 << 20):
        raise ValueError("value too large for its offset")
    top = limbs[j].astype(np.int64)
    if j + 1 < len(limbs):
        top += limbs[j + 1].astype(np.int64) << 32  # < 2^52: exact as a double
    if offset:
        top += (1 if offset > 0 else -1) << (exponent - 32 * j)
    total: DD = dd_from_float(top.astype(np.float64) * 2.0 ** (32 * j - scale_bits))
    for i in range(j - 1, -1, -1):
        part = limbs[i].astype(np.float64) * 2.0 ** (32 * i - scale_bits)
        total = dd_add(total, dd_from_float(part))
    return total
