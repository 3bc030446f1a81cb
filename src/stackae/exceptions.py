"""The errors stackae raises on purpose; the command line turns each into one line."""

from __future__ import annotations

from sklearn.exceptions import ConvergenceWarning

__all__ = [
    "TrainingInterrupted",
    "StackaeError",
    "DataError",
    "ModelFileError",
    "NonFiniteError",
    "CollapsedFeaturesWarning",
    "IterationLimitWarning",
]


class StackaeError(Exception):
    """Base class of stackae's own errors."""


class DataError(StackaeError, ValueError):
    """Input data that cannot be used: wrong format, corrupt, inconsistent, non-finite."""


class ModelFileError(StackaeError, ValueError):
    """A model or checkpoint file that cannot be loaded."""


class NonFiniteError(StackaeError, FloatingPointError):
    """Training produced a NaN or infinite cost or gradient.

    Attributes
    ----------
    stage : str
        The training stage, e.g. ``"pretrain layer 2"``.
    iteration : int
        Iterations completed in that stage before the failure.
    theta : ndarray
        The last finite parameters of that stage.
    """

    def __init__(self, message: str, *, stage: str, iteration: int, theta=None):
        super().__init__(message)
        self.stage = stage
        self.iteration = iteration
        self.theta = theta


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped a training before it had a network to predict with (during
    pretraining). Its checkpoints, if any, hold what was done: ``fit`` on the same
    folder continues from them. ``stage``: the stage that was cut short."""

    def __init__(self, message: str, stage: str):
        super().__init__(message)
        self.stage = stage


class CollapsedFeaturesWarning(UserWarning):
    """A layer's features are (nearly) the same for every sample."""


class IterationLimitWarning(ConvergenceWarning):
    """A stage ran all its iterations without converging: scikit-learn's
    ``ConvergenceWarning``, with the ``stage``, the ``param`` that sets its limit and
    that limit, ``max_iter``, as fields."""

    def __init__(self, stage: str, param: str, max_iter: int):
        super().__init__(
            f"Stage '{stage}' reached {param}={max_iter} iterations without converging; "
            f"increase '{param}' for a closer fit."
        )
        self.stage, self.param, self.max_iter = stage, param, max_iter


def choice_error(name: str, value, choices) -> ValueError:
    """The one message for a value outside a set: ``'solver' must be 'lbfgs', 'sgd' or
    'adam', got 'newton'.``"""
    shown = [repr(c) for c in choices]
    listed = shown[0] if len(shown) == 1 else ", ".join(shown[:-1]) + " or " + shown[-1]
    return ValueError(f"'{name}' must be {listed}, got {value!r}.")
