"""The parameter table: every registered estimator's signature agrees with it, its
docstring's "Parameters" is made from it, and the command line's options come from it."""

from __future__ import annotations

import inspect

import pytest
from numpydoc.docscrape import ClassDoc

from stackae.estimators import registered
from stackae.estimators._parameters import GROUPS, PARAMETERS, Bool, Choice, Int, Real

ENTRIES = registered()


def _signature(cls):
    return {n: p for n, p in inspect.signature(cls.__init__).parameters.items() if n != "self"}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_each_signature_agrees_with_the_table(entry):
    for name, p in _signature(entry.cls).items():
        assert name in PARAMETERS, f"{entry.name}'s '{name}' has no row in the parameter table"
        assert p.default == PARAMETERS[name].default_of(entry.name), (entry.name, name, p.default)
        assert p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)


def test_every_row_is_a_parameter_of_some_estimator_and_its_per_estimator_defaults_are_real():
    taken = {name: [e.name for e in ENTRIES if name in _signature(e.cls)] for name in PARAMETERS}
    assert [name for name, owners in taken.items() if not owners] == []
    for row in PARAMETERS.values():
        assert row.group in GROUPS, row.name
        assert row.doc and not row.doc.startswith(" "), row.name
        for owner, default in row.defaults.items():
            assert owner in taken[row.name], (row.name, owner)
            assert default != row.default, (row.name, owner)


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_each_docstring_documents_its_signature_from_the_table(entry):
    documented = ClassDoc(entry.cls)["Parameters"]
    assert [p.name for p in documented] == list(_signature(entry.cls))
    for p in documented:
        row = PARAMETERS[p.name]
        default = _signature(entry.cls)[p.name].default
        assert p.type.startswith(row.kind + ", default="), (entry.name, p.name, p.type)
        assert " ".join(p.desc) == " ".join(row.doc.split("\n")), (entry.name, p.name)
        assert p.type.endswith(f'"{default}"' if isinstance(default, str) else "") or not isinstance(default, str)


@pytest.mark.parametrize(
    ("constraint", "value", "message"),
    [
        (Int(1), 0, "'n' must be an integer >= 1, got 0."),
        (Int(1), True, "'n' must be an integer >= 1, got True."),
        (Real(0.0, 1.0, open_low=True), 1.0, "'n' must be a number in (0.0, 1.0), got 1.0."),
        (Real(0.0), float("nan"), "'n' must be a number >= 0.0, got nan."),
        (Choice(("a", "b")), "c", "'n' must be 'a' or 'b', got 'c'."),
        (Bool(), 1, "'n' must be True or False, got 1."),
    ],
)
def test_each_constraint_refuses_with_its_template(constraint, value, message):
    with pytest.raises(ValueError) as excinfo:
        constraint.check("n", value)
    assert str(excinfo.value) == message


def test_optional_numbers_take_none_and_choices_take_theirs():
    assert Real(0.0, open_low=True, optional=True).check("n", None) is None
    assert Choice((None, "masking")).check("n", None) is None
    assert Bool().check("n", False) is False


def test_every_command_line_option_has_help_and_train_takes_the_table_s_options():
    from stackae.cli import _hyperparameters, build_parser

    parser = build_parser()
    (subcommands,) = [a for a in parser._actions if a.dest == "command" or a.choices and "train" in a.choices]
    missing = [
        (name, action.option_strings)
        for name, sub in subcommands.choices.items()
        for action in sub._actions
        if action.option_strings and not action.help
    ]
    assert missing == []
    train = subcommands.choices["train"]
    flags = {flag for action in train._actions for flag in action.option_strings}
    for row in _hyperparameters():
        assert "--" + row.name.replace("_", "-") in flags
    titles = [group.title for group in train._action_groups]
    assert [t.split(" (")[0] for t in titles if " (a --preset" in t] == [g for g in GROUPS if g != "deprecated"]


def test_train_help_shows_the_defaults_the_job_uses(capsys):
    from stackae.cli import main

    with pytest.raises(SystemExit):
        main(["train", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    assert (
        "--alpha ALPHA weight decay of the autoencoders (default 0.003; 0.0001 on the embedded digits; not --task ladder)"
        in out
    )
    assert (
        "hidden layer sizes (default 200 200 for classify, regress, reconstruct, outliers; 1000 500 250 250 250 for ladder; 64 32 on the embedded digits)"
        in out
    )
    assert "(default 2/3; --task ladder)" in out and "0.6666" not in out
    assert "--random-state RANDOM_STATE seed of weights, noise and minibatches (default 0)" in out


def test_the_stage_settings_take_their_names_and_defaults_from_the_table():
    from dataclasses import fields

    from stackae.estimators._stages import StageConfig

    for f in fields(StageConfig):
        if f.name == "report":  # where the records go: a run's, not a parameter
            continue
        assert f.name in PARAMETERS, f.name
        if f.name != "dropout":  # the stages get it resolved for the layers (check_dropout)
            assert f.default == PARAMETERS[f.name].default, f.name


def test_dropout_has_one_name_from_the_command_line_to_the_kernels():
    from dataclasses import fields

    from stackae._random import philox_keep_mask
    from stackae._rows import Kernels, NumpyKernels
    from stackae.estimators._stages import StageConfig
    from stackae.objectives import StackSpec

    assert "dropout" in PARAMETERS and PARAMETERS["dropout"].help is not None  # --dropout
    assert "dropout" in {f.name for f in fields(StageConfig)} and "dropout" in {f.name for f in fields(StackSpec)}
    for function in (Kernels.dropout, Kernels.dropped, Kernels.keep_mask, NumpyKernels.keep_mask, philox_keep_mask):
        assert "dropout" in inspect.signature(function).parameters, function.__qualname__


def test_the_old_names_work_for_a_release_with_a_future_warning(tmp_path):
    """One name per concept: the output layer's decay is output_alpha in every estimator
    (it was softmax_alpha, output_alpha or finetune_alpha), its iterations
    output_max_iter, and finetune_decay says "output" where there is no softmax. The old
    names give the same weights, with a FutureWarning; a model file keeps the new names."""
    import warnings

    import numpy as np
    from sklearn.datasets import load_digits

    from stackae import StackedAutoencoder, StackedAutoencoderClassifier
    from stackae.io import load_model, save_model

    X, y = load_digits(return_X_y=True)
    X, y = X[:300] / 16.0, y[:300]
    short = dict(hidden_layer_sizes=(8,), alpha=1e-4, pretrain_max_iter=3, finetune_max_iter=3, random_state=0)
    new = StackedAutoencoderClassifier(**short, output_alpha=1e-3, output_max_iter=4, finetune_decay="output")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        new.fit(X, y)
    old = StackedAutoencoderClassifier(**short, softmax_alpha=1e-3, softmax_max_iter=4, finetune_decay="softmax")
    with pytest.warns(FutureWarning) as caught:
        warnings.simplefilter("ignore", category=UserWarning)
        old.fit(X, y)
    said = {str(w.message) for w in caught if w.category is FutureWarning}
    assert said == {
        "'softmax_alpha' was renamed 'output_alpha' in stackae 0.3 and will be removed in 0.4; use output_alpha=0.001.",
        "'softmax_max_iter' was renamed 'output_max_iter' in stackae 0.3 and will be removed in 0.4; "
        "use output_max_iter=4.",
        "finetune_decay='softmax' was renamed finetune_decay='output' in stackae 0.3 and will be removed in 0.4.",
    }
    for a, b in zip(new.coefs_, old.coefs_):
        np.testing.assert_array_equal(a, b)
    save_model(old, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert (loaded.output_alpha, loaded.output_max_iter, loaded.finetune_decay) == (1e-3, 4, "output")
    deep = StackedAutoencoder((8,), pretrain_max_iter=2, finetune_max_iter=2, finetune_alpha=0.1)
    with pytest.warns(FutureWarning, match=r"^'finetune_alpha' was renamed 'output_alpha'"):
        warnings.simplefilter("ignore", category=UserWarning)
        deep.fit(X)
    with pytest.raises(ValueError, match=r"^'softmax_alpha' must be a number >= 0.0, got -1\.$"):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            StackedAutoencoderClassifier(softmax_alpha=-1).fit(X, y)
