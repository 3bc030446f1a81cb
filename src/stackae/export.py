"""A fitted model for use without stackae: a ``torch.nn.Module`` (or a file
``torch.export`` wrote), or an ONNX model through skl2onnx's converters, computing what
the estimator's methods compute.

>>> module = stackae.export.to_torch(clf)             # clf.predict_proba, as a module
>>> module(torch.from_numpy(X_test.astype("float32")))
>>> stackae.export.register_onnx()                    # then skl2onnx.to_onnx(pipeline, X[:1])

The module is the network's layers as ``nn.Linear`` (which stores a weight as
``(out, in)``: the transpose of stackae's ``W``) with their activations, and the output
the estimator's method gives: probabilities for a classifier, predictions for a
regressor, codes (``transform``) or reconstructions for an autoencoder. What an
estimator's module may compute and which ONNX converter it takes are read from the
registry of estimators (:mod:`stackae.estimators._registry`); the estimators build
their own modules (``to_torch``) and never import this module.
"""

from __future__ import annotations

import numpy as np

from ._files import atomic_write
from .estimators import registered, registration_of

__all__ = ["to_torch", "save_torch", "register_onnx", "save_onnx", "OUTPUTS"]

#: What each estimator's module may return (:func:`to_torch`'s ``output``), the default
#: first, by the estimator's name: read from the registry of estimators.
OUTPUTS = {r.name: r.outputs for r in registered()}


def _registered(estimator):
    found = registration_of(estimator)
    if found is None:
        raise TypeError(f"to_torch takes a fitted stackae estimator, got {type(estimator).__name__}.")
    return found


def to_torch(estimator, output: str | None = None, dtype=None):
    """A ``torch.nn.Module`` computing ``output`` of the fitted ``estimator``, any stackae
    estimator: ``estimator.to_torch(output, dtype)``, whose docstring
    (:meth:`~stackae.StackedAutoencoderClassifier.to_torch`) says what each estimator's
    module may compute (:data:`OUTPUTS`, the default first) and in which dtype. Anything
    but a stackae estimator is a TypeError.
    """
    _registered(estimator)
    return estimator.to_torch(output, dtype)


def save_torch(estimator, path, output: str | None = None) -> None:
    """Write :func:`to_torch`'s module to ``path`` with ``torch.export`` (any number of
    rows), loadable without stackae: ``torch.export.load(path).module()(X)``. The file
    is written beside ``path`` and renamed over it."""
    import torch

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
    scores = _onnx_layers(scope, container, operator, model._export_layers("predict_proba"))
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
    last = _onnx_layers(scope, container, operator, model._export_layers("predict"))
    container.add_node("Identity", last, operator.outputs[0].full_name, name=scope.get_unique_operator_name("Identity"))


def _convert_transformer(scope, operator, container):
    model = operator.raw_operator
    last = _onnx_layers(scope, container, operator, model._export_layers("transform"))
    container.add_node("Identity", last, operator.outputs[0].full_name, name=scope.get_unique_operator_name("Identity"))


def _transformer_shape(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    model = operator.raw_operator
    width = int(model._export_layers("transform")[-1][0].shape[1])
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

    for entry in registered():
        if entry.predicts == "classes":
            update_registered_converter(
                entry.cls,
                f"Stackae{entry.name}",
                calculate_linear_classifier_output_shapes,
                _convert_classifier,
                options={"zipmap": [True, False, "columns"], "nocl": [True, False]},
                overwrite=True,
            )
        elif entry.predicts == "values":
            update_registered_converter(
                entry.cls,
                f"Stackae{entry.name}",
                calculate_linear_regressor_output_shapes,
                _convert_regressor,
                overwrite=True,
            )
        else:  # codes: the autoencoders and the outlier detector give transform
            update_registered_converter(
                entry.cls, f"Stackae{entry.name}", _transformer_shape, _convert_transformer, overwrite=True
            )


def save_onnx(estimator, path) -> None:
    """Write ``estimator`` (a fitted stackae estimator or a Pipeline holding some) as
    an ONNX model by ``skl2onnx.to_onnx`` (float32 inputs, any number of rows; a
    classifier's probabilities as a tensor, without ZipMap)."""
    from skl2onnx import to_onnx

    register_onnx()
    n_features = int(estimator.n_features_in_)
    classifiers = [step for step in _steps(estimator) if hasattr(step, "classes_")]
    options = {id(step): {"zipmap": False} for step in classifiers}
    onnx_model = to_onnx(estimator, np.zeros((1, n_features), dtype=np.float32), options=options or None)
    atomic_write(path, lambda fh: fh.write(onnx_model.SerializeToString()))


def _steps(estimator):
    return [step for _, step in getattr(estimator, "steps", [])] or [estimator]
