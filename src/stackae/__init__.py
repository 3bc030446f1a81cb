"""stackae: stacked sparse autoencoders, greedily pretrained and fine-tuned by backprop.

One row per sample everywhere: ``X`` has shape ``(n_samples, n_features)`` and a
layer's weights ``W`` shape ``(n_in, n_out)``, so ``Z = X @ W + b``.
"""

from ._params import init_theta, n_params, pack, unpack
from ._rows import get_kernels, get_num_threads, set_kernels, set_num_threads
from ._rows._tuning import set_block_rows
from ._version import __version__
from .estimators import (
    LadderNetworkClassifier,
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedAutoencoderOutlierDetector,
    StackedAutoencoderRegressor,
)
from .exceptions import (
    CollapsedFeaturesWarning,
    DataError,
    IterationLimitWarning,
    ModelFileError,
    NonFiniteError,
    StackaeError,
)
from .gradcheck import check_gradient, numerical_gradient, relative_difference
from .objectives import softmax_cost, sparse_autoencoder_cost, stack_cost

__all__ = [
    "__version__",
    "SparseAutoencoder",
    "SoftmaxRegression",
    "StackedAutoencoderClassifier",
    "StackedAutoencoderRegressor",
    "StackedAutoencoder",
    "StackedAutoencoderOutlierDetector",
    "LadderNetworkClassifier",
    "sparse_autoencoder_cost",
    "softmax_cost",
    "stack_cost",
    "check_gradient",
    "numerical_gradient",
    "relative_difference",
    "init_theta",
    "n_params",
    "pack",
    "unpack",
    "get_num_threads",
    "set_num_threads",
    "get_kernels",
    "set_kernels",
    "set_block_rows",
    "StackaeError",
    "DataError",
    "ModelFileError",
    "NonFiniteError",
    "CollapsedFeaturesWarning",
    "IterationLimitWarning",
]
