"""Settings derived from the machine, not from one machine's numbers.

The rows of a block should be as many as keep the block's element-wise work in the
cache: each block's few (rows x features) arrays (the input rows, the layer's output,
its deltas) should fit in half of this core's share of the last-level cache, and a
block should have at least 256 rows so that the products whose inner dimension is the
block (``A^T delta``) run near the BLAS peak. ``STACKAE_BLOCK_ROWS`` or
:func:`set_block_rows` override the choice.

The cache sizes come from Linux's sysfs (``/sys/devices/system/cpu/cpu0/cache``), which
also says how many cores share each cache; elsewhere from ``os.sysconf``; failing both,
8 MiB per core is assumed.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path

__all__ = ["cache_share_bytes", "block_rows", "set_block_rows", "MIN_BLOCK_ROWS", "MAX_BLOCK_ROWS"]

MIN_BLOCK_ROWS = 256
MAX_BLOCK_ROWS = 4096
#: (rows x features) arrays a block keeps live in its element-wise passes.
LIVE_ARRAYS = 3
_override: int | None = None


def _parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * factor


def _count_cpus(cpu_list: str) -> int:
    count = 0
    for part in cpu_list.strip().split(","):
        if "-" in part:
            lo, hi = part.split("-")
            count += int(hi) - int(lo) + 1
        elif part:
            count += 1
    return max(count, 1)


@lru_cache(maxsize=1)
def cache_share_bytes() -> int:
    """This core's share of its largest (last-level) cache, in bytes."""
    best = 0
    folder = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in folder.glob("index*"):
            kind = (index / "type").read_text().strip()
            if kind not in ("Data", "Unified"):
                continue
            size = _parse_size((index / "size").read_text())
            shared = _count_cpus((index / "shared_cpu_list").read_text())
            best = max(best, size // shared)
    except (OSError, ValueError):
        best = 0
    if best == 0:
        for name in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
            try:
                size = os.sysconf(name)
            except (ValueError, OSError, AttributeError):
                size = 0
            if size and size > 0:
                best = size // (os.cpu_count() or 1) if name == "SC_LEVEL3_CACHE_SIZE" else size
                break
    return best or 8 << 20


def set_block_rows(n: int | None) -> None:
    """Force the rows per block (``None``: back to the machine-derived choice)."""
    global _override
    if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
        raise ValueError(f"'block_rows' must be a positive integer or None, got {n!r}.")
    _override = n


def _env_block_rows() -> int | None:
    text = os.environ.get("STACKAE_BLOCK_ROWS")
    if not text:
        return None
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise ValueError(f"STACKAE_BLOCK_ROWS must be a positive integer, got {text!r}.")
    return value


def block_rows(n_features: int, widths=(), itemsize: int = 8) -> int:
    """Rows per block for data of ``n_features`` columns whose blocks also hold arrays of
    ``widths`` columns (hidden layers), in ``itemsize``-byte floats.

    Fewer rows than one block per thread (a minibatch) stay one block, whose products
    BLAS runs on all the threads: splitting them between threads costs more (each
    thread's gradient must be added up, and BLAS is slow on thin products) than the
    element-wise passes it would share (measured on 784-200-200-10 and 784-1024-1024-10
    with batches of 128 to 1024: 1.1-1.7x slower split).
    """
    if _override is not None:
        return _override
    forced = _env_block_rows()
    if forced is not None:
        return forced
    widest = max([int(n_features), *[int(w) for w in widths]])
    row_bytes = LIVE_ARRAYS * widest * itemsize
    rows = (cache_share_bytes() // 2) // max(row_bytes, 1)
    return int(max(MIN_BLOCK_ROWS, min(MAX_BLOCK_ROWS, rows)) // 64 * 64)
