"""The NumPy engine's settings: how many threads it runs (:func:`get_num_threads`), and
which element-wise kernels: the registry of
:class:`~._numpy_kernels.NumpyKernels` and its compiled companion
:class:`~._compiled.CompiledKernels`, apart from both, so that neither imports the
other's chooser (:mod:`._compiled` builds on the NumPy kernels; the engine in
:mod:`._numpy` asks here which set to make).
"""

from __future__ import annotations

import importlib
import os
import warnings

import numpy as np

from ._numpy_kernels import NumpyKernels

__all__ = [
    "KERNELS",
    "get_kernels",
    "set_kernels",
    "compiled_kernels",
    "new_kernels",
    "get_num_threads",
    "set_num_threads",
]

_kernels_kind: str | None = None
_num_threads: int | None = None
KERNELS = ("numba", "numpy")


def _numba_available() -> bool:
    try:
        import numba  # noqa: F401
    except ImportError:
        return False
    return True


def _check_kernels(kind, source: str, choices: str) -> str:
    if kind not in KERNELS:
        raise ValueError(f"{source} must be {choices}, got {kind!r}.")
    if kind == "numba" and not _numba_available():
        raise ImportError(f"{source} is 'numba' but Numba is not installed: pip install 'stackae[fast]'.")
    return kind


def _compiled_loads() -> bool:
    """Whether :mod:`._compiled` loads. Numba may be installed and still fail here (a
    NumPy it does not support, no writable folder for its cache): the default then falls
    back to the NumPy kernels with a warning, rather than failing every evaluation."""
    try:
        importlib.import_module(f"{__package__}._compiled")
    except Exception as exc:  # any failure means: not these kernels
        warnings.warn(
            f"stackae's compiled kernels could not be loaded ({type(exc).__name__}: {exc}); using its NumPy "
            "kernels (STACKAE_KERNELS=numpy chooses them without this warning).",
            RuntimeWarning,
            stacklevel=4,
        )
        return False
    return True


def get_kernels() -> str:
    """The element-wise kernels the objectives use on NumPy rows: ``"numba"`` (compiled,
    fused: :mod:`stackae._rows._compiled`) or ``"numpy"``. ``set_kernels``, else
    ``STACKAE_KERNELS``, else ``"numba"`` where Numba is installed (``stackae[fast]``)."""
    global _kernels_kind
    if _kernels_kind is None:
        env = os.environ.get("STACKAE_KERNELS")
        if env:
            _kernels_kind = _check_kernels(env, "STACKAE_KERNELS", "'numba' or 'numpy'")
        else:
            _kernels_kind = "numba" if _numba_available() and _compiled_loads() else "numpy"
    return _kernels_kind


def compiled_kernels():
    """:mod:`stackae._rows._compiled` when the chosen kernels are the compiled ones, else
    None: for the whole-vector steps outside the block functions (optimizer updates,
    max-norm), which try it first and fall back to NumPy."""
    if get_kernels() != "numba":
        return None
    from . import _compiled

    return _compiled


def set_kernels(kind: str | None) -> None:
    """Choose the element-wise kernels (``"numba"`` or ``"numpy"``; ``None``: back to the
    default, see :func:`get_kernels`). Results of the two agree to rounding, not to the bit."""
    global _kernels_kind
    _kernels_kind = None if kind is None else _check_kernels(kind, "'kernels'", "'numba', 'numpy' or None")


def new_kernels() -> NumpyKernels:
    """A fresh set of kernels of the chosen kind (each keeps its own scratch buffers)."""
    if get_kernels() == "numba":
        from ._compiled import CompiledKernels

        return CompiledKernels()
    return NumpyKernels()


# ------------------------------------------------------------------ threads
def _default_num_threads() -> int:
    env = os.environ.get("STACKAE_NUM_THREADS")
    if env:
        try:
            n = int(env)
        except ValueError:
            n = 0
        if n >= 1:
            return n
        raise ValueError(f"STACKAE_NUM_THREADS must be a positive integer, got {env!r}.")
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def get_num_threads() -> int:
    """Threads the objectives use: ``set_num_threads``, else ``STACKAE_NUM_THREADS``,
    else the cores this process may run on."""
    global _num_threads
    if _num_threads is None:
        _num_threads = _default_num_threads()
    return _num_threads


def set_num_threads(n: int | None) -> None:
    """Set the number of threads the objectives use (``None``: back to the default)."""
    global _num_threads
    if n is not None and (isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 1):
        raise ValueError(f"'n_threads' must be a positive integer or None, got {n!r}.")
    _num_threads = None if n is None else int(n)
