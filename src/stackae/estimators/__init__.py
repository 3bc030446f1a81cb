"""scikit-learn estimators: they validate input and wire the objectives to an optimizer.

* :class:`SparseAutoencoder` - one autoencoder layer (a transformer);
* :class:`SoftmaxRegression` - multinomial logistic regression (a classifier);
* :class:`StackedAutoencoderClassifier` - greedy layer-wise pretraining, a softmax on
  top, then fine-tuning of the whole stack by backpropagation (UFLDL's recipe);
* :class:`StackedAutoencoderRegressor` - the same with a linear output and squared error;
* :class:`StackedAutoencoder` - the stack unrolled into a deep autoencoder, fine-tuned
  on reconstruction (a transformer: codes, reconstructions, scores);
* :class:`StackedAutoencoderOutlierDetector` - outliers by its reconstruction error;
* :class:`LadderNetworkClassifier` - the Ladder network: a denoising autoencoder at
  every layer trained jointly with the classifier, learning from unlabeled rows.

The stacked estimators share one base (:mod:`._base`) and differ by their output head
(:mod:`stackae.heads`). One module per estimator; the stages they share (pretraining a layer, the softmax,
fine-tuning, early stopping) are in :mod:`._stages`, the handling of every kind of
``X`` (NumPy, memory maps, Zarr, GPU arrays, Dask) in :mod:`._data`, the parameter
checks in :mod:`._validation`.

References
----------
UFLDL Tutorial, "Stacked Autoencoders" and "Fine-tuning Stacked AEs",
http://ufldl.stanford.edu/wiki/index.php/Fine-tuning_Stacked_AEs
"""

# The estimators register themselves as their modules load (._registry), so the order
# of these imports is the registry's: the order of the command line's tasks.
# ruff: noqa: I001
from ._autoencoder import SparseAutoencoder
from ._softmax import SoftmaxRegression
from ._stacked import StackedAutoencoderClassifier
from ._regressor import StackedAutoencoderRegressor
from ._unsupervised import StackedAutoencoder, StackedAutoencoderOutlierDetector
from ._ladder import LadderNetworkClassifier
from ._registry import registered, registration, registration_named, registration_of, task_estimators
from ._parameters import SOLVERS

__all__ = [
    "SparseAutoencoder",
    "SoftmaxRegression",
    "StackedAutoencoderClassifier",
    "StackedAutoencoderRegressor",
    "StackedAutoencoder",
    "StackedAutoencoderOutlierDetector",
    "LadderNetworkClassifier",
    "SOLVERS",
    "registered",
    "registration",
    "registration_of",
    "registration_named",
    "task_estimators",
]
