"""The registry of estimators: what each one is, said once, where it is defined.

Every estimator class registers itself with :func:`register` (a class decorator), and
the layers above the estimators read the registry instead of switching on types: the
model files (:mod:`stackae.io`: which class a file names, whether it carries class
labels, which fitted numbers it keeps), export (:mod:`stackae.export`: what a module may
compute, which ONNX converter), the command line (``--task``) and the test suite's list
of estimators. A new estimator is one module that registers itself, and its docs page.

Registering also fills the class docstring's "Parameters" section from the parameter
table (:mod:`._parameters`).

A subclass that does not register itself is what its nearest registered base is
(a user's subclass of :class:`~stackae.StackedAutoencoderClassifier` is a classifier).
"""

from __future__ import annotations

from dataclasses import dataclass

from ._parameters import document

__all__ = [
    "Registration",
    "register",
    "registered",
    "registration",
    "registration_of",
    "registration_named",
    "task_estimators",
]

#: Fitted numbers a model file may keep, and the type each must have when read back.
FITTED_TYPES = {"n_outputs_": int, "offset_": float, "_y_is_vector": bool, "interrupted_stage_": str}


@dataclass(frozen=True)
class Registration:
    """What an estimator is.

    * ``cls``: the class;
    * ``task``: the command line's ``--task`` that trains it (None: the command line
      trains it only as a building block);
    * ``predicts``: ``"classes"`` (a model file keeps ``classes_``; ``evaluate`` reports
      accuracy; ONNX gives the label and the probabilities), ``"values"`` (a regressor:
      ``n_outputs_``; ONNX gives the predictions), ``"codes"`` (a transformer: ONNX gives
      ``transform``) or ``"outliers"`` (an outlier detector, a transformer too, whose
      ``evaluate`` reports its AUC and whose ``predict`` gives -1 or 1);
    * ``outputs``: what its exported module may compute, the default first
      (:func:`stackae.export.to_torch`);
    * ``fitted``: the fitted numbers its model file keeps (names in :data:`FITTED_TYPES`);
    * ``min_layers``: the fewest layers a fitted one has (a model file's check);
    * ``finetuned``: whether its training ends by fine-tuning a pretrained network (the
      command line reports its test figures before and after); the Ladder network
      trains in one stage.
    """

    cls: type
    task: str | None
    predicts: str
    outputs: tuple[str, ...]
    fitted: tuple[str, ...] = ("interrupted_stage_",)
    min_layers: int = 2
    finetuned: bool = True

    @property
    def name(self) -> str:
        return self.cls.__name__

    @property
    def classifies(self) -> bool:
        return self.predicts == "classes"


_REGISTRY: dict[str, Registration] = {}
_PREDICTS = ("classes", "values", "codes", "outliers")


def register(*, task=None, predicts, outputs, fitted=("interrupted_stage_",), min_layers=2, finetuned=True):
    """A class decorator recording what the estimator is (see :class:`Registration`)."""
    if predicts not in _PREDICTS:
        raise ValueError(f"'predicts' must be one of {_PREDICTS}, got {predicts!r}.")
    unknown = [name for name in fitted if name not in FITTED_TYPES]
    if unknown:
        raise ValueError(f"Fitted numbers {unknown} have no type in FITTED_TYPES.")

    def decorate(cls):
        taken = [r.name for r in _REGISTRY.values() if task is not None and r.task == task and r.cls is not cls]
        if taken:
            raise ValueError(f"The task {task!r} is already {taken[0]}'s.")
        document(cls)  # its docstring's "Parameters", from the parameter table
        _REGISTRY[cls.__name__] = Registration(
            cls, task, predicts, tuple(outputs), tuple(fitted), min_layers, finetuned
        )
        return cls

    return decorate


def registered() -> list[Registration]:
    """Every registered estimator, in the order they registered."""
    return list(_REGISTRY.values())


def registration_named(name: str) -> Registration | None:
    """The registration of the class called ``name`` (a model file's ``estimator``), or None."""
    return _REGISTRY.get(name)


def registration_of(estimator) -> Registration | None:
    """What ``estimator`` (an instance or a class) is: its class's registration, else its
    nearest registered base's; None for anything else."""
    cls = estimator if isinstance(estimator, type) else type(estimator)
    for klass in cls.__mro__:
        found = _REGISTRY.get(klass.__name__)
        if found is not None and found.cls is klass:
            return found
    return None


def registration(estimator) -> Registration:
    """:func:`registration_of` an estimator (or class, or a model file's estimator name)
    that must be a registered one: a TypeError for anything else."""
    found = registration_named(estimator) if isinstance(estimator, str) else registration_of(estimator)
    if found is None:
        name = estimator if isinstance(estimator, str) else type(estimator).__name__
        raise TypeError(f"{name} is not a registered stackae estimator.")
    return found


def task_estimators() -> dict[str, type]:
    """``--task`` name -> the estimator it trains, in registration order."""
    return {r.task: r.cls for r in _REGISTRY.values() if r.task is not None}
