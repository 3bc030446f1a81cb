r"""The parameter table: every estimator parameter, declared once.

Each :class:`Parameter` row holds a parameter's name, its default, its constraint, its
group, its docstring text and its command-line help. From the table come:

* the "Parameters" section of every estimator's docstring (:func:`document`, which the
  registry's class decorator calls: a docstring says ``{parameters}`` where the
  section goes, as SciPy's ``doccer`` fills its docstrings);
* the command line's options (:mod:`stackae.cli`), grouped, each with its help;
* the checks of :func:`check_params`, one message template per kind of constraint
  (:mod:`._validation`).

The signatures stay written out in each estimator's ``__init__`` (scikit-learn and IDEs
read them); ``tests/test_parameters.py`` checks every signature against the table: each
name has a row, each default is the row's (or the estimator's own, declared in the
row's ``defaults``).
"""

from __future__ import annotations

import inspect
import numbers
import textwrap
import warnings
from dataclasses import dataclass, field

import numpy as np

from .. import _xp
from ..activations import HIDDEN_ACTIVATIONS, OUTPUT_ACTIVATIONS
from ..exceptions import choice_error
from ..noise import NOISE_KINDS
from ..objectives import LOSSES
from ..optim import SCHEDULES

__all__ = [
    "Parameter",
    "PARAMETERS",
    "GROUPS",
    "SOLVERS",
    "document",
    "check_params",
    "effective_params",
    "given_name",
    "upgrade_params",
    "check_int",
    "check_float",
    "check_choice",
]

#: The groups of the table, in the order the docs and ``--help`` show them.
GROUPS = (
    "architecture",
    "pretraining",
    "output",
    "fine-tuning",
    "solver",
    "regularization",
    "run and files",
    "task-specific",
    "deprecated",
)


# ------------------------------------------------------------ the message templates
SOLVERS = ("lbfgs", "sgd", "adam")


def check_int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"'{name}' must be an integer >= {minimum}, got {value!r}.")
    return int(value)


def check_float(name: str, value, low: float, high: float = np.inf, *, open_low: bool = False) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and bool(np.isfinite(float(value)))
    if ok:
        ok = (value > low if open_low else value >= low) and (value < high)
    if not ok:
        bracket = "(" if open_low else "["
        bound = f"in {bracket}{low}, {high})" if np.isfinite(high) else (f"> {low}" if open_low else f">= {low}")
        raise ValueError(f"'{name}' must be a number {bound}, got {value!r}.")
    return float(value)


def check_choice(name: str, value, choices) -> str:
    if value not in choices:
        raise choice_error(name, value, choices)
    return value


# ---------------------------------------------------------------------- constraints
@dataclass(frozen=True)
class Int:
    """An integer ``>= minimum``."""

    minimum: int

    def check(self, name, value):
        return check_int(name, value, self.minimum)

    cli = {"type": int}


@dataclass(frozen=True)
class Real:
    """A finite number in ``[low, high)`` (``(low, high)`` when ``open_low``); None too when ``optional``."""

    low: float
    high: float = np.inf
    open_low: bool = False
    optional: bool = False

    def check(self, name, value):
        if value is None and self.optional:
            return None
        return check_float(name, value, self.low, self.high, open_low=self.open_low)

    cli = {"type": float}


@dataclass(frozen=True)
class Choice:
    """One of ``choices`` (None among them where it is allowed)."""

    choices: tuple

    def check(self, name, value):
        if value not in self.choices:
            raise choice_error(name, value, self.choices)
        return value

    @property
    def cli(self):
        return {"choices": [c for c in self.choices if c is not None]}


@dataclass(frozen=True)
class Bool:
    """True or False (NumPy's booleans too)."""

    def check(self, name, value):
        if not isinstance(value, bool | np.bool_):
            raise ValueError(f"'{name}' must be True or False, got {value!r}.")
        return bool(value)

    cli = {"action": "boolean"}


@dataclass(frozen=True)
class Checked:
    """A value whose check needs other parameters (the layer count, the noise kind) or an
    object of its own: checked where it is used, by the function the docs name.
    ``cli``: the command line's reading of it (None: not an option)."""

    by: str
    cli: dict | None = None
    check_alone: object = None  # what can be checked of it alone, check_alone(value)

    def check(self, name, value):
        return value if self.check_alone is None else self.check_alone(value)


PER_LAYER = {"type": float, "nargs": "+", "metavar": "P"}


def _resolve_device(value):
    """The device exists (read through the module: tests stand a GPU in for it)."""
    return _xp.resolve_device(value)


# ------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class Parameter:
    """One row of the table.

    ``kind`` is the docstring's type (``float``, ``{"a", "b"}``); ``doc`` its
    description; ``help`` the command line's (None: not a command-line option, where
    the command has its own way to say it, as ``--hidden`` and ``--log``);
    ``defaults`` the estimators whose default differs from ``default``, by name."""

    name: str
    default: object
    kind: str
    group: str
    constraint: Int | Real | Choice | Bool | Checked
    doc: str
    help: str | None = None
    defaults: dict = field(default_factory=dict)
    renamed_to: str | None = None  # a deprecated name: the parameter's name now
    renamed_values: dict = field(default_factory=dict)  # deprecated values: their names now

    def default_of(self, estimator_name: str):
        return self.defaults.get(estimator_name, self.default)


def _row(name, default, kind, group, constraint, doc, help=None, defaults=None, **renamed) -> Parameter:  # noqa: A002
    """A row; ``renamed``: ``renamed_to`` (a deprecated name) or ``renamed_values``."""
    doc = textwrap.dedent(doc).strip()
    return Parameter(name, default, kind, group, constraint, doc, help, dict(defaults or {}), **renamed)


def _choices(values) -> str:
    return "{" + ", ".join("None" if v is None else f'"{v}"' for v in values) + "}"


_STACKED_DEFAULT_DECAY = {"StackedAutoencoder": "all", "StackedAutoencoderOutlierDetector": "all"}

PARAMETERS = {
    row.name: row
    for row in [
        # ------------------------------------------------------------ architecture
        _row(
            "hidden_layer_sizes", (200, 200), "sequence of int", "architecture",
            Checked("check_hidden_sizes"),
            """
            The widths of the hidden layers, the input's side first.
            """,
            defaults={"LadderNetworkClassifier": (1000, 500, 250, 250, 250)},
        ),
        _row(
            "n_hidden", 200, "int", "architecture", Int(1),
            """
            Hidden units.
            """,
        ),
        _row(
            "activation", "sigmoid", _choices(HIDDEN_ACTIVATIONS), "architecture", Choice(HIDDEN_ACTIVATIONS),
            """
            Hidden units, in pretraining and in the fine-tuned network.
            """,
            help="hidden units",
        ),
        _row(
            "output_activation", "sigmoid", _choices(OUTPUT_ACTIVATIONS), "architecture", Choice(OUTPUT_ACTIVATIONS),
            """
            The autoencoders' reconstruction units (and a deep autoencoder's outputs).
            """,
            help="the autoencoders' reconstruction units",
        ),
        _row(
            "tied_weights", False, "bool", "architecture", Bool(),
            """
            Decode with ``W2 = W1^T`` (one weight matrix an autoencoder).
            """,
            help="decode with the encoder's weights transposed",
        ),
        # ------------------------------------------------------------- pretraining
        _row(
            "alpha", 3e-3, "float", "pretraining", Real(0.0),
            r"""
            Weight decay :math:`\lambda` of the autoencoders' weights (a
            :class:`SoftmaxRegression`'s: of its weights, not the intercepts).
            """,
            help="weight decay of the autoencoders",
            defaults={"SoftmaxRegression": 1e-4},
        ),
        _row(
            "sparsity_target", 0.1, "float", "pretraining", Real(0.0, 1.0, open_low=True),
            r"""
            Target mean activation :math:`\rho` of the hidden units, in (0, 1).
            """,
            help="target mean activation rho of the hidden units",
        ),
        _row(
            "sparsity_weight", 3.0, "float", "pretraining", Real(0.0),
            r"""
            Weight :math:`\beta` of the KL sparsity penalty; must be 0 with tanh or ReLU
            units (their mean activations are not in (0, 1)).
            """,
            help="weight beta of the KL sparsity penalty (0 with tanh or relu)",
        ),
        _row(
            "reconstruction_loss", "squared", _choices(LOSSES), "pretraining", Choice(LOSSES),
            """
            ``"cross_entropy"`` needs sigmoid outputs and inputs in [0, 1].
            """,
            help="the autoencoders' loss",
        ),
        _row(
            "noise", None, _choices((None, *NOISE_KINDS)), "pretraining", Choice((None, *NOISE_KINDS)),
            """
            Corrupt the input and reconstruct the clean one (denoising autoencoders; see
            :mod:`stackae.noise`). L-BFGS draws one corrupted copy for the stage; the
            minibatch solvers draw fresh noise for every batch.
            """,
            help="denoising autoencoders' corruption",
        ),
        _row(
            "noise_level", 0.2, "float or sequence of float", "pretraining",
            Checked("stackae.noise.check_noise", PER_LAYER),
            """
            The fraction of entries corrupted, or the Gaussian noise's standard
            deviation: one level for every layer, or one per layer (as Theano's SdA:
            0.1, 0.2, 0.3).
            """,
            help="one level for every layer, or one per layer",
        ),
        _row(
            "contraction", 0.0, "float", "pretraining", Real(0.0),
            """
            Weight of the contractive penalty (the encoder Jacobian's squared Frobenius
            norm; Rifai et al., 2011).
            """,
            help="weight of the contractive penalty",
        ),
        _row(
            "pretrain_max_iter", 400, "int", "pretraining", Int(0),
            """
            L-BFGS iterations (epochs for the minibatch solvers) of each autoencoder.
            """,
            help="iterations (epochs) of each autoencoder",
        ),
        # ------------------------------------------------------------------ output
        _row(
            "output_alpha", 1e-4, "float", "output", Real(0.0),
            """
            Weight decay of the output layer, in its own stage and in fine-tuning (on the
            output weights only, or on every weight matrix with ``finetune_decay="all"``);
            a deep autoencoder's, while fine-tuning: on its last decoder layer, or on
            every weight matrix with ``"all"``.
            """,
            help="weight decay of the output layer, in its stage and in fine-tuning",
            defaults={"StackedAutoencoder": 0.0, "StackedAutoencoderOutlierDetector": 0.0},
        ),
        _row(
            "output_max_iter", 400, "int", "output", Int(0),
            """
            L-BFGS iterations (epochs for the minibatch solvers) of the output layer's own
            stage (the softmax, the regression).
            """,
            help="iterations (epochs) of the output layer's stage",
        ),
        _row(
            "finetune_max_iter", 400, "int", "fine-tuning", Int(0),
            """
            L-BFGS iterations (epochs for the minibatch solvers) of fine-tuning;
            ``finetune_max_iter=0`` keeps the pretrained network as it is.
            """,
            help="iterations (epochs) of fine-tuning; 0 keeps the pretrained network",
        ),
        _row(
            "finetune_decay", "output", '{"output", "all"}', "fine-tuning", Choice(("output", "all")),
            """
            Which weights carry ``output_alpha`` while fine-tuning: the output layer's
            alone (``"output"``, UFLDL's), or every weight matrix (``"all"``).
            """,
            help="which weights carry the decay while fine-tuning",
            defaults=_STACKED_DEFAULT_DECAY,
            renamed_values={"softmax": "output"},
        ),
        _row(
            "finetune_learning_rate", None, "float or None", "fine-tuning", Real(0.0, open_low=True, optional=True),
            """
            Step size of the fine-tuning stage; ``None``: ``learning_rate``.
            """,
            help="step size of fine-tuning (none: --learning-rate's)",
        ),
        _row(
            "warm_start", False, "bool", "fine-tuning", Bool(),
            """
            When True and the estimator is already fitted (or built by
            :meth:`from_layers` from layers trained elsewhere), ``fit`` skips pretraining
            and the output step and fine-tunes the current weights.
            """,
        ),
        # ------------------------------------------------------------------ solver
        _row(
            "max_iter", 400, "int", "solver", Int(0),
            """
            L-BFGS iterations (epochs for the minibatch solvers).
            """,
            help="iterations (epochs)",
            defaults={"LadderNetworkClassifier": 150},
        ),
        _row(
            "tol", 1e-6, "float", "solver", Real(0.0),
            """
            Stop L-BFGS when no gradient component exceeds ``tol``.
            """,
            help="stop L-BFGS when no gradient component exceeds this",
        ),
        _row(
            "solver", "lbfgs", _choices(SOLVERS), "solver", Choice(SOLVERS),
            """
            ``"lbfgs"``: full-batch L-BFGS, as UFLDL (``max_iter`` counts iterations);
            ``"sgd"`` and ``"adam"``: minibatches, reshuffled every epoch from
            ``random_state`` (``max_iter`` counts epochs; reaching it is the plan, not a
            convergence failure). Float32 input trains in float32.
            """,
            help="full-batch L-BFGS, or minibatches",
        ),
        _row(
            "batch_size", 256, "int", "solver", Int(1),
            """
            Rows a minibatch (``"sgd"``, ``"adam"``); the Ladder network's: labeled rows
            a step, and as many unlabeled ones.
            """,
            help="rows a minibatch",
            defaults={"LadderNetworkClassifier": 100},
        ),
        _row(
            "learning_rate", None, "float or None", "solver", Real(0.0, open_low=True, optional=True),
            """
            Step size of ``"sgd"``/``"adam"``; ``None``: 0.1 for sgd, 1e-3 for adam.
            """,
            help="step size of sgd and adam (none: 0.1 for sgd, 1e-3 for adam)",
            defaults={"LadderNetworkClassifier": 0.002},
        ),
        _row(
            "momentum", 0.9, "float", "solver", Real(0.0, 1.0),
            """
            Momentum of ``"sgd"``.
            """,
            help="momentum of sgd",
        ),
        _row(
            "nesterovs_momentum", False, "bool", "solver", Bool(),
            """
            Nesterov's momentum for ``"sgd"``.
            """,
            help="Nesterov's momentum for sgd",
        ),
        _row(
            "learning_rate_schedule", "constant", _choices(SCHEDULES), "solver", Choice(SCHEDULES),
            """
            Decay of the minibatch step size over each stage's epochs (to 0 at the end).
            """,
            help="decay of the minibatch step size over each stage",
        ),
        _row(
            "lbfgs_history", 10, "int", "solver", Int(1),
            """
            Correction pairs L-BFGS keeps (UFLDL's minFunc kept 100; the results pages
            compare the two).
            """,
            help="correction pairs L-BFGS keeps",
        ),
        # ---------------------------------------------------------- regularization
        _row(
            "dropout", 0.0, "float or sequence of float", "regularization", Checked("dropout_rates", PER_LAYER),
            """
            Dropout while fine-tuning: a drop probability for every hidden layer, or
            ``(input, hidden 1, ..., hidden L)`` (a deep autoencoder's decoder layers take
            the rate of the encoder layer of their width). With L-BFGS the masks are
            drawn once for the stage; the minibatch solvers draw new masks every step.
            """,
            help="drop probability of the hidden layers, or INPUT H1 .. HL",
        ),
        _row(
            "max_norm", None, "float or None", "regularization", Real(0.0, open_low=True, optional=True),
            """
            Keep every hidden unit's incoming weight vector within this norm while
            fine-tuning (minibatch solvers only).
            """,
            help="the largest norm of a unit's incoming weights while fine-tuning",
        ),
        _row(
            "adversarial", 0.0, "float", "regularization",
            Checked("stackae.objectives.check_adversarial", {"type": float}),
            """
            Adversarial training while fine-tuning (Goodfellow et al. 2015): every
            evaluation also scores its rows moved by ``adversarial`` times the sign of the
            cost's gradient with respect to them, and minimises
            ``(1 - adversarial_weight) J(X) + adversarial_weight J(X + eps sign(grad_X J))``
            (see :func:`stackae.objectives.stack_cost`).
            """,
            help="fine-tuning on rows moved by this much against the network (fast gradient sign; 0: off)",
        ),
        _row(
            "adversarial_weight", 0.5, "float", "regularization",
            Checked("stackae.objectives.check_adversarial", {"type": float}),
            """
            The weight of the moved rows' cost, in (0, 1].
            """,
            help="weight of those rows' cost",
        ),
        _row(
            "early_stopping", False, "bool", "regularization", Bool(),
            """
            Hold out ``validation_fraction`` of the (labeled) rows, stratified for a
            classifier; score every stage on them after every iteration (epoch): minus
            the mean reconstruction loss for an autoencoder, the accuracy for a
            classifier, R^2 for a regressor; stop a stage after ``n_iter_no_change``
            without improvement and keep its best weights.
            """,
            help="stop each stage when a validation split stops improving",
        ),
        _row(
            "validation_fraction", 0.1, "float", "regularization", Real(0.0, 1.0, open_low=True),
            """
            The fraction of the rows held out by ``early_stopping``.
            """,
            help="the rows held out by --early-stopping",
        ),
        _row(
            "n_iter_no_change", 10, "int", "regularization", Int(1),
            """
            Iterations (epochs) without improvement before ``early_stopping`` stops a stage.
            """,
            help="iterations without improvement before --early-stopping stops a stage",
        ),
        # ----------------------------------------------------------- run and files
        _row(
            "device", "cpu", "str", "run and files",
            Checked("stackae._xp.resolve_device", {"type": str}, _resolve_device),
            """
            ``"cuda"`` or ``"cuda:N"``: train on that GPU (NumPy input moved there once,
            float32 unless float64). PyTorch or CuPy input trains where it lives; a Dask
            array trains on its cluster.
            """,
            help="'cuda' or 'cuda:N': train on that GPU",
        ),
        _row(
            "random_state", None, "int, RandomState instance or None", "run and files",
            Checked("sklearn.utils.check_random_state", {"type": int}),
            """
            Seeds the initial weights, the noise, the dropout masks and the minibatches.
            """,
            help="seed of weights, noise and minibatches",
        ),
        _row(
            "verbose", 0, "int", "run and files", Checked("int"),
            """
            Progress of every stage on stderr when > 0.
            """,
        ),
        _row(
            "log", None, "str, path or None", "run and files", Checked("stackae.log.training_log"),
            """
            A file that gets one line of JSON every iteration (epoch) of every stage: the
            stage, the iteration, the cost, the validation score, the learning rate and
            the time (:mod:`stackae.log`); ``stackae show LOG`` plots it.
            """,
        ),
        _row(
            "callbacks", None, "callable, list of callables or None", "run and files",
            Checked("stackae.log.training_log"),
            """
            Each called with that record after every iteration; one that returns True
            ends the stage, as early stopping does.
            """,
        ),
        _row(
            "checkpoint_dir", None, "str, path or None", "run and files", Checked("stackae._checkpoint"),
            """
            Folder for checkpoints, written atomically every ``checkpoint_every``
            iterations (epochs for the minibatch solvers) and at the end of every stage.
            When it already holds checkpoints of the same run (same data and
            hyperparameters), ``fit`` continues from the newest valid one: bit for bit for
            the minibatch solvers (same thread count), from the saved iterate for L-BFGS
            (whose curvature history restarts).
            """,
        ),
        _row(
            "checkpoint_every", 10, "int", "run and files", Int(1),
            """
            Iterations (epochs) between two checkpoints.
            """,
            help="iterations (epochs) between two checkpoints",
        ),
        # ----------------------------------------------------------- task-specific
        _row(
            "class_weight", None, 'dict, "balanced" or None', "task-specific",
            Checked("class_row_weights", {"choices": ["balanced"]}),
            """
            Weights of the classes (``{label: weight}``; ``"balanced"``: inversely
            proportional to their frequencies), multiplying ``sample_weight`` in the
            supervised stages (pretraining sees no labels, and takes ``sample_weight``
            alone).
            """,
            help="classes weighted inversely to their frequencies",
        ),
        _row(
            "unlabeled_label", -1, "int, str or None", "task-specific", Checked("labeled_rows"),
            """
            The label that marks a row of ``fit``'s ``y`` unlabeled, as scikit-learn's
            semi-supervised estimators mark them (-1; with string labels in an object
            array, the integer -1 among them, or a string such as ``"?"``). ``None``: every
            label is a class (labels -1 and 1, say). Unlabeled rows are pretrained on and
            left out of the supervised stages and the validation split.
            """,
        ),
        _row(
            "contamination", 0.1, "float in (0, 0.5]", "task-specific", Real(0.0, 0.5 + 1e-12, open_low=True),
            """
            The expected fraction of outliers among the training rows (PyOD's default).
            """,
            help="the expected fraction of outliers among the training rows",
        ),
        _row(
            "denoising_weights", (1000.0, 10.0, 0.1, 0.1, 0.1, 0.1, 0.1), "sequence of float", "task-specific",
            Checked("LadderNetworkClassifier._check_params", PER_LAYER),
            """
            The weights of the Ladder network's denoising costs, one per layer: the
            input, each hidden layer, the output (``len(hidden_layer_sizes) + 2`` numbers
            >= 0). The paper's with all labels: ``(1000, 1, 0.01, 0.01, 0.01, 0.01, 0.01)``.
            """,
            help="the weight of each layer's denoising cost, INPUT H1 .. HL OUTPUT",
        ),
        _row(
            "noise_std", 0.3, "float", "task-specific", Real(0.0),
            """
            The standard deviation of the Ladder network's corrupted pass's Gaussian
            noise, at every layer.
            """,
            help="the Gaussian noise of the corrupted pass, at every layer",
        ),
        _row(
            "decay_start", 2 / 3, "float", "task-specific", Real(0.0, 1.0),
            """
            The fraction of the epochs after which the learning rate decays linearly to
            0 (the paper: 100 epochs, then 50 of decay).
            """,
            help="the fraction of the epochs after which the step size decays to 0",
        ),
        # ------------------------------------------------------------- deprecated
        _row(
            "softmax_alpha", "deprecated", "float", "deprecated", Checked("renamed"),
            """
            Renamed ``output_alpha`` in 0.3 (one name for the output layer's decay in
            every estimator); the old name works, with a FutureWarning, until 0.4.
            """,
            renamed_to="output_alpha",
        ),
        _row(
            "softmax_max_iter", "deprecated", "int", "deprecated", Checked("renamed"),
            """
            Renamed ``output_max_iter`` in 0.3; the old name works, with a
            FutureWarning, until 0.4.
            """,
            renamed_to="output_max_iter",
        ),
        _row(
            "finetune_alpha", "deprecated", "float", "deprecated", Checked("renamed"),
            """
            Renamed ``output_alpha`` in 0.3; the old name works, with a FutureWarning,
            until 0.4.
            """,
            renamed_to="output_alpha",
        ),
    ]
}  # fmt: skip


def _default_text(value) -> str:
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, float) and value == 2 / 3:
        return "2/3"
    return repr(value)


def parameters_section(cls) -> str:
    """The numpydoc "Parameters" entries of ``cls``'s signature, from the table."""
    lines = []
    for name, p in inspect.signature(cls.__init__).parameters.items():
        if name == "self":
            continue
        row = PARAMETERS[name]
        lines.append(f"{name} : {row.kind}, default={_default_text(p.default)}")
        lines += [f"    {line}" if line else "" for line in row.doc.splitlines()]
    return "\n".join(lines)


def document(cls):
    """Fill ``{parameters}`` in ``cls``'s docstring with its parameters' entries, indented
    as the line that holds it is."""
    doc = cls.__doc__
    if doc is None or "{parameters}" not in doc:
        return cls
    marker = next(line for line in doc.splitlines() if line.strip() == "{parameters}")
    indent = marker[: len(marker) - len(marker.lstrip())]
    section = textwrap.indent(parameters_section(cls), indent)
    cls.__doc__ = doc.replace(marker, section.replace("\n\n", "\n").rstrip(), 1)
    return cls


def _renamed(name: str, value):
    """``(name, value)`` as they are named now."""
    row = PARAMETERS.get(name)
    if row is None:
        return name, value
    if row.renamed_to is not None:
        name, row = row.renamed_to, PARAMETERS[row.renamed_to]
    if isinstance(value, str) and value in row.renamed_values:
        value = row.renamed_values[value]
    return name, value


def effective_params(est) -> dict:
    """``est``'s parameters as the training reads them: a deprecated name's value (one
    that is set) under the name it has now, a deprecated value as it is named now."""
    params = est.get_params(deep=False)
    out = {}
    for name, value in params.items():
        row = PARAMETERS.get(name)
        if row is not None and row.renamed_to is not None:
            continue
        out[name] = _renamed(name, value)[1]
    for name, value in params.items():
        row = PARAMETERS.get(name)
        if row is not None and row.renamed_to is not None and not _unset(value):
            out[row.renamed_to] = _renamed(name, value)[1]
    return out


def _unset(value) -> bool:
    return isinstance(value, str) and value == "deprecated"


def given_name(est, name: str) -> str:
    """The name ``est`` was given ``name``'s value under: a deprecated one that is set,
    else ``name`` (for messages that name what the user wrote)."""
    for row in PARAMETERS.values():
        if row.renamed_to == name and not _unset(getattr(est, row.name, "deprecated")):
            return row.name
    return name


def upgrade_params(params: dict) -> dict:
    """Parameters stored by an earlier stackae (a model file's, a run's ``run.json``)
    under the names they have now, silently: they were right when written."""
    out = {}
    for name, value in params.items():
        new_name, new_value = _renamed(name, value)
        if new_name != name and new_name in params:
            continue  # both stored: the current name's value stands
        out[new_name] = new_value
    return out


def check_params(est, names=None) -> None:
    """Check ``est``'s parameters ``names`` (default: all it has, by name, as
    ``get_params`` gives them) against their rows' constraints, before any work; what needs other
    parameters is checked after, by :mod:`._validation`. A deprecated name or value
    that is used gives a FutureWarning and is checked as what it stands for."""
    params = est.get_params(deep=False)
    for name in params if names is None else names:
        row = PARAMETERS.get(name)
        if row is None:
            continue
        value = params[name]
        if row.renamed_to is not None:
            if _unset(value):
                continue
            warnings.warn(
                f"'{name}' was renamed '{row.renamed_to}' in stackae 0.3 and will be removed in 0.4; "
                f"use {row.renamed_to}={value!r}.",
                FutureWarning,
                stacklevel=3,
            )
            PARAMETERS[row.renamed_to].constraint.check(name, value)
            continue
        if isinstance(value, str) and value in row.renamed_values:
            warnings.warn(
                f"{name}={value!r} was renamed {name}={row.renamed_values[value]!r} in stackae 0.3 and will be "
                "removed in 0.4.",
                FutureWarning,
                stacklevel=3,
            )
            value = row.renamed_values[value]
        row.constraint.check(name, value)
