"""Which array library holds an array, and moving arrays between libraries and devices.

stackae computes with the array API standard (https://data-apis.org/array-api/), through
`array-api-compat <https://github.com/data-apis/array-api-compat>`_: the namespace ``xp``
of an array is obtained once from the input, and the same lines then run on NumPy,
PyTorch (CPU or CUDA) and CuPy arrays. "Everything follows X": parameters and
gradients live in ``X``'s namespace and on ``X``'s device.

This module is the only place that knows library names; everything else asks it.
"""

from __future__ import annotations

import importlib
from typing import Any

import array_api_compat
import numpy as np

__all__ = [
    "namespace",
    "library",
    "is_array",
    "is_numpy",
    "is_dask",
    "is_zarr",
    "device_of",
    "take_rows",
    "to_numpy",
    "resolve_device",
    "to_device",
    "float_dtype",
]


def is_dask(a) -> bool:
    return array_api_compat.is_dask_array(a)


def is_zarr(a) -> bool:
    """Rows read from a store on demand: a Zarr array (or a window of one)."""
    return not isinstance(a, np.ndarray) and all(
        hasattr(a, name) for name in ("chunks", "shape", "dtype", "get_orthogonal_selection")
    )


def is_array(a) -> bool:
    """An array of a library the array API reaches (NumPy, PyTorch, CuPy, Dask, ...),
    as opposed to a list, a scalar or a pandas frame."""
    return array_api_compat.is_array_api_obj(a)


def is_sparse(a) -> bool:
    """A SciPy sparse matrix or array (read a block of rows at a time, made dense there)."""
    import sys

    sparse = sys.modules.get("scipy.sparse")  # not imported: no sparse input can exist
    return sparse is not None and sparse.issparse(a)


def on_host(a) -> bool:
    """Rows computed on with NumPy on the host: NumPy arrays and memory maps, Zarr
    arrays, SciPy sparse matrices (both read block by block) and Dask arrays (NumPy on
    the workers); the one question the objectives, the stages and the data helpers ask
    of where the rows live."""
    return is_numpy(a) or is_zarr(a) or is_dask(a) or is_sparse(a)


def is_numpy(a) -> bool:
    """A NumPy array (memory maps included)."""
    return isinstance(a, np.ndarray)


def library(a) -> str:
    """``"numpy"``, ``"torch"``, ``"cupy"``, ``"dask"``, ``"zarr"``, or the namespace's name."""
    if is_numpy(a):
        return "numpy"
    if array_api_compat.is_torch_array(a):
        return "torch"
    if array_api_compat.is_cupy_array(a):
        return "cupy"
    if is_dask(a):
        return "dask"
    if is_zarr(a):
        return "zarr"
    if is_sparse(a):
        return "scipy.sparse"
    try:
        return array_api_compat.array_namespace(a).__name__.split(".")[-1]
    except TypeError:
        return type(a).__module__.split(".")[0]


#: namespaces of the array types whose namespace is the type's alone (the compat modules
#: of NumPy, PyTorch and CuPy), found once: array_namespace is slow beside a lookup, and
#: a minibatch step on a device asks a dozen times (on a GPU the host's time is the step's)
_NAMESPACE_OF_TYPE: dict = {}


def namespace(*arrays):
    """The array API namespace shared by ``arrays`` (``None`` entries are ignored)."""
    arrays = [a for a in arrays if a is not None]
    kind = type(arrays[0]) if arrays else None
    if kind in _NAMESPACE_OF_TYPE and all(type(a) is kind for a in arrays):
        return _NAMESPACE_OF_TYPE[kind]
    xp = array_api_compat.array_namespace(*arrays)
    first = arrays[0]
    if isinstance(first, np.ndarray) or array_api_compat.is_torch_array(first) or array_api_compat.is_cupy_array(first):
        _NAMESPACE_OF_TYPE[kind] = xp
    return xp


def take_rows(a, index):
    """Rows ``index`` (an integer array in ``a``'s library and on its device) of ``a``.
    PyTorch's ``index_select`` is one kernel; the array API's ``take`` there adds three
    for negative indices, which an epoch's order never has."""
    if array_api_compat.is_torch_array(a):
        return a.index_select(0, index)
    return namespace(a).take(a, index, axis=0)


def device_of(a):
    return array_api_compat.device(a)


def describe(a) -> str:
    """``"torch.Tensor on cuda:0"``, ``"numpy.ndarray"``: for error messages."""
    name = f"{type(a).__module__.split('.')[0]}.{type(a).__name__}"
    if is_numpy(a):
        return "numpy.ndarray"
    try:
        return f"{name} on {device_of(a)}"
    except (TypeError, AttributeError, ValueError):
        return name


def to_numpy(a) -> np.ndarray:
    """A NumPy copy (or view) of any supported array, brought to the host if needed."""
    if a is None or is_numpy(a):
        return a
    if array_api_compat.is_torch_array(a):
        return a.detach().cpu().numpy()
    if array_api_compat.is_cupy_array(a):
        return a.get()
    if is_dask(a):
        return np.asarray(a.compute())
    return np.asarray(a)


def numpy_dtype(dtype) -> np.dtype:
    """The NumPy dtype of any array library's dtype (``torch.float32``, CuPy's, Dask's,
    NumPy's own) by its name: the dtype a host copy of such an array has."""
    return np.dtype(str(dtype).rsplit(".", 1)[-1])


def float_dtype(xp, a):
    """The compute dtype for input ``a``: float32 stays float32, anything else float64."""
    return xp.float32 if a.dtype == xp.float32 else xp.float64


# ----------------------------------------------------------------------- devices
_GPU_LIBRARIES = ("torch", "cupy")


def _import(name: str):
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def resolve_device(device) -> tuple[str, object] | None:
    """What ``device=`` asks for: ``None`` for the CPU (``"cpu"``), else ``(library,
    device object)`` for ``"cuda"``, ``"cuda:N"`` (PyTorch if installed, else CuPy),
    ``"torch:cuda:N"``/``"cupy:N"`` to name the library.

    Raises ``ValueError`` with what to install or choose when the device or its library
    is missing.
    """
    if device is None or (isinstance(device, str) and device.lower() == "cpu"):
        return None
    if not isinstance(device, str):
        raise ValueError(f"'device' must be 'cpu', 'cuda' or 'cuda:N', got {device!r}.")
    text = device.lower()
    wanted = None
    for name in _GPU_LIBRARIES:
        if text.startswith(name + ":"):
            wanted, text = name, text[len(name) + 1 :]
            if wanted == "cupy" and text.isdigit():
                text = "cuda:" + text
    if text != "cuda" and not (text.startswith("cuda:") and text[5:].isdigit()):
        raise ValueError(f"'device' must be 'cpu', 'cuda' or 'cuda:N', got {device!r}.")
    index = int(text[5:]) if ":" in text else 0
    for name in (wanted,) if wanted else _GPU_LIBRARIES:
        module = _import(name)
        if module is None:
            continue
        if name == "torch":
            if not module.cuda.is_available():
                raise ValueError(
                    f"device={device!r}: PyTorch is installed but sees no CUDA GPU "
                    f"(torch {module.__version__}, CUDA build: {module.version.cuda or 'no'}). "
                    "Use device='cpu', or install a CUDA build of PyTorch on a machine with a GPU."
                )
            if index >= module.cuda.device_count():
                raise ValueError(
                    f"device={device!r}: PyTorch sees {module.cuda.device_count()} GPU(s), numbered from 0."
                )
            return "torch", module.device("cuda", index)
        try:
            count = module.cuda.runtime.getDeviceCount()
        except Exception as exc:  # CuPy raises its own CUDARuntimeError without a driver
            raise ValueError(f"device={device!r}: CuPy is installed but sees no CUDA GPU ({exc}).") from None
        if index >= count:
            raise ValueError(f"device={device!r}: CuPy sees {count} GPU(s), numbered from 0.")
        return "cupy", module.cuda.Device(index)
    missing = wanted or "PyTorch or CuPy"
    raise ValueError(
        f"device={device!r} needs {missing} with CUDA, which is not installed: "
        "pip install 'stackae[gpu]' (PyTorch), or CuPy for your CUDA version (e.g. pip install cupy-cuda12x)."
    )


def to_device(a: np.ndarray, target: tuple[str, Any], dtype=None):
    """Copy the NumPy array ``a`` onto ``target`` (from :func:`resolve_device`)."""
    name, device = target
    a = np.ascontiguousarray(a if dtype is None else a.astype(dtype, copy=False))
    if name == "torch":
        import torch

        return torch.from_numpy(a).to(device)
    import cupy

    with device:
        return cupy.asarray(a)
