"""Export: each estimator's torch module computes what its methods compute (float32, to
1e-6), the exported program loads without stackae, bad requests are clear errors."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning, NotFittedError

from stackae import (
    LadderNetworkClassifier,
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedAutoencoderOutlierDetector,
    StackedAutoencoderRegressor,
)
from stackae.cli import main
from stackae.datasets import load_digits_split
from stackae.io import save_model

torch = pytest.importorskip("torch", reason="PyTorch is not installed (pip install torch==2.13.0)")


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(dtype=np.float32)


def _fit(model, *args):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(*args)


SHORT = dict(pretrain_max_iter=10, finetune_max_iter=10, random_state=0)


@pytest.fixture(scope="module")
def fitted(digits):
    X, y = digits.X_train, digits.y_train
    return {
        "classifier": _fit(StackedAutoencoderClassifier((16, 8), output_max_iter=10, **SHORT), X, y),
        "relu classifier": _fit(
            StackedAutoencoderClassifier(
                (16,), activation="relu", output_activation="linear", sparsity_weight=0.0, output_max_iter=10, **SHORT
            ),
            X,
            y,
        ),  # fmt: skip
        "regressor": _fit(StackedAutoencoderRegressor((16,), output_max_iter=10, **SHORT), X, y.astype(float)),
        "autoencoder": _fit(
            StackedAutoencoder((16, 4), activation="tanh", output_activation="linear", sparsity_weight=0.0, **SHORT), X
        ),  # fmt: skip
        "detector": _fit(StackedAutoencoderOutlierDetector((16, 4), **SHORT), X),
        "ladder": _fit(
            LadderNetworkClassifier((16,), denoising_weights=(1.0, 0.1, 0.1), max_iter=2, random_state=0), X, y
        ),  # fmt: skip
        "softmax": _fit(SoftmaxRegression(max_iter=10, random_state=0), X, y),
        "sparse autoencoder": _fit(SparseAutoencoder(12, max_iter=10, random_state=0), X),
    }


CASES = [
    ("classifier", None, "predict_proba"),
    ("classifier", "scores", "decision_function"),
    ("classifier", "transform", "transform"),
    ("relu classifier", None, "predict_proba"),
    ("regressor", None, "predict"),
    ("regressor", "transform", "transform"),
    ("autoencoder", None, "transform"),
    ("autoencoder", "reconstruct", "reconstruct"),
    ("detector", None, "transform"),
    ("detector", "reconstruct", "reconstruct"),
    ("ladder", None, "predict_proba"),
    ("softmax", None, "predict_proba"),
    ("sparse autoencoder", None, "transform"),
    ("sparse autoencoder", "reconstruct", "inverse_transform"),
]


@pytest.mark.parametrize(("name", "output", "method"), CASES, ids=[f"{c[0]}-{c[2]}" for c in CASES])
def test_the_module_computes_what_the_method_computes(fitted, digits, name, output, method):
    model = fitted[name]
    module = model.to_torch(output)
    assert isinstance(module, torch.nn.Module) and not module.training
    X = digits.X_test
    with torch.no_grad():
        got = module(torch.from_numpy(X)).numpy()
    if method == "inverse_transform":
        expected = model.inverse_transform(model.transform(X))
    else:
        expected = getattr(model, method)(X)
    if method == "decision_function" and expected.ndim == 1:
        expected = np.column_stack([-expected, expected])
    assert got.shape == np.shape(expected)
    # float32 products: an output near 0 among outputs near 5 carries their absolute rounding
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-6 * max(1.0, float(np.abs(expected).max())))


def test_nn_linear_holds_the_transposed_weights(fitted):
    model = fitted["classifier"]
    first = model.to_torch()[0]
    np.testing.assert_array_equal(first.weight.detach().numpy(), model.coefs_[0].T)


def test_bad_requests_are_clear_errors(fitted):
    with pytest.raises(NotFittedError):
        StackedAutoencoderClassifier().to_torch()
    with pytest.raises(ValueError) as info:
        fitted["regressor"].to_torch("predict_proba")
    assert str(info.value) == (
        "A StackedAutoencoderRegressor's module gives one of 'predict', 'transform', got output='predict_proba'."
    )
    with pytest.raises(ValueError) as info:  # a lone softmax has no hidden layer to transform into
        fitted["softmax"].to_torch("transform")
    assert str(info.value) == (
        "A SoftmaxRegression's module gives one of 'predict_proba', 'scores', got output='transform'."
    )


def test_the_command_line_exports_a_program_that_loads_without_stackae(fitted, digits, tmp_path, capsys):
    model_file, program = tmp_path / "m.npz", tmp_path / "m.pt2"
    save_model(fitted["classifier"], model_file)
    assert main(["export", str(model_file), "--out", str(program)]) == 0
    assert f"exported to {program}" in capsys.readouterr().out
    loaded = torch.export.load(str(program)).module()
    for rows in (1, 7, 540):
        with torch.no_grad():
            got = loaded(torch.from_numpy(digits.X_test[:rows])).numpy()
        np.testing.assert_allclose(got, fitted["classifier"].predict_proba(digits.X_test[:rows]), atol=1e-6)
    with pytest.raises(SystemExit) as info:  # argparse's own refusal of an unknown format
        main(["export", str(model_file), "--format", "tflite", "--out", str(tmp_path / "m.tflite")])
    assert info.value.code == 2 and "invalid choice: 'tflite'" in capsys.readouterr().err
    assert main(["export", str(model_file), "--out", str(model_file)]) == 1  # never over its input
    assert "--out" in capsys.readouterr().err


# ------------------------------------------------------------------------ ONNX
def _onnx_session(onnx_model):
    ort = pytest.importorskip("onnxruntime")
    return ort.InferenceSession(onnx_model.SerializeToString(), providers=["CPUExecutionProvider"])


@pytest.mark.parametrize("name", ["classifier", "relu classifier", "ladder", "softmax"])
def test_onnx_classifiers_give_the_labels_and_probabilities(fitted, digits, name):
    skl2onnx = pytest.importorskip("skl2onnx")
    from stackae.export import register_onnx

    register_onnx()
    model = fitted[name]
    onnx_model = skl2onnx.to_onnx(model, digits.X_test[:1], options={id(model): {"zipmap": False}})
    session = _onnx_session(onnx_model)
    label, proba = session.run(None, {session.get_inputs()[0].name: digits.X_test})
    np.testing.assert_allclose(proba, model.predict_proba(digits.X_test), atol=1e-6)
    np.testing.assert_array_equal(label, model.predict(digits.X_test))


@pytest.mark.parametrize(("name", "method"), [("regressor", "predict"), ("autoencoder", "transform"),
                                              ("sparse autoencoder", "transform")])  # fmt: skip
def test_onnx_regressors_and_autoencoders(fitted, digits, name, method):
    skl2onnx = pytest.importorskip("skl2onnx")
    from stackae.export import register_onnx

    register_onnx()
    model = fitted[name]
    session = _onnx_session(skl2onnx.to_onnx(model, digits.X_test[:1]))
    (got,) = session.run(None, {session.get_inputs()[0].name: digits.X_test})
    expected = getattr(model, method)(digits.X_test)
    np.testing.assert_allclose(got.reshape(np.shape(expected)), expected, rtol=1e-5, atol=1e-5)


def test_a_pipeline_with_a_stackae_step_converts(digits, tmp_path, capsys):
    pytest.importorskip("skl2onnx")
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from stackae.export import save_onnx

    pipe = make_pipeline(StandardScaler(), StackedAutoencoderClassifier((16,), output_max_iter=10, **SHORT))
    _fit(pipe, digits.X_train, digits.y_train)
    save_onnx(pipe, tmp_path / "pipe.onnx")
    import onnx

    session = _onnx_session(onnx.load(tmp_path / "pipe.onnx"))
    label, proba = session.run(None, {session.get_inputs()[0].name: digits.X_test})
    np.testing.assert_allclose(proba, pipe.predict_proba(digits.X_test), atol=1e-5)
    assert (label == pipe.predict(digits.X_test)).mean() == 1.0
    # and from the command line, a model file
    save_model(pipe[-1], tmp_path / "m.npz")
    assert main(["export", str(tmp_path / "m.npz"), "--format", "onnx", "--out", str(tmp_path / "m.onnx")]) == 0
    assert "exported to" in capsys.readouterr().out and (tmp_path / "m.onnx").stat().st_size > 1000
