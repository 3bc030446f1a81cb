"""A fitted model for use without stackae: a ``torch.nn.Module`` (or a file
``torch.export`` wrote), or an ONNX model through skl2onnx's converters, computing what
the estimator's methods compute.

>>> module = stackae.export.to_torch(clf)             # clf.predict_proba, as a module
>>> module(torch.from_numpy(X_test.astype("float32")))
>>> stackae.export.register_onnx()                    # then skl2onnx.to_onnx(pipeline, X[:1])

The module is the network's layers as ``nn.Linear`` (which stores a weight as
``(out, in)``: the transpose of stackae's ``W``) with their activations, and the output
the estimator's method gives: probabilities for a classifier, predictions for a
regressor, codes (``transform``) or reconstructions for an autoencoder. This module
imports the estimators, never the reverse (their ``to_torch`` methods call it when
asked).
"""

from __future__ import annotations

import numpy as np

__all__ = ["to_torch", "save_torch", "register_onnx", "save_onnx", "OUTPUTS"]

#: What each kind of estimator's module may return, the default first.
OUTPUTS = {
    "classifier": ("predict_proba", "scores", "transform"),
    "softmax": ("predict_proba", "scores"),  # SoftmaxRegression: no hidden layer to transform to
    "regressor": ("predict", "transform"),
    "autoencoder": ("transform", "reconstruct"),
}


def _kind(estimator) -> str:
    from .estimators import (
        LadderNetworkClassifier,
        SoftmaxRegression,
        SparseAutoencoder,
        StackedAutoencoder,
        StackedAutoencoderClassifier,
        StackedAutoencoderRegressor,
    )

    if isinstance(estimator, SoftmaxRegression):
        return "softmax"
    if isinstance(estimator, StackedAutoencoderClassifier | LadderNetworkClassifier):
        return "classifier"
    if isinstance(estimator, StackedAutoencoderRegressor):
        return "regressor"
    if isinstance(estimator, StackedAutoencoder | SparseAutoencoder):  # the detector is a StackedAutoencoder
        return "autoencoder"
    raise TypeError(f"to_torch takes a fitted stackae estimator, got {type(estimator).__name__}.")


def _layers(estimator, output: str):
    """``[(W, b, activation), ...]`` of the network that computes ``output``."""
    from .estimators import SoftmaxRegression, SparseAutoencoder

    W, b = list(estimator.coefs_), list(estimator.intercepts_)
    if isinstance(estimator, SoftmaxRegression):
        return [(W[0], b[0], "linear")]
    act = estimator.activation
    if isinstance(estimator, SparseAutoencoder):
        if output == "transform":
            return [(W[0], b[0], act)]
        return [(W[0], b[0], act), (W[1], b[1], estimator.output_activation)]
    n_code = estimator._n_code_layers
    if output == "transform":
        return [(W[i], b[i], act) for i in range(n_code)]
    last = "linear"
    if output == "reconstruct":
        last = estimator.output_activation
    return [(W[i], b[i], act) for i in range(len(W) - 1)] + [(W[-1], b[-1], last)]


def to_torch(estimator, output: str | None = None, dtype=None):
    """A ``torch.nn.Module`` computing ``output`` of the fitted ``estimator``.

    Parameters
    ----------
    estimator : a fitted stackae estimator
    output : str, optional
        The method it stands for (:data:`OUTPUTS`): a classifier's ``"predict_proba"``
        (default), ``"scores"`` (the softmax's input, one column a class) or ``"transform"``
        (not for :class:`~stackae.SoftmaxRegression`, which has no hidden layer); a
        regressor's ``"predict"`` (default) or ``"transform"``; an autoencoder's (the
        outlier detector's too) ``"transform"`` (default) or ``"reconstruct"``.
    dtype : torch dtype, optional
        Of the parameters (default float32).

    Returns
    -------
    torch.nn.Module
        In evaluation mode; it takes a float tensor of shape (n_samples, n_features).
    """
    from sklearn.utils.validation import check_is_fitted

    try:
        import torch
    except ImportError:  # pragma: no cover - where torch is absent
        raise ImportError("to_torch needs PyTorch: pip install torch") from None
    kind = _kind(estimator)
    check_is_fitted(estimator)
    output = OUTPUTS[kind][0] if output is None else output
    if output not in OUTPUTS[kind]:
        choices = ", ".join(repr(o) for o in OUTPUTS[kind])
        raise ValueError(f"A {type(estimator).__name__}'s module gives one of {choices}, got output={output!r}.")
    dtype = torch.float32 if dtype is None else dtype
    activations = {"sigmoid": torch.nn.Sigmoid, "tanh": torch.nn.Tanh, "relu": torch.nn.ReLU, "linear": None}
    modules = []
    for W, b, activation in _layers(estimator, output):
        linear = torch.nn.Linear(W.shape[0], W.shape[1], dtype=dtype)
        with torch.no_grad():
            linear.weight.copy_(torch.from_numpy(np.ascontiguousarray(np.asarray(W).T)))  # nn.Linear: (out, in)
            linear.bias.copy_(torch.from_numpy(np.asarray(b)))
        modules.append(linear)
        if activations[activation] is not None:
            modules.append(activations[activation]())
    if output == "predict_proba":
        modules.append(torch.nn.Softmax(dim=1))
    one_target = estimator.n_outputs_ == 1 if kind == "regressor" else False
    if output == "predict" and one_target and getattr(estimator, "_y_is_vector", True):
        modules.append(torch.nn.Flatten(0))  # one target fitted on a vector: predictions of shape (n,)
    return torch.nn.Sequential(*modules).eval()


def save_torch(estimator, path, output: str | None = None) -> None:
    """Write :func:`to_torch`'s module to ``path`` with ``torch.export`` (any number of
    rows), loadable without stackae: ``torch.export.load(path).module()(X)``. The file
    is written beside ``path`` and renamed over it."""
    import torch

    from ._files import atomic_write

    module = to_torch(estimator, output)
    example = torch.zeros((2, int(estimator.n_features_in_)), dtype=torch.float32)
    program = torch.export.export(module, (example,), dynamic_shapes=({0: torch.export.Dim("rows")},))
    atomic_write(path, lambda fh: torch.export.save(program, fh))


# ------------------------------------------------------------------------ ONNX
_ONNX_ACTIVATIONS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "linear": None}


def _onnx_layers(scope, container, operator, layers):
    """The network's nodes from the operator's input: ``MatMul``, ``Add`` and the
    activation of each layer, in the input's float type; the last output's name."""
    from skl2onnx.common.data_types import guess_proto_type
    from skl2onnx.proto import onnx_proto

    proto = guess_proto_type(operator.inputs[0].type)
    if proto != onnx_proto.TensorProto.DOUBLE:
        proto = onnx_proto.TensorProto.FLOAT
    dtype = np.float64 if proto == onnx_proto.TensorProto.DOUBLE else np.float32
    current = scope.get_unique_variable_name("input")
    container.add_node(
        "Cast", operator.inputs[0].full_name, current, to=proto, name=scope.get_unique_operator_name("Cast")
    )
    for W, b, activation in layers:
        w_name, b_name = scope.get_unique_variable_name("W"), scope.get_unique_variable_name("b")
        container.add_initializer(w_name, proto, list(W.shape), np.asarray(W, dtype=dtype).ravel())
        container.add_initializer(b_name, proto, [1, int(b.shape[0])], np.asarray(b, dtype=dtype).ravel())
        product, added = scope.get_unique_variable_name("product"), scope.get_unique_variable_name("added")
        container.add_node("MatMul", [current, w_name], product, name=scope.get_unique_operator_name("MatMul"))
        container.add_node("Add", [product, b_name], added, name=scope.get_unique_operator_name("Add"))
        current = added
        if _ONNX_ACTIVATIONS[activation] is not None:
            activated = scope.get_unique_variable_name("activated")
            op_type = _ONNX_ACTIVATIONS[activation]
            container.add_node(op_type, current, activated, name=scope.get_unique_operator_name(op_type))
            current = activated
    return current


def _convert_classifier(scope, operator, container):
    """Two outputs, as skl2onnx's classifiers have them: the label and the probabilities."""
    from skl2onnx.proto import onnx_proto

    model = operator.raw_operator
    scores = _onnx_layers(scope, container, operator, _layers(model, "predict_proba"))
    container.add_node(
        "Softmax", scores, operator.outputs[1].full_name, axis=1, name=scope.get_unique_operator_name("Softmax")
    )
    index = scope.get_unique_variable_name("index")
    container.add_node(
        "ArgMax",
        operator.outputs[1].full_name,
        index,
        axis=1,
        keepdims=0,
        name=scope.get_unique_operator_name("ArgMax"),
    )
    classes = np.asarray(model.classes_)
    name = scope.get_unique_variable_name("classes")
    if np.issubdtype(classes.dtype, np.integer):
        container.add_initializer(name, onnx_proto.TensorProto.INT64, [classes.size], classes.astype(np.int64))
    else:
        container.add_initializer(
            name, onnx_proto.TensorProto.STRING, [classes.size], [str(c).encode() for c in classes]
        )
    picked, shape = scope.get_unique_variable_name("picked"), scope.get_unique_variable_name("shape")
    container.add_node(
        "ArrayFeatureExtractor",
        [name, index],
        picked,
        op_domain="ai.onnx.ml",
        name=scope.get_unique_operator_name("ArrayFeatureExtractor"),
    )
    container.add_initializer(shape, onnx_proto.TensorProto.INT64, [1], [-1])
    container.add_node(  # (1, n) to the (n,) labels
        "Reshape", [picked, shape], operator.outputs[0].full_name, name=scope.get_unique_operator_name("Reshape")
    )


def _convert_regressor(scope, operator, container):
    model = operator.raw_operator
    last = _onnx_layers(scope, container, operator, _layers(model, "predict"))
    container.add_node("Identity", last, operator.outputs[0].full_name, name=scope.get_unique_operator_name("Identity"))


def _convert_transformer(scope, operator, container):
    model = operator.raw_operator
    last = _onnx_layers(scope, container, operator, _layers(model, "transform"))
    container.add_node("Identity", last, operator.outputs[0].full_name, name=scope.get_unique_operator_name("Identity"))


def _transformer_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    model = operator.raw_operator
    width = int(_layers(model, "transform")[-1][0].shape[1])
    rows = operator.inputs[0].get_first_dimension()
    kind = DoubleTensorType if isinstance(operator.inputs[0].type, DoubleTensorType) else FloatTensorType
    operator.outputs[0].type = kind([rows, width])


def register_onnx() -> None:
    """Register stackae's estimators with skl2onnx (``update_registered_converter``), so
    that ``skl2onnx.to_onnx`` converts them, alone or inside a Pipeline: a classifier
    gives the label and the probabilities (skl2onnx's ``zipmap`` option as for its own
    classifiers), a regressor its predictions, a deep or sparse autoencoder its codes
    (``transform``). Call it once before ``skl2onnx.to_onnx`` (:func:`save_onnx` does);
    it needs ``pip install 'stackae[onnx]'``."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    from .estimators import (
        LadderNetworkClassifier,
        SoftmaxRegression,
        SparseAutoencoder,
        StackedAutoencoder,
        StackedAutoencoderClassifier,
        StackedAutoencoderRegressor,
    )

    for cls in (StackedAutoencoderClassifier, LadderNetworkClassifier, SoftmaxRegression):
        update_registered_converter(
            cls,
            f"Stackae{cls.__name__}",
            calculate_linear_classifier_output_shapes,
            _convert_classifier,
            options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
            overwrite=True,
        )
    update_registered_converter(
        StackedAutoencoderRegressor,
        "StackaeStackedAutoencoderRegressor",
        calculate_linear_regressor_output_shapes,
        _convert_regressor,
        overwrite=True,
    )
    for cls in (StackedAutoencoder, SparseAutoencoder):
        update_registered_converter(
            cls, f"Stackae{cls.__name__}", _transformer_shape, _convert_transformer, overwrite=True
        )


def save_onnx(estimator, path) -> None:
    """Write ``estimator`` (a fitted stackae estimator or a Pipeline holding some) as
    an ONNX model by ``skl2onnx.to_onnx`` (float32 inputs, any number of rows; a
    classifier's probabilities as a tensor, without ZipMap)."""
    from skl2onnx import to_onnx

    from ._files import atomic_write

    register_onnx()
    n_features = int(estimator.n_features_in_)
    classifiers = [step for step in _steps(estimator) if hasattr(step, "classes_")]
    options = {id(step): {"zipmap": False} for step in classifiers}
    onnx_model = to_onnx(estimator, np.zeros((1, n_features), dtype=np.float32), options=options or None)
    atomic_write(path, lambda fh: fh.write(onnx_model.SerializeToString()))


def _steps(estimator):
    return [step for _, step in getattr(estimator, "steps", [])] or [estimator]
