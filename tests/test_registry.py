"""The registry of estimators: every registered estimator saves, loads, exports and trains
from the command line by its registration alone, and what is not registered is refused."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import StackedAutoencoderClassifier
from stackae.cli import TASKS
from stackae.estimators import registered, registration_named, registration_of, task_estimators
from stackae.estimators._registry import FITTED_TYPES, register
from stackae.export import OUTPUTS
from stackae.io import load_model, save_model
from test_sklearn_compat import QUICK


@pytest.fixture(scope="module")
def data():
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    return X[:300] / 16.0, y[:300]


def _fitted(cls, X, y):
    entry = registration_of(cls)
    est = cls(**QUICK[cls])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        if entry.predicts == "classes":
            return est.fit(X, y)
        if entry.predicts == "values":
            return est.fit(X, y / 9.0)
        return est.fit(X)


@pytest.mark.parametrize("entry", registered(), ids=lambda e: e.name)
def test_each_registered_estimator_round_trips_through_its_model_file(entry, data, tmp_path):
    X, y = data
    est = _fitted(entry.cls, X, y)
    save_model(est, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert type(loaded) is entry.cls
    method = {"classes": "predict_proba", "values": "predict", "codes": "transform", "outliers": "score_samples"}
    np.testing.assert_array_equal(getattr(loaded, method[entry.predicts])(X), getattr(est, method[entry.predicts])(X))
    for key in entry.fitted:
        assert key in FITTED_TYPES
        if hasattr(est, key):
            assert getattr(loaded, key) == getattr(est, key)
    if entry.classifies:
        np.testing.assert_array_equal(loaded.classes_, est.classes_)


@pytest.mark.parametrize("entry", registered(), ids=lambda e: e.name)
def test_each_registered_estimator_exports_its_default_output(entry, data):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")
    X, y = data
    est = _fitted(entry.cls, X, y)
    assert OUTPUTS[entry.name] == entry.outputs
    with torch.no_grad():
        got = est.to_torch()(torch.from_numpy(X.astype(np.float32))).numpy()
    method = entry.outputs[0] if entry.outputs[0] in ("predict_proba", "predict") else "transform"
    expected = getattr(est, method)(X)
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_the_command_line_tasks_are_the_registered_ones():
    assert TASKS == task_estimators()
    assert list(TASKS) == ["classify", "regress", "reconstruct", "outliers", "ladder"]
    assert {registration_of(cls).task for cls in TASKS.values()} == set(TASKS)


def test_a_subclass_is_what_its_registered_base_is_and_others_are_not_registered(tmp_path):
    class MyClassifier(StackedAutoencoderClassifier):
        pass

    assert registration_of(MyClassifier) is registration_of(StackedAutoencoderClassifier)
    assert registration_of(MyClassifier()).predicts == "classes"
    assert registration_of(object()) is None and registration_named("LogisticRegression") is None
    from sklearn.linear_model import LogisticRegression

    from stackae.export import to_torch

    with pytest.raises(TypeError, match=r"^to_torch takes a fitted stackae estimator, got LogisticRegression\.$"):
        to_torch(LogisticRegression())
    with pytest.raises(ValueError, match=r"^Only fitted stackae estimators can be saved, got LogisticRegression\.$"):
        save_model(LogisticRegression(), tmp_path / "m.npz")


def test_registering_refuses_a_taken_task_and_unknown_kinds():
    with pytest.raises(ValueError, match=r"^The task 'classify' is already StackedAutoencoderClassifier's\.$"):

        @register(task="classify", predicts="classes", outputs=("predict_proba",))
        class Another:
            pass

    with pytest.raises(ValueError, match=r"^'predicts' must be one of"):
        register(predicts="probabilities", outputs=())
    with pytest.raises(ValueError, match=r"^Fitted numbers \['mean_'\] have no type in FITTED_TYPES\.$"):
        register(predicts="codes", outputs=(), fitted=("mean_",))
