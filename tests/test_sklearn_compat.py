"""scikit-learn compliance: parametrize_with_checks over every estimator, Pipeline and
GridSearchCV."""

from __future__ import annotations

import warnings

from sklearn.exceptions import ConvergenceWarning
from sklearn.utils.estimator_checks import parametrize_with_checks

from stackae import SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier

# Small, quick settings: the checks fit hundreds of times on tiny data.
ESTIMATORS = [
    SparseAutoencoder(n_hidden=5, max_iter=30, random_state=0),
    SoftmaxRegression(max_iter=100, random_state=0),
    StackedAutoencoderClassifier(
        (8,), alpha=1e-4, pretrain_max_iter=30, softmax_max_iter=50, finetune_max_iter=50, random_state=0
    ),
]


@parametrize_with_checks(ESTIMATORS)
def test_sklearn_compatible(estimator, check):
    # Hitting max_iter on the checks' toy data is expected and not what they test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)
