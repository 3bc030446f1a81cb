"""Block sizes measured on the machine, not read from one machine's numbers.

The rows of a block should be as many as keep the block's element-wise work in the
cache, and at least 256 so that the products whose inner dimension is the block
(``A^T delta``) run near the BLAS peak. How many that is depends on the cache a process
really gets, which a machine does not always say truly: a virtual machine's two vCPUs
may report a host's whole L3 as theirs, and a rule read from it chooses blocks far
larger than the fastest.

So the budget of cache a block may fill is measured, once per CPU model, library
versions, kernels, thread count and dtype, at the first use that matters (rows of at
least :data:`CALIBRATE_BYTES` of live data: the small embedded runs never pay for it):
:func:`calibrate` times the stack objective's blocks at a few sizes (a few seconds),
keeps the fastest and caches it on disk (``$STACKAE_CACHE``, else the user cache
folder, ``block-rows.json``). Without a measurement (small data, ``STACKAE_CALIBRATE=0``,
or a cache folder that cannot be written) the rule is :func:`rule_budget`: four times
the core's private L2, which virtual machines report truly. ``STACKAE_BLOCK_ROWS`` or
:func:`set_block_rows` override both.

The cache sizes come from Linux's sysfs (``/sys/devices/system/cpu/cpu0/cache``), which
also says how many cores share each cache; elsewhere from ``os.sysconf``; failing both,
1 MiB of L2 per core is assumed.
"""

from __future__ import annotations

import json
import os
import threading
from functools import lru_cache
from pathlib import Path

from .._files import atomic_write
from .._version import __version__
from ._registry import get_kernels, get_num_threads

__all__ = [
    "cache_share_bytes",
    "cache_geometry",
    "rule_budget",
    "calibrate",
    "set_probe",
    "block_rows",
    "set_block_rows",
    "MIN_BLOCK_ROWS",
    "MAX_BLOCK_ROWS",
]

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


#: Candidate block sizes :func:`calibrate` times.
CANDIDATES = (256, 512, 1024, 2048, 4096)
#: Live data (rows x widest x LIVE_ARRAYS x itemsize) from which a measured budget is worth its seconds.
CALIBRATE_BYTES = 256 << 20


@lru_cache(maxsize=1)
def cache_geometry() -> dict:
    """``{"L1": bytes, "L2": bytes, "L3": bytes}`` per core (each cache's size over the
    cores that share it), read from sysfs or ``os.sysconf``; absent levels are 0."""
    found: dict[str, int] = {}
    folder = Path("/sys/devices/system/cpu/cpu0/cache")
    try:
        for index in folder.glob("index*"):
            kind = (index / "type").read_text().strip()
            if kind not in ("Data", "Unified"):
                continue
            level = int((index / "level").read_text())
            size = _parse_size((index / "size").read_text())
            shared = _count_cpus((index / "shared_cpu_list").read_text())
            found[f"L{level}"] = max(found.get(f"L{level}", 0), size // shared)
    except (OSError, ValueError):
        found = {}
    if not found:
        for level, name in ((2, "SC_LEVEL2_CACHE_SIZE"), (3, "SC_LEVEL3_CACHE_SIZE")):
            try:
                size = os.sysconf(name)
            except (ValueError, OSError, AttributeError):
                size = 0
            if size and size > 0:
                found[f"L{level}"] = size // (os.cpu_count() or 1) if level == 3 else size
    return {name: int(found.get(name, 0)) for name in ("L1", "L2", "L3")}


def cache_share_bytes() -> int:
    """This core's share of its largest (last-level) cache, in bytes (as reported)."""
    geometry = cache_geometry()
    return max(geometry.values()) or 8 << 20


def rule_budget(geometry: dict) -> int:
    """The cache a block may fill when none was measured: four times the core's private
    L2 (1 MiB assumed where unknown), whatever the last level says: a virtual machine's
    L3 may be the whole host's."""
    return 4 * (geometry.get("L2") or 1 << 20)


def _rows_for(budget: int, n_features: int, widths, itemsize: int) -> int:
    widest = max([int(n_features), *[int(w) for w in widths]])
    rows = (budget // 2) // max(LIVE_ARRAYS * widest * itemsize, 1)
    return int(max(MIN_BLOCK_ROWS, min(MAX_BLOCK_ROWS, rows)) // 64 * 64)


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


def block_rows(n_features: int, widths=(), itemsize: int = 8, n_samples: int | None = None) -> int:
    """Rows per block for data of ``n_features`` columns whose blocks also hold arrays of
    ``widths`` columns (hidden layers), in ``itemsize``-byte floats; ``n_samples`` (the
    rows to be split) decides whether a measured budget is worth making (see the
    module's docstring).

    Fewer rows than one block per thread (a minibatch) stay one block, whose products
    BLAS runs on all the threads: splitting them between threads costs more (each
    thread's gradient must be added up, and BLAS is slow on thin products) than the
    element-wise passes it would share.
    """
    if _override is not None:
        return _override
    forced = _env_block_rows()
    if forced is not None:
        return forced
    widest = max([int(n_features), *[int(w) for w in widths]])
    budget = None
    if n_samples is not None and n_samples * widest * LIVE_ARRAYS * itemsize >= CALIBRATE_BYTES:
        budget = calibrate(itemsize)
    if budget is None:
        budget = rule_budget(cache_geometry())
    return _rows_for(budget, n_features, widths, itemsize)


# ------------------------------------------------------------------ measuring
_measured: dict = {}
_probe = None
_lock = threading.Lock()


def _cache_file() -> Path:
    folder = os.environ.get("STACKAE_CACHE")
    if not folder:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
        folder = os.path.join(base, "stackae")
    return Path(folder) / "block-rows.json"


@lru_cache(maxsize=1)
def _machine() -> str:
    """The CPU model and the libraries, read once a process (about 1.7 ms: /proc/cpuinfo
    and threadpoolctl's survey of the loaded BLAS), not at every engine a large X makes."""
    import platform

    import numpy as np

    model = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    blas = ""
    try:  # scikit-learn's dependency: NumPy's BLAS, its version and kernels (SkylakeX, Haswell, ...)
        from threadpoolctl import threadpool_info

        found = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        # NumPy's own, not whichever others (SciPy's) happen to be loaded yet: the key must not
        # depend on what was imported before the first measurement
        own = [i for i in found if "numpy" in str(i.get("filepath", ""))] or found
        blas = " ".join(f"{i.get('internal_api')} {i.get('version')} {i.get('architecture')}" for i in own)
    except Exception:  # noqa: BLE001 - without it, the NumPy version alone
        pass
    return "|".join([model, f"numpy {np.__version__} {blas}", f"stackae {__version__}"])


def _machine_key(itemsize: int) -> str:
    """What a measurement holds for: the CPU model, the libraries, the kernels, the
    threads (which a process may change), the dtype."""

    return "|".join([_machine(), f"kernels {get_kernels()}", f"threads {get_num_threads()}", f"float{8 * itemsize}"])


def set_probe(probe) -> None:
    """Register what :func:`calibrate` times: ``probe(dtype)`` returns ``at(rows)``, which
    returns a callable running one evaluation on blocks of ``rows`` rows. The engines know
    no objective, so the objectives register theirs (:func:`stackae.objectives.stack_probe`:
    the stack objective on 8192 random rows of a 784-200-200-10 network) when they load."""
    global _probe
    _probe = probe


def calibrate(itemsize: int, force: bool = False, probe=None) -> int | None:
    """The cache budget (bytes) measured for blocks of ``itemsize``-byte floats on this
    machine, from the disk cache or measured now (``force``: measured again) by timing
    ``probe`` (default: the one registered by :func:`set_probe`); None when
    ``STACKAE_CALIBRATE=0`` or when there is nothing to time.

    The measurement: one evaluation of the probe at each block size of
    :data:`CANDIDATES`, the best of three (after one to warm up), about 1-3 s in all. The smallest size within 2% of the
    fastest wins (the difference is noise on a shared machine, and a smaller block
    holds less memory); its rows, times the row's live bytes and two (the rule's half of
    the budget), are the budget."""
    if os.environ.get("STACKAE_CALIBRATE", "1").strip().lower() in ("0", "no", "false", "off"):
        return None
    probe = _probe if probe is None else probe
    if probe is None:
        return None
    key = _machine_key(itemsize)
    with _lock:
        if not force and key in _measured:
            return _measured[key]
        path = _cache_file()
        stored = {}
        try:
            stored = json.loads(path.read_text())
        except (OSError, ValueError):
            stored = {}
        if not isinstance(stored, dict):
            stored = {}
        entry = stored.get(key)
        if not force and isinstance(entry, dict) and isinstance(entry.get("budget"), int) and entry["budget"] > 0:
            _measured[key] = entry["budget"]
            return entry["budget"]
        rows, seconds = _measure(itemsize, probe)
        budget = 2 * rows * LIVE_ARRAYS * 784 * itemsize
        _measured[key] = budget
        stored[key] = {"budget": budget, "rows_784": rows, "seconds": seconds}
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_write(path, lambda fh: fh.write(json.dumps(stored, indent=1).encode()))
        except OSError:  # a read-only home: measured again by the next process
            pass
        return budget


def _measure(itemsize: int, probe):
    """``(best rows, {rows: seconds})`` of :func:`calibrate`'s timing of ``probe``."""
    import time

    import numpy as np

    at = probe(np.float32 if itemsize == 4 else np.float64)
    seconds = {}
    for rows in CANDIDATES:
        evaluate = at(rows)
        best = np.inf
        for attempt in range(4):
            start = time.perf_counter()
            evaluate()
            if attempt:  # the first warms the buffers up
                best = min(best, time.perf_counter() - start)
        seconds[rows] = round(best, 5)
    fastest = min(seconds.values())
    return min(rows for rows, t in seconds.items() if t <= 1.02 * fastest), seconds
