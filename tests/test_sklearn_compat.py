"""scikit-learn compliance: parametrize_with_checks over every estimator, Pipeline and
GridSearchCV."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import MinMaxScaler
from sklearn.utils.estimator_checks import parametrize_with_checks

from stackae import (
    LadderNetworkClassifier,
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedAutoencoderOutlierDetector,
    StackedAutoencoderRegressor,
)
from stackae.datasets import load_digits_split
from stackae.estimators import registered

# No check is skipped by us. scikit-learn itself skips its array-API checks unless
# SCIPY_ARRAY_API=1 is set (stackae's objectives are NumPy-only for now), and its
# pandas checks when pandas is missing (pandas is in the dev extras).

# Small, quick settings: the checks fit hundreds of times on tiny data. One row per
# registered estimator (as scikit-learn's own common tests keep their per-estimator
# settings); the list of estimators itself comes from the registry.
QUICK = {
    SparseAutoencoder: dict(n_hidden=5, max_iter=30, random_state=0),
    SoftmaxRegression: dict(max_iter=100, random_state=0),
    StackedAutoencoderClassifier: dict(
        hidden_layer_sizes=(8,),
        alpha=1e-4,
        pretrain_max_iter=30,
        output_max_iter=50,
        finetune_max_iter=50,
        random_state=0,
    ),
    StackedAutoencoderRegressor: dict(
        hidden_layer_sizes=(8,),
        alpha=1e-4,
        pretrain_max_iter=30,
        output_max_iter=50,
        finetune_max_iter=50,
        random_state=0,
    ),
    StackedAutoencoder: dict(
        hidden_layer_sizes=(6, 3), alpha=1e-4, pretrain_max_iter=20, finetune_max_iter=30, random_state=0
    ),
    StackedAutoencoderOutlierDetector: dict(
        hidden_layer_sizes=(6, 3), alpha=1e-4, pretrain_max_iter=20, finetune_max_iter=30, random_state=0
    ),
    LadderNetworkClassifier: dict(
        hidden_layer_sizes=(8,), denoising_weights=(1.0, 0.1, 0.1), max_iter=20, batch_size=32, random_state=0
    ),
}
ESTIMATORS = [entry.cls(**QUICK[entry.cls]) for entry in registered() if entry.cls in QUICK]


def test_every_registered_estimator_is_checked():
    assert [entry.cls for entry in registered()] == [type(est) for est in ESTIMATORS]


#: Integer weights give the objectives of the repeated rows to rounding (a relative 1e-16,
#: tests/test_sample_weight.py), but three L-BFGS stages in a row carry that rounding to
#: predictions that differ by about 1e-6, over the check's 1e-7; the models of one stage
#: pass it. tests/test_sample_weight.py checks the stacked models' equivalence at 1e-4.
_ROUNDING = "the repeated rows' objective to rounding; three L-BFGS stages carry it to about 1e-6 in the predictions"


#: scikit-learn's semi-supervised convention, which stackae's classifiers follow: the
#: label -1 marks an unlabeled row (unlabeled_label=None makes it a class, and then the
#: check passes: test_minus_one_is_a_class_without_unlabeled_label).
_UNLABELED = "labels -1 and 1: -1 marks an unlabeled row by default, leaving one class"


def _expected_failures(estimator):
    if isinstance(estimator, (SparseAutoencoder, SoftmaxRegression)):
        return {}
    if isinstance(estimator, LadderNetworkClassifier):  # no sample_weight
        return {"check_classifiers_classes": _UNLABELED}
    semi = {"check_classifiers_classes": _UNLABELED} if isinstance(estimator, StackedAutoencoderClassifier) else {}
    return {
        **semi,
        "check_sample_weight_equivalence_on_dense_data": _ROUNDING,
        "check_sample_weight_equivalence_on_sparse_data": _ROUNDING,
    }


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=_expected_failures)
def test_sklearn_compatible(estimator, check):
    # Hitting max_iter on the checks' toy data is expected and not what they test.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        check(estimator)


def test_pipeline_and_grid_search_with_string_labels():
    data = load_digits_split()
    names = np.array([f"digit-{i}" for i in range(10)])
    pipe = make_pipeline(
        MinMaxScaler(),
        StackedAutoencoderClassifier(
            (16,), alpha=1e-4, pretrain_max_iter=40, output_max_iter=40, finetune_max_iter=40, random_state=0
        ),
    )
    search = GridSearchCV(pipe, {"stackedautoencoderclassifier__sparsity_target": [0.05, 0.2]}, cv=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(data.X_train, names[data.y_train])
    assert search.best_params_["stackedautoencoderclassifier__sparsity_target"] in (0.05, 0.2)
    assert search.score(data.X_test, names[data.y_test]) >= 0.9
    assert set(search.predict(data.X_test[:20])) <= set(names)


def test_sparse_autoencoder_features_in_a_pipeline():
    data = load_digits_split()
    pipe = make_pipeline(
        SparseAutoencoder(32, alpha=1e-4, max_iter=60, random_state=0), SoftmaxRegression(random_state=0)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        pipe.fit(data.X_train, data.y_train)
    assert pipe.score(data.X_test, data.y_test) >= 0.85


@pytest.mark.parametrize("layer", [0, 3, 1.5])
def test_transform_layer_must_exist(layer):
    data = load_digits_split()
    clf = StackedAutoencoderClassifier((4, 3), pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(data.X_train[:50], data.y_train[:50])
    with pytest.raises(ValueError, match=rf"^'layer' must be an integer in 1\.\.2, got {layer!r}\.$"):
        clf.transform(data.X_test, layer=layer)


def test_new_models_in_pipelines_and_grid_search():
    data = load_digits_split()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        # the deep autoencoder scores itself (minus the mean reconstruction error)
        search = GridSearchCV(
            make_pipeline(MinMaxScaler(), StackedAutoencoder((16, 8), alpha=1e-4, pretrain_max_iter=10,
                                                             finetune_max_iter=20, random_state=0)),
            {"stackedautoencoder__hidden_layer_sizes": [(16, 4), (16, 8)]},
            cv=2,
        ).fit(data.X_train)  # fmt: skip
        assert search.best_params_["stackedautoencoder__hidden_layer_sizes"] == (16, 8)  # a wider code
        codes = search.best_estimator_.transform(data.X_test)
        assert codes.shape == (data.X_test.shape[0], 8)
        # the regressor's R^2, and its codes feeding another model
        reg = GridSearchCV(
            StackedAutoencoderRegressor((16,), alpha=1e-4, pretrain_max_iter=10, output_max_iter=20,
                                        finetune_max_iter=20, random_state=0),
            {"output_alpha": [1e-4, 1e-1]},
            cv=2,
        ).fit(data.X_train, data.y_train.astype(float))  # fmt: skip
        assert reg.score(data.X_test, data.y_test.astype(float)) > 0.5
        pipe = make_pipeline(
            StackedAutoencoder((32,), alpha=1e-4, pretrain_max_iter=20, finetune_max_iter=20, random_state=0),
            SoftmaxRegression(random_state=0),
        ).fit(data.X_train, data.y_train)
        assert pipe.score(data.X_test, data.y_test) > 0.8
