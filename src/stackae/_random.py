"""Random numbers keyed by ``(seed, stream, row)``: each row of a block draws from its own
span of a Philox counter, so dropout masks and denoising noise do not depend on how the
rows are split into blocks, chunks or batches, nor on the engine that runs them. Below
both the engines (:mod:`stackae._rows`) and the noise (:mod:`stackae.noise`), which
import it; it imports NumPy alone."""

from __future__ import annotations

import numpy as np

__all__ = [
    "philox_keep_mask",
    "keep_mask_of",
    "philox_keep_bits",
    "philox_uniform",
    "philox_normal",
    "philox_gaussian",
    "philox_below",
]


def philox_keep_mask(seed: int, stream: int, start: int, shape: tuple[int, int], dropout: float, dtype) -> np.ndarray:
    """Counter-based dropout mask on the host (see :meth:`Kernels.keep_mask`).

    Each row takes 16-bit random numbers from its own span of a Philox counter keyed by
    ``(seed, stream)``; an entry is kept when its number is at least ``dropout * 2**16``.
    """
    bits, threshold, scale = philox_keep_bits(seed, stream, start, shape, dropout, dtype)
    return keep_mask_of(bits, threshold, scale, dtype)


def keep_mask_of(bits, threshold, scale, dtype) -> np.ndarray:
    """The mask of :func:`philox_keep_bits`' numbers: ``scale`` where ``bits >= threshold``, else 0."""
    mask = np.greater_equal(bits, threshold).astype(dtype)
    mask *= scale
    return mask


def philox_keep_bits(seed: int, stream: int, start: int, shape: tuple[int, int], dropout: float, dtype):
    """The numbers behind :func:`philox_keep_mask`: ``(bits, threshold, scale)``, the
    mask being ``scale`` where ``bits >= threshold`` and 0 elsewhere. ``bits`` is a
    ``shape`` view of uint16 (rows padded to whole counter steps)."""
    rows, width = shape
    per_counter = 16  # Philox4x64 gives 4 x 64 bits = 16 x 16 bits per counter step
    steps_per_row = -(-width // per_counter)
    key = np.random.SeedSequence([int(seed), int(stream)]).generate_state(2, np.uint64)
    generator = np.random.Philox(key=key, counter=[int(start) * steps_per_row, 0, 0, 0])
    raw = generator.random_raw(rows * steps_per_row * 4)
    bits = raw.view(np.uint16).reshape(rows, steps_per_row * per_counter)[:, :width]
    threshold = np.uint16(min(65535, int(round(dropout * 65536))))
    return bits, threshold, np.asarray(1.0 / (1.0 - dropout), dtype=dtype)


def _philox_rows(seed: int, stream: int, start: int, rows: int, words_per_row: int) -> np.ndarray:
    """``rows`` x ``words_per_row`` random 64-bit words; row ``i`` is a function of
    ``(seed, stream, start + i)`` only (its own span of a counter keyed by the seed)."""
    steps_per_row = -(-words_per_row // 4)  # Philox4x64: 4 words per counter step
    key = np.random.SeedSequence([int(seed), int(stream)]).generate_state(2, np.uint64)
    generator = np.random.Philox(key=key, counter=[int(start) * steps_per_row, 0, 0, 0])
    return generator.random_raw(rows * steps_per_row * 4).reshape(rows, steps_per_row * 4)[:, :words_per_row]


def philox_uniform(seed: int, stream: int, start: int, shape: tuple[int, int], dtype) -> np.ndarray:
    """Uniform numbers in [0, 1) of ``dtype``, row ``i`` a function of ``(seed, stream,
    start + i)`` only, like :func:`philox_keep_mask`: noise that does not depend on how
    the rows are split into blocks, chunks or batches."""
    rows, width = shape
    return _uniform_of(_philox_rows(seed, stream, start, rows, width), dtype)


def philox_normal(seed: int, stream: int, start: int, shape: tuple[int, int], dtype) -> np.ndarray:
    """Standard normal numbers of ``dtype`` by Box and Muller's transform of two
    :func:`philox_uniform` streams (``2 * stream + 1`` and ``2 * stream + 2``), row ``i`` a
    function of ``(seed, stream, start + i)`` only."""
    u1 = 1.0 - philox_uniform(seed, 2 * stream + 1, start, shape, np.float64)  # in (0, 1]
    u2 = philox_uniform(seed, 2 * stream + 2, start, shape, np.float64)
    return (np.sqrt(-2.0 * np.log(u1)) * np.cos(2.0 * np.pi * u2)).astype(dtype)


def philox_gaussian(seed: int, stream: int, start: int, shape: tuple[int, int], dtype) -> np.ndarray:
    """Standard normal numbers like :func:`philox_normal`'s, at half its draws and in
    ``dtype``'s arithmetic: each pair of uniform numbers gives two normal ones (Box and
    Muller's cosine and sine), the first half of a row's columns the cosines. Row ``i``
    is a function of ``(seed, stream, start + i)`` only. (:func:`philox_normal` stays as
    it is for the denoising autoencoders, whose fitted weights it determines.)"""
    rows, width = shape
    half = -(-width // 2)
    words = _philox_rows(seed, stream, start, rows, 2 * half)
    u = _uniform_of(words, dtype)
    radius = np.sqrt(-2.0 * np.log(1.0 - u[:, :half]))  # 1 - u in (0, 1]
    angle = (2.0 * np.pi) * u[:, half:]
    out = np.empty((rows, 2 * half), dtype=dtype)
    np.multiply(radius, np.cos(angle), out=out[:, :half])
    np.multiply(radius, np.sin(angle), out=out[:, half:])
    return out[:, :width]


def _uniform_of(words, dtype):
    """The uniform numbers of 64-bit ``words``: their top 24 (float32) or 53 (float64)
    bits ``k`` as ``k * 2**-bits``, exactly."""
    if np.dtype(dtype) == np.float32:
        return ((words >> np.uint64(40)).astype(np.float32) * np.float32(2.0**-24)).astype(np.float32)
    return (words >> np.uint64(11)).astype(np.float64) * 2.0**-53


def philox_below(seed: int, stream: int, start: int, shape: tuple[int, int], level, dtype) -> np.ndarray:
    """``philox_uniform(seed, stream, start, shape, dtype) < level`` (the same booleans)
    without making the numbers: a word's number is below ``level`` exactly when the word
    is below the first word whose number is not, a comparison of integers."""
    rows, width = shape
    words = _philox_rows(seed, stream, start, rows, width)
    bits = 24 if np.dtype(dtype) == np.float32 else 53
    shift = np.uint64(64 - bits)

    def below(k):  # number k * 2**-bits < level, decided as philox_uniform's numbers are
        return _uniform_of(np.asarray(k, dtype=np.uint64) << shift, dtype) < level

    # the first k not below: next to level * 2**bits unless level rounds strangely
    guess = min(max(int(float(level) * 2**bits), 0), 2**bits)
    candidates = np.arange(max(guess - 2, 0), min(guess + 3, 2**bits), dtype=np.uint64)
    hits = below(candidates)
    if hits[0] and not hits[-1]:
        first = int(candidates[np.argmin(hits)])
    else:  # bisect: below(k) holds for k < lo, fails for k >= hi
        lo, hi = 0, 2**bits
        while lo < hi:
            mid = (lo + hi) // 2
            lo, hi = (mid + 1, hi) if below(mid) else (lo, mid)
        first = lo
    if first == 2**bits:
        return np.ones(shape, dtype=bool)
    return words < (np.uint64(first) << shift)
