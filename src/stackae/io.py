"""Model files: one ``.npz`` of arrays (read with ``allow_pickle=False``) holding a JSON
metadata record: format and stackae versions, estimator and hyperparameters, class
labels, data shape and training history.

Saving is atomic: the file is written beside its destination and renamed over it, so
a crash never leaves a half-written model in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from ._files import atomic_write
from ._safenpz import read_npz
from ._version import __version__
from .estimators import registration, registration_named
from .estimators._parameters import check_params, effective_params, upgrade_params
from .estimators._registry import FITTED_TYPES
from .exceptions import ModelFileError
from .log import REPORTING_PARAMS

__all__ = ["save_model", "load_model", "FORMAT_VERSION"]

FORMAT_NAME = "stackae-model"
# 2: the hyperparameters of stackae 0.2 (noise, activation, dropout, device, ...);
# 3: the regressor, the deep autoencoder and the outlier detector (their fitted scalars);
#    the Ladder network (its folded network; its training history is single-stage)
FORMAT_VERSION = 3
_HISTORY = ("stage_costs_", "n_iter_", "loss_curve_", "stage_seconds_", "loss_")


def _jsonable(value):
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.random.RandomState | np.random.Generator):
        return None
    return value


def save_model(estimator, path, *, metadata: dict | None = None) -> None:
    """Save a fitted stackae estimator to ``path`` (``.npz``).

    Parameters
    ----------
    estimator : a fitted stackae estimator
    path : path-like
    metadata : dict, optional
        Extra JSON-serialisable facts about the data, e.g. ``{"image_shape": [28, 28],
        "input_scale": 255}``; kept in the file and returned by :func:`load_model` as
        ``estimator.metadata_``.
    """
    name = type(estimator).__name__
    entry = registration_named(name)
    if entry is None or not hasattr(estimator, "coefs_"):
        raise ValueError(f"Only fitted stackae estimators can be saved, got {name}.")
    arrays = {}
    for prefix, attr in (
        ("coef", "coefs_"),
        ("intercept", "intercepts_"),
        ("pretrained_coef", "pretrained_coefs_"),
        ("pretrained_intercept", "pretrained_intercepts_"),
    ):
        for i, a in enumerate(getattr(estimator, attr, [])):
            arrays[f"{prefix}_{i}"] = np.asarray(a)
    classes = getattr(estimator, "classes_", None)
    if classes is not None:
        if classes.dtype == object:
            classes = classes.astype(str)
        arrays["classes"] = classes
    record = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "stackae_version": __version__,
        "estimator": name,
        # under the names they have now (a deprecated name's value under its new one)
        "params": _jsonable({k: v for k, v in effective_params(estimator).items() if k not in REPORTING_PARAMS}),
        "n_features_in": int(estimator.n_features_in_),
        "n_layers": len(estimator.coefs_),
        "history": {
            attr.rstrip("_"): _jsonable(getattr(estimator, attr)) for attr in _HISTORY if hasattr(estimator, attr)
        },
        "metadata": _jsonable({**getattr(estimator, "metadata_", {}), **(metadata or {})}),
        "fitted": {
            key: _jsonable(getattr(estimator, key))
            for key in FITTED_TYPES
            if key in entry.fitted and hasattr(estimator, key)
        },
    }
    arrays["metadata"] = np.array(json.dumps(record))
    atomic_write(path, lambda fh: np.savez(fh, **arrays))  # type: ignore[arg-type]  # NumPy's stub


def _fail(path, why: str):
    raise ModelFileError(f"'{path}' is not a usable stackae model: {why}.")


def load_model(path):
    """Load an estimator saved by :func:`save_model`.

    Raises
    ------
    FileNotFoundError
        No such file.
    ModelFileError
        The file is truncated, corrupted, not a stackae model, or from a newer format.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such model file: '{path}'.")
    arrays = read_npz(
        path,
        lambda why: ModelFileError(f"'{path}' is not a usable stackae model: {why}."),
        first=("metadata", "classes"),
        check=_declared_shape_check(),
    )
    if "metadata" not in arrays:
        _fail(path, "it has no stackae metadata (was it written by another program?)")
    try:
        record = json.loads(str(arrays.pop("metadata")))
    except (json.JSONDecodeError, TypeError) as exc:
        _fail(path, f"its metadata is corrupted ({exc})")
    if not isinstance(record, dict) or record.get("format") != FORMAT_NAME:
        _fail(path, "it has no stackae metadata (was it written by another program?)")
    version = record.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise ModelFileError(
            f"'{path}' was written in model format {version!r} by stackae "
            f"{record.get('stackae_version')}; this stackae ({__version__}) reads format "
            f"{FORMAT_VERSION} and older. Upgrade stackae to load it."
        )
    try:
        return _rebuild(record, arrays)
    except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
        _fail(path, f"its contents are inconsistent ({exc})")


def _declared_shape_check():
    """``check`` for :func:`~stackae._safenpz.read_npz`: before a layer's array is
    inflated, each of its declared dimensions must be a width the metadata gives (the
    features, a hidden layer's size, the classes' or outputs' count), so that a small
    file declaring a huge array is refused before any memory is taken for it."""
    widths = {}

    def check(name, shape, dtype, arrays):
        if name in ("metadata", "classes"):
            return
        if "metadata" not in arrays:
            return  # no metadata to check against: the file is refused once read, for that
        if not widths:
            widths["allowed"] = _declared_widths(arrays)
        allowed = widths["allowed"]
        if allowed is not None and any(d not in allowed for d in shape):
            raise ValueError(
                f"its array '{name}' declares shape {shape}, which its metadata's layer sizes "
                f"({', '.join(map(str, sorted(allowed)))}) do not allow"
            )

    return check


def _predicts(record) -> str | None:
    entry = registration_named(record.get("estimator"))
    return None if entry is None else entry.predicts


def _declared_widths(arrays):
    """The layer widths a model file's metadata declares (None where it cannot say)."""
    try:
        record = json.loads(str(arrays["metadata"]))
        params, fitted = record.get("params", {}), record.get("fitted", {}) or {}
        widths = {int(record["n_features_in"])}
        hidden = params.get("hidden_layer_sizes", params.get("n_hidden"))
        if hidden is not None:
            widths.update(int(h) for h in (hidden if isinstance(hidden, list | tuple) else [hidden]))
        if "classes" in arrays:
            widths.add(int(arrays["classes"].shape[0]))
        elif _predicts(record) == "classes":
            return None  # a classifier without its labels: refused for that, once read
        if isinstance(fitted.get("n_outputs_"), int):
            widths.add(int(fitted["n_outputs_"]))
        elif _predicts(record) == "values":
            return None
    except (ValueError, TypeError, KeyError, AttributeError):
        return None  # the metadata's own check says what is wrong with it
    return widths


def _rebuild(record: dict, arrays: dict):
    entry = registration(record["estimator"])
    cls = entry.cls
    params = upgrade_params(dict(record["params"]))  # written under the names of its version
    for name in ("hidden_layer_sizes", "denoising_weights"):
        if isinstance(params.get(name), list):
            params[name] = tuple(params[name])
    est = cls(**params)
    # each parameter against its row of the parameter table, as fit checks it (the device
    # is where it trained, not where it is used: a GPU's model loads on a CPU)
    check_params(est, [name for name in params if name != "device"])
    n_layers = record["n_layers"]
    if isinstance(n_layers, bool) or not isinstance(n_layers, int) or not entry.min_layers <= n_layers <= 1000:
        raise ValueError(f"a layer count of {n_layers!r} for a {cls.__name__}")
    est.coefs_ = [arrays[f"coef_{i}"] for i in range(n_layers)]
    est.intercepts_ = [arrays[f"intercept_{i}"] for i in range(n_layers)]
    if "pretrained_coef_0" in arrays:
        est.pretrained_coefs_ = [arrays[f"pretrained_coef_{i}"] for i in range(n_layers)]
        est.pretrained_intercepts_ = [arrays[f"pretrained_intercept_{i}"] for i in range(n_layers)]
    for i, (W, b) in enumerate(zip(est.coefs_, est.intercepts_)):
        if W.ndim != 2 or b.shape != (W.shape[1],) or (i and W.shape[0] != est.coefs_[i - 1].shape[1]):
            raise ValueError(f"layer {i + 1} has weights {W.shape} and biases {b.shape}")
        if not (np.all(np.isfinite(W)) and np.all(np.isfinite(b))):
            raise ValueError(f"layer {i + 1} holds non-finite weights")
    est.n_features_in_ = int(record["n_features_in"])
    if est.coefs_[0].shape[0] != est.n_features_in_:
        raise ValueError(f"first layer expects {est.coefs_[0].shape[0]} features, metadata says {est.n_features_in_}")
    if "classes" in arrays:
        est.classes_ = arrays["classes"]
        if est.classes_.shape != (est.coefs_[-1].shape[1],):
            raise ValueError(f"{est.classes_.shape[0]} class labels for {est.coefs_[-1].shape[1]} outputs")
    elif entry.classifies:
        raise ValueError("a classifier without its class labels")
    history = record.get("history", {})
    if not isinstance(history, dict):
        raise ValueError(f"a history of type {type(history).__name__}")
    for key, value in history.items():
        if key not in [h.rstrip("_") for h in _HISTORY]:
            raise ValueError(f"an unknown history entry {key!r}")
        if not isinstance(value, dict | list | int | float):
            raise ValueError(f"a history entry {key!r} of type {type(value).__name__}")
        setattr(est, key + "_", value)
    fitted = record.get("fitted", {})
    if not isinstance(fitted, dict):
        raise ValueError(f"fitted values of type {type(fitted).__name__}")
    for key, value in fitted.items():
        if key in entry.fitted:
            kind = FITTED_TYPES[key]
            if kind is bool or kind is str:
                if not isinstance(value, kind):
                    raise ValueError(f"a fitted {key} of {value!r}")
            elif isinstance(value, bool) or not isinstance(value, int | float):  # a number
                raise ValueError(f"a fitted {key} of {value!r}")
            setattr(est, key, value)
    est._check_loaded()
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        raise ValueError(f"metadata of type {type(metadata).__name__}")
    shape = metadata.get("image_shape")
    if shape is not None and not (
        isinstance(shape, list) and len(shape) == 2 and all(isinstance(v, int) and v > 0 for v in shape)
    ):
        raise ValueError(f"an image shape of {shape!r}")
    scale = metadata.get("input_scale")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, int | float) or not scale > 0):
        raise ValueError(f"an input scale of {scale!r}")
    est.metadata_ = dict(metadata)
    est.metadata_["stackae_version"] = record.get("stackae_version")
    return est
