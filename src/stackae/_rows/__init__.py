"""Where the rows live: one dispatcher that decides how blocks of samples are run and summed.

Every stackae objective is a sum over samples. The objectives in
:mod:`stackae.objectives` only say what one *block* of rows contributes, in a *block
function*::

    fn(k, block, *args) -> (cost, parts, keep_item)

* ``k`` is a :class:`~stackae._rows._kernels.Kernels`: ``k.xp`` is the rows' array
  namespace and a few named operations (``k.affine``, ``k.activate``, ...) are where an
  engine's speed tricks go;
* ``block`` is a :class:`Block`: the block's input rows ``X``, labels ``y``, targets
  ``T`` (``None`` when they are ``X``), the index of its first row ``start``, what an
  earlier pass kept for these rows (``kept``) and the rows' weights ``w`` (``None``:
  every row weighs 1);
* ``args`` are the same for every block (the parameters, static options);
* it returns its cost, a list of arrays to be summed over blocks (gradient pieces) and,
  when asked to keep something for a later pass, that thing (the sparse autoencoder
  keeps its hidden activations between its two passes).

:func:`rows_of` picks the engine by the type of ``X``; every engine has the same
``map_sum(fn, args, keep=False, kept=None) -> (cost, parts, kept)``:

==========================  ==============================================================
``X``                       engine
==========================  ==============================================================
NumPy array, memory map     :class:`~._numpy.NumpyRows`: cache-sized blocks on threads
Zarr array                  :class:`~._numpy.NumpyRows`, reading block by block
SciPy sparse matrix (CSR)   :class:`~._numpy.NumpyRows`, each block made dense
PyTorch / CuPy / other      :class:`~._device.DeviceRows`: one or a few big blocks on the
array API array             device, sums left there
Dask array                  :class:`~._dask.DaskRows`: the block function mapped over the
                            chunks on the workers, a tree-sum back
==========================  ==============================================================

The regularisation terms (weight decay) are not sums over samples: the objectives add
them once, after the blocks are summed, as Spark's ``CostFun`` and dask-glm do.
"""

from __future__ import annotations

from .. import _xp
from ._block import Block
from ._dask import DaskRows
from ._device import DeviceRows
from ._kernels import Kernels
from ._numpy import (
    NumpyKernels,
    NumpyRows,
    blas_single_thread,
    compiled_kernels,
    get_kernels,
    get_num_threads,
    is_memory_mapped,
    new_kernels,
    release_pages,
    set_kernels,
    set_num_threads,
)

__all__ = [
    "Block",
    "Kernels",
    "NumpyKernels",
    "rows_of",
    "get_num_threads",
    "set_num_threads",
    "get_kernels",
    "set_kernels",
    "compiled_kernels",
    "new_kernels",
    "blas_single_thread",
    "release_pages",
    "is_memory_mapped",
]


def rows_of(X, y=None, T=None, *, widths=(), w=None):
    """The engine for rows held in ``X`` (with labels ``y``, targets ``T`` and row
    weights ``w`` alike).

    ``widths``: the widths of the arrays a block computes (hidden layer sizes), which
    size the NumPy blocks. Every engine has ``weight_total``: the sum of the weights
    (the number of rows without weights), which the objectives divide by.
    """
    if _xp.is_numpy(X) or _xp.is_zarr(X) or _xp.is_sparse(X):
        return NumpyRows(X, y, T, widths=widths, w=w)
    if _xp.is_dask(X):
        return DaskRows(X, y, T, w=w)

    return DeviceRows(X, y, T, library=_xp.library(X), w=w)
