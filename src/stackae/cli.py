"""The ``stackae`` command line: a thin layer over the library.

Library errors (bad input, bad files) are caught here and printed as one line,
``Error: message``, with exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import os
import signal
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np

from ._checkpoint import holds_checkpoints
from ._files import atomic_write, check_not_an_input, check_writable
from ._params import init_theta, n_params
from ._version import __version__
from .cluster import _has_bokeh, connect, dask_rows
from .datasets import (
    REMOTE_DATASETS,
    _square_shape,
    data_home,
    load_csv,
    load_dataset,
    load_images,
    load_npz,
    load_samples,
    resolve_input_scale,
)
from .estimators import registration, task_estimators
from .estimators._parameters import GROUPS, PARAMETERS, effective_params, upgrade_params
from .exceptions import IterationLimitWarning, StackaeError
from .export import save_onnx, save_torch
from .gradcheck import check_gradient, check_gradient_apart_from_kinks
from .heads import SquaredErrorHead, reconstruction_head
from .io import load_model, save_model
from .log import read_log
from .objectives import softmax_cost, sparse_autoencoder_cost, stack_cost
from .presets import DESCRIPTIONS, PRESET_ESTIMATORS, PRESETS, preset_params
from .viz import save_filter_grid, save_learning_curves, save_log_curves

#: Hyperparameters that differ from the estimator's (UFLDL MNIST) defaults when the
#: data is the embedded 8x8 digits. With UFLDL's weight decay of 3e-3 on 64 inputs the
#: second autoencoder collapses (every unit outputs rho for every sample) and the
#: softmax stays at chance until fine-tuning; a decay of 1e-4 and layers sized for 64
#: inputs give ~97% before fine-tuning and ~98% after, in seconds.
DATASET_PRESETS = {
    "digits": {"hidden_layer_sizes": (64, 32), "alpha": 1e-4},
}

#: ``--task``: the estimator each trains, from the registry of estimators
TASKS = task_estimators()
#: the tasks that classify (their metrics, reports and labels are a classifier's)
_CLASSIFYING = tuple(task for task, cls in TASKS.items() if registration(cls).classifies)


def _task_of(args) -> str:
    """``--task``, or the task of ``--preset``'s estimator (a Ladder preset: ladder)."""
    task = getattr(args, "task", None) or "classify"
    preset = getattr(args, "preset", None)
    if preset:
        owner = next(name for name, cls in TASKS.items() if cls.__name__ == PRESET_ESTIMATORS[preset])
        if owner != task and not (task == "classify" and owner in _CLASSIFYING):
            raise ValueError(
                f"--preset {preset} sets up a {PRESET_ESTIMATORS[preset]}, which --task {task} does not train."
            )
        task = owner
    return task


def _parameters(cls):
    signature = inspect.signature(cls.__init__)
    return [(name, p.default) for name, p in signature.parameters.items() if name != "self"]


def _hyperparameters():
    """The rows of the parameter table that are options of ``train``: the parameters
    of the tasks' estimators that have command-line help, in the table's order."""
    taken = {name for defaults in _task_defaults().values() for name in defaults}
    return [row for row in PARAMETERS.values() if row.name in taken and row.help is not None]


def _shown(value) -> str:
    """A default as the command line writes it."""
    if value is None:
        return "none"
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, float):
        return "2/3" if value == 2 / 3 else f"{value:g}"
    if isinstance(value, tuple | list):
        return " ".join(_shown(v) for v in value)
    return str(value)


@functools.cache
def _task_defaults() -> dict[str, dict]:
    """``{task: {parameter: default}}`` of the tasks' estimators."""
    return {task: dict(_parameters(cls)) for task, cls in TASKS.items()}


def _defaults_text(name: str) -> str:
    """What ``train`` uses when the option is not given: the tasks' estimators' defaults
    (each task named where they differ, and the tasks that take it where not all do),
    the embedded data's own setting, and the command's seed."""
    by_task = _task_defaults()
    takers = [task for task, params in by_task.items() if name in params]
    if name == "random_state":
        return "default 0"
    values: dict[str, list[str]] = {}
    for task in takers:
        values.setdefault(_shown(by_task[task][name]), []).append(task)
    if len(values) == 1:
        text = f"default {next(iter(values))}"
    else:
        text = "default " + "; ".join(f"{value} for {', '.join(tasks)}" for value, tasks in values.items())
    for data, settings in DATASET_PRESETS.items():
        if name in settings:
            text += f"; {_shown(settings[name])} on the embedded {data}"
    others = [task for task in TASKS if task not in takers]
    if len(others) == 1:
        text += f"; not --task {others[0]}"
    elif others:
        text += f"; --task {', '.join(takers)}"
    return text


def _add_hyperparameter_options(parser: argparse.ArgumentParser) -> None:
    """The estimators' parameters as options, from the parameter table, a group for
    each of its groups; each help says the defaults the command uses (a --preset's
    settings replace them all)."""
    groups = {
        group: parser.add_argument_group(f"{group} (a --preset sets these too)")
        for group in GROUPS
        if any(row.group == group for row in _hyperparameters())
    }
    groups["architecture"].add_argument(
        "--hidden",
        type=int,
        nargs="+",
        metavar="N",
        help=f"hidden layer sizes ({_defaults_text('hidden_layer_sizes')})",
    )
    for row in _hyperparameters():
        flag = "--" + row.name.replace("_", "-")
        cli = dict(row.constraint.cli)
        help_text = f"{row.help} ({_defaults_text(row.name)})"
        if cli.pop("action", None) == "boolean":
            groups[row.group].add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=help_text)
        else:
            groups[row.group].add_argument(flag, default=None, help=help_text, **cli)
    for old in _renamed_options():  # the old names work for a release, unlisted
        new = PARAMETERS[old.renamed_to]
        parser.add_argument(
            "--" + old.name.replace("_", "-"), default=None, help=argparse.SUPPRESS, **(new.constraint.cli or {})
        )


def _renamed_options():
    """The deprecated rows of the table whose parameter now has an option."""
    options = {row.name for row in _hyperparameters()}
    return [row for row in PARAMETERS.values() if row.renamed_to in options]


def _estimator_params(args, data_preset: dict) -> dict:
    """The estimator's parameters: a recipe (``--preset``), else the data's own preset,
    then every option given; named as the task's estimator names them. An option the
    task's estimator does not take is an error."""
    task = _task_of(args)
    accepted = {name for name, _ in _parameters(TASKS[task])}
    params: dict[str, Any] = {"random_state": 0}  # reproducible runs unless --random-state says otherwise
    for name, value in (preset_params(args.preset) if getattr(args, "preset", None) else data_preset).items():
        if name in accepted:
            params[name] = value
    if args.hidden is not None:
        params["hidden_layer_sizes"] = tuple(args.hidden)
    for row in _hyperparameters():
        given: Any = getattr(args, row.name)
        if given is not None:
            if row.name not in accepted:
                raise ValueError(f"'--{row.name.replace('_', '-')}' does not apply to --task {task}.")
            if (row.constraint.cli or {}).get("nargs") == "+":  # one number, or one per layer
                given = given[0] if len(given) == 1 else tuple(given)
            params[row.name] = given
    for old in _renamed_options():
        given = getattr(args, old.name, None)
        if given is not None:
            flag, new = "--" + old.name.replace("_", "-"), "--" + old.renamed_to.replace("_", "-")
            warnings.warn(
                f"{flag} was renamed {new} in stackae 0.3 and will be removed in 0.4.", FutureWarning, stacklevel=2
            )
            if getattr(args, old.renamed_to) is None:
                params[old.renamed_to] = given
    return params


def _estimator_from_args(args, preset: dict):
    params = _estimator_params(args, preset)
    params["verbose"] = 0 if args.quiet else 1
    return TASKS[_task_of(args)](**params)


def _add_data_options(parser: argparse.ArgumentParser, *, default=None, test_data=True) -> None:
    parser.add_argument(
        "--data",
        default=default,
        required=default is None,
        help="'digits' (embedded 8x8 digits), 'mnist', 'fashion-mnist' or 'kmnist' (fetched once into --data-home "
        "and checked), a folder of MNIST-format IDX files, "
        "'IMAGES_IDX,LABELS_IDX', an .npz (arrays X, y) or .csv file, or data used in place (larger than "
        "memory): 'X.npy,y.npy' (X memory-mapped) or a Zarr store holding X and y",
    )
    parser.add_argument(
        "--data-home",
        metavar="DIR",
        help="where data sets fetched by name live (default: $STACKAE_DATA, else the user cache folder)",
    )
    if test_data:
        parser.add_argument(
            "--test-data", help="held-out samples in any --data form (default: the data's own test part or a split)"
        )
        parser.add_argument("--test-size", type=float, default=0.2, help="fraction held out when splitting (0.2)")
    parser.add_argument(
        "--label-column",
        help="CSV label column, a header name or 0-based index (default: a "
        "column named label/labels/y/target/class, two such names refused, else the first)",
    )
    parser.add_argument(
        "--scale",
        default="auto",
        help="divide .npz/.csv values by this ('auto': 255 for 0..255 integer pixels, else 1; 'none': 1)",
    )


def _scale_arg(value: str):
    if value in ("auto", "none"):
        return "auto" if value == "auto" else 1.0
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"'--scale' must be 'auto', 'none' or a number, got {value!r}.") from None


_RUN_FILE = "run.json"
_DATA_KEYS = (
    "task", "normal_class", "data", "data_home", "test_data", "label_column", "scale", "test_size", "dtype", "out",
    "unlabeled_data", "labels_per_class",
)  # fmt: skip


def _train_config(args) -> dict:
    """What to train: the data options and the estimator's parameters. With
    ``--resume DIR`` they come from DIR/run.json, written by ``--checkpoint DIR``."""
    import json

    if args.resume:
        folder = Path(args.resume)
        if not (folder / _RUN_FILE).is_file():
            raise FileNotFoundError(
                f"'{folder}' holds no stackae run to resume (no {_RUN_FILE}); start one with --checkpoint."
            )
        try:
            config = json.loads((folder / _RUN_FILE).read_text())
            config["params"]["hidden_layer_sizes"] = tuple(config["params"]["hidden_layer_sizes"])
        except (json.JSONDecodeError, KeyError, TypeError) as exc:
            raise ValueError(f"'{folder / _RUN_FILE}' is damaged ({exc}); the run cannot be resumed.") from None
        config["params"]["checkpoint_dir"] = str(folder)
        _honour_resume_options(args, config)
        return config
    config = {key: getattr(args, key) for key in _DATA_KEYS}
    config["task"] = _task_of(args)
    params = _estimator_from_args(args, DATASET_PRESETS.get(args.data, {})).get_params()
    for name in ("verbose", "log", "callbacks"):  # how the run reports, not what it is
        params.pop(name)
    if args.checkpoint:
        folder = Path(args.checkpoint)
        if holds_checkpoints(folder):
            raise ValueError(
                f"'{folder}' already holds checkpoints; continue them with --resume {folder}, "
                "or choose an empty folder."
            )
        if (folder / _RUN_FILE).exists():  # a run that has written no checkpoint yet (it may be running)
            raise ValueError(
                f"'{folder}' belongs to another run (its {_RUN_FILE}); continue it with --resume {folder}, "
                "or choose an empty folder."
            )
        params["checkpoint_dir"] = str(folder)
        folder.mkdir(parents=True, exist_ok=True)
        record = {**config, "params": {**params, "hidden_layer_sizes": list(params["hidden_layer_sizes"])}}
        atomic_write(folder / _RUN_FILE, lambda fh: fh.write(json.dumps(record, indent=1).encode()))
    config["params"] = params
    return config


#: options --resume honours (where the model goes, where the data lives, how the run is
#: shown or run); every other one would change the run, and is refused
_RESUME_HONOURS = {"out", "data_home", "quiet", "workers", "scheduler", "resume", "log"}


def _same_as_recorded(key: str, args, config, built, recorded) -> bool:
    """Whether the option ``key`` given beside ``--resume`` says what the run recorded
    (the command that started the run, recalled and given ``--resume``): ``built``, the
    parameters the options given make (None: they do not fit the run's task), against
    ``recorded``, the run's."""
    if key == "checkpoint":
        return Path(args.checkpoint).resolve() == Path(args.resume).resolve()
    if key in _DATA_KEYS:
        return _same_setting(getattr(args, key), config.get(key))
    if built is None:
        return False
    if key == "preset":
        return all(_same_setting(v, recorded.get(k)) for k, v in built.items() if k in recorded)
    name = "hidden_layer_sizes" if key == "hidden" else key
    return name in built and name in recorded and _same_setting(built[name], recorded[name])


def _honour_resume_options(args, config) -> None:
    """Options given beside ``--resume``: those of :data:`_RESUME_HONOURS` replace the
    run's own; one equal to what the run recorded is taken as it (the command that
    started the run, recalled and given ``--resume``); any other is refused (the run
    continues as it was started)."""
    defaults = vars(build_parser().parse_args(["train"]))
    given = sorted(k for k, v in vars(args).items() if k in defaults and k != "func" and v != defaults[k])
    recorded = upgrade_params(config["params"])
    try:
        built = _estimator_params(args, DATASET_PRESETS.get(config.get("data"), {}))
    except ValueError:  # an option the run's task does not take: not the run's
        built = None
    refused = [k for k in given if k not in _RESUME_HONOURS and not _same_as_recorded(k, args, config, built, recorded)]
    if refused:
        flags = ", ".join("--" + ("hidden" if k == "hidden" else k.replace("_", "-")) for k in refused)
        raise ValueError(
            f"--resume continues the run as it was started, so {flags} cannot change it; remove "
            f"{'it' if len(refused) == 1 else 'them'}, or start a new run with --checkpoint."
        )
    for key in ("out", "data_home"):
        if getattr(args, key) is not None:
            config[key] = getattr(args, key)


def _input_paths(*specs) -> list[str]:
    """The files a --data-style value names (``A,B`` pairs are two files)."""
    return [part for spec in specs if spec for part in str(spec).split(",")]


def _train_inputs(config) -> list:
    """Every path ``train`` reads: the data, the test data, the unlabeled source (each
    ``A,B`` pair two files; a folder with every file in it) and the cache of fetched data."""
    specs = (config["data"], config["test_data"], config.get("unlabeled_data"))
    return [*_input_paths(*specs), data_home(config.get("data_home"))]


def cmd_train(args) -> int:

    if args.out is not None:  # before anything is written (a checkpoint folder's run record)
        check_writable(args.out, "--out")
    config = _train_config(args)
    if config["out"] is not None:  # before any work: a model that cannot be saved is lost
        check_writable(config["out"], "--out")
        check_not_an_input(config["out"], "--out", _train_inputs(config))
    if args.log is not None:
        check_writable(args.log, "--log")
        check_not_an_input(args.log, "--log", [*_train_inputs(config), config["out"]])
    dtype = np.dtype(config["dtype"]).type
    data = load_dataset(
        config["data"],
        config["test_data"],
        label_column=config["label_column"],
        scale=_scale_arg(config["scale"]),
        test_size=config["test_size"],
        dtype=dtype,
        data_home=config.get("data_home"),
        progress=_DownloadProgress(),
    )
    task = config.get("task") or "classify"
    if task not in TASKS:
        raise ValueError(f"The run's task {task!r} is not one of {', '.join(TASKS)}; its run.json is damaged.")
    try:
        clf = TASKS[task](**upgrade_params(config["params"]), verbose=0 if args.quiet else 1, log=args.log)
    except TypeError as exc:  # a run.json edited by hand: an unknown or a missing parameter
        raise ValueError(
            f"The run's parameters do not fit {TASKS[task].__name__} ({exc}); its run.json is damaged."
        ) from None
    X_fit, y_fit, y_test = data.X_train, data.y_train, data.y_test
    X_more = _unlabeled_rows(config, task, data, dtype, clf)
    normal = config.get("normal_class")
    own_test_part = config.get("test_data") is None and _has_own_test_part(config["data"])
    if args.test_size != 0.2 and own_test_part and not args.quiet:
        warnings.warn(
            f"--test-size {args.test_size} is not used: '{config['data']}' has its own test part.", stacklevel=1
        )
    if task == "regress":
        y_fit, y_test = _numeric_targets(y_fit, data.name), _numeric_targets(y_test, data.name)
    elif task == "outliers" and normal is not None:
        normal = _class_of(normal, data.y_train)
        keep = np.flatnonzero(data.y_train == normal)
        if keep.size == 0:
            raise ValueError(f"--normal-class {normal!r}: no training sample has that label.")
        X_fit = _xp_rows(data.X_train, keep)
    skip = ("verbose", "warm_start", "checkpoint_dir", "checkpoint_every")
    shown = {k: v for k, v in effective_params(clf).items() if k not in skip}  # the names they have now
    print(
        f"data: {data.name} ({data.X_train.shape[0]} training, {data.X_test.shape[0]} test samples, "
        f"{data.X_train.shape[1]} features, {np.dtype(data.X_train.dtype).name})"
    )
    if config.get("labels_per_class") is not None:
        X_fit, y_fit, X_more = _keep_labels(X_fit, y_fit, X_more, int(config["labels_per_class"]), clf.random_state)
        print(
            f"labels: {y_fit.size} kept ({config['labels_per_class']} of each of {np.unique(y_fit).size} classes, "
            f"drawn by the seed {clf.random_state}); the other {X_more.shape[0]} training rows used unlabeled"
        )
    elif X_more is not None:
        print(f"unlabeled data: {config['unlabeled_data']} ({X_more.shape[0]} rows)")
    if task != "classify":
        extra = ""
        if task == "outliers" and normal is not None:
            extra = f"; normal class {normal!r}: {X_fit.shape[0]} training samples"
        print(f"task: {task} ({type(clf).__name__}){extra}")
    defaults = effective_params(type(clf)())
    changed = {k: v for k, v in shown.items() if k not in defaults or not _same_setting(v, defaults[k])}
    print(
        "settings: " + (", ".join(f"{k}={v!r}" for k, v in changed.items()) or "the defaults")
        + f" (the rest: {type(clf).__name__}'s defaults)"
    )  # fmt: skip
    if clf.checkpoint_dir is not None:
        print(f"checkpoints: {clf.checkpoint_dir} (every {clf.checkpoint_every} iterations and after each stage)")
    with _cluster(args) as client:
        if client is not None:
            X_fit = dask_rows(X_fit)
            workers = client.scheduler_info()["workers"]
            dashboard = _dashboard_link(client)
            print(
                f"cluster: {client.scheduler.address}, {len(workers)} workers, "
                f"{sum(w['nthreads'] for w in workers.values())} threads; "
                f"dashboard: {dashboard or 'none (pip install bokeh)'}; {X_fit.numblocks[0]} chunks of rows"
            )
        start = time.perf_counter()
        with warnings.catch_warnings(), _iteration_limits() as limits:
            if args.quiet:
                warnings.simplefilter("ignore")
            if X_more is not None:
                clf.fit(X_fit, y_fit, X_unlabeled=X_more)
            elif task in (*_CLASSIFYING, "regress"):
                clf.fit(X_fit, y_fit)
            else:
                clf.fit(X_fit)
        elapsed = time.perf_counter() - start
    if limits:
        print(f"note: {_joined(list(limits))} ran all their iterations ({_joined(sorted(set(limits.values())))}); "
              "more may fit closer", file=sys.stderr)  # fmt: skip
    cut = getattr(clf, "interrupted_stage_", None)
    if cut is not None:
        later = "; the stages after it did not run" if cut not in ("finetune", "ladder") else ""
        resume = f" (--resume {clf.checkpoint_dir} continues it)" if clf.checkpoint_dir is not None else ""
        print(
            f"interrupted: stage '{cut}' was cut short by {_cut_by()}{later}{resume}; the model is the network as it is"
        )
    metrics = _report(clf, task, data.X_test, y_test, normal)
    print(f"training time: {elapsed:.1f} s")
    if config["out"]:
        metadata = {
            "data": data.name,
            "image_shape": list(data.image_shape) if data.image_shape else None,
            "input_scale": data.input_scale,
            "dtype": config["dtype"],
            "task": task,
            **({"normal_class": _jsonable_label(normal)} if normal is not None else {}),
            **({"interrupted_stage": cut} if cut is not None else {}),
            **metrics,
        }
        _save_or_rescue(clf, config["out"], metadata)
    return 0


def _unlabeled_rows(config, task, data, dtype, model):
    """``--unlabeled-data``'s rows (labels, if any, ignored), scaled by the training
    data's rule; None without it. Only the classifying tasks learn from them."""
    spec = config.get("unlabeled_data")
    per_class = config.get("labels_per_class")
    if (spec is not None or per_class is not None) and task not in _CLASSIFYING:
        flag = "--unlabeled-data" if spec is not None else "--labels-per-class"
        raise ValueError(f"{flag} applies to --task classify or ladder, not --task {task}.")
    if per_class is not None and (isinstance(per_class, bool) or not isinstance(per_class, int) or per_class < 1):
        raise ValueError(f"'--labels-per-class' must be a positive integer, got {per_class!r}.")
    if spec is None:
        return None

    X, _, _, _ = load_samples(
        spec,
        scale=_scale_arg(config["scale"]),
        raw_scale=data.input_scale,
        dtype=dtype,
        data_home=config.get("data_home"),
        progress=_DownloadProgress(),
        labels=False,
        split="train",
    )
    if X.shape[1] != data.X_train.shape[1]:
        raise ValueError(
            f"--unlabeled-data '{spec}' has {X.shape[1]} features per sample, the training data "
            f"{data.X_train.shape[1]}; both must describe the same features."
        )
    return X


def _keep_labels(X, y, X_more, per_class: int, seed):
    """``--labels-per-class``: ``per_class`` labeled rows of each class drawn by ``seed``
    (class-balanced, as such experiments are run); the training set's other rows join
    the unlabeled ones."""
    rng = np.random.RandomState(seed)
    chosen = []
    for label in np.unique(y):
        rows = np.flatnonzero(y == label)
        if rows.size < per_class:
            raise ValueError(
                f"--labels-per-class {per_class}: the class {_jsonable_label(label)!r} has only {rows.size} "
                "training samples."
            )
        chosen.append(rng.choice(rows, per_class, replace=False))
    keep = np.sort(np.concatenate(chosen))
    rest = np.setdiff1d(np.arange(y.size), keep)
    unlabeled = _xp_rows(X, rest)
    if X_more is not None:
        unlabeled = np.concatenate([unlabeled, np.asarray(X_more, dtype=unlabeled.dtype)])
    return _xp_rows(X, keep), y[keep], unlabeled


def _has_own_test_part(spec) -> bool:
    """Data whose test part is its own (MNIST-layout folders and names, the digits'
    split), for which --test-size means nothing."""
    return spec == "digits" or spec in REMOTE_DATASETS or Path(str(spec)).is_dir()


def _save_or_rescue(model, path, metadata) -> None:
    """Save the trained model to ``path``; if that fails now (the disk filled, the folder
    went away), save it where it can be found and say where, so no training is lost."""
    import tempfile

    try:
        save_model(model, path, metadata=metadata)
    except OSError as exc:
        rescue = Path(tempfile.gettempdir()) / f"stackae-rescued-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}.npz"
        save_model(model, rescue, metadata=metadata)
        raise OSError(f"could not save the model to '{path}' ({exc}); it was saved to '{rescue}' instead.") from None
    print(f"model saved to {path}")


def _xp_rows(X, rows):
    """Rows ``rows`` of a training set (in memory, or a file's rows read once)."""
    return np.asarray(X[rows]) if isinstance(X, np.ndarray) else np.asarray(X)[rows]


def _jsonable_label(value):
    return value.item() if hasattr(value, "item") else value


def _class_of(value: str, y):
    """``--normal-class`` as the labels' type (``"3"`` is the class 3 of integer labels)."""
    if np.issubdtype(np.asarray(y).dtype, np.integer):
        try:
            return int(value)
        except ValueError:
            raise ValueError(f"--normal-class must be one of the integer labels, got {value!r}.") from None
    return value


def _numeric_targets(y, source):
    try:
        return np.asarray(y, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"--task regress needs numeric targets, but '{source}' has labels such as {y[0]!r}.") from None


def _report(model, task, X, y, normal=None) -> dict:
    """Print the task's test metrics before and after fine-tuning; return them for the model file."""
    pretrained = hasattr(model, "pretrained_coefs_")
    metrics = {}
    whens = ["before", "after"] if pretrained else ["after"]
    values = {when: _metrics(model, task, X, y, normal, pretrained=when == "before") for when in whens}
    if not registration(model).finetuned:  # one stage: there is no before
        for name, (value, text) in values["after"].items():
            print(f"test {name}: {text}")
            metrics[f"test_{name.replace(' ', '_')}"] = value
        return metrics
    for name in values["after"]:
        width = len(f"test {name} before fine-tuning:")  # the values of before and after aligned
        for when in whens:
            value, text = values[when][name]
            print(f"{f'test {name} {when} fine-tuning:':<{width}} {text}")
            key = f"test_{name.replace(' ', '_')}"
            metrics[key + ("_before_finetuning" if when == "before" else "")] = value
    return metrics


def _metrics(model, task, X, y, normal, *, pretrained=False) -> dict:
    """``{name: (value, text)}`` of a task's metrics on ``X`` (labels or targets ``y``)."""
    if task in _CLASSIFYING:
        accuracy = float(np.mean(model.predict(X, pretrained=pretrained) == y))
        return {"accuracy": (accuracy, f"{100 * accuracy:.2f}%")}
    if task == "regress":
        from sklearn.metrics import mean_squared_error, r2_score

        predicted = model.predict(X, pretrained=pretrained)
        r2, rmse = float(r2_score(y, predicted)), float(np.sqrt(mean_squared_error(y, predicted)))
        return {"R2": (r2, f"{r2:.4f}"), "RMSE": (rmse, f"{rmse:.6g}")}
    error = model.reconstruction_error(X, pretrained=pretrained)
    out = {"reconstruction error": (float(error.mean()), f"{error.mean():.6g} per sample")}
    if task == "outliers" and normal is not None and y is not None:
        from sklearn.metrics import roc_auc_score

        is_normal = np.asarray(y) == normal
        if 0 < is_normal.sum() < is_normal.size:
            auc = float(roc_auc_score(is_normal, -error))
            out["AUC"] = (auc, f"{auc:.4f} (normal: class {normal!r} against the rest)")
    return out


class _DownloadProgress:
    """Download progress on stderr: a line when a file starts, then one about every
    second (redrawn in place on a terminal), and when it ends."""

    def __init__(self, stream=None):
        self.stream = sys.stderr if stream is None else stream
        self.url, self.last = None, 0.0

    def __call__(self, url, done, total):
        now = time.perf_counter()
        interactive = getattr(self.stream, "isatty", lambda: False)()
        if url != self.url:
            self.url, self.last = url, now
            print(f"downloading {url}", file=self.stream)
        finished = total is not None and done >= total
        if now - self.last >= 1.0 or finished:
            self.last = now
            size = f"{done / 2**20:.1f}" + (f" of {total / 2**20:.1f} MiB" if total else " MiB")
            print(("\r" if interactive else "") + f"  {size}", end="" if interactive and not finished else "\n",
                  file=self.stream, flush=True)  # fmt: skip


def _dashboard_link(client):

    if client.cluster is not None and not _has_bokeh():  # a LocalCluster of ours has no dashboard then
        return None
    try:
        return client.dashboard_link
    except (AttributeError, KeyError, ValueError):
        return None


def _cluster(args):
    """A Dask client for ``--workers``/``--scheduler``, else a context yielding None."""
    import contextlib

    if args.workers is None and args.scheduler is None:
        return contextlib.nullcontext(None)
    if args.workers is not None and args.workers < 1:
        raise ValueError(f"'--workers' must be a positive integer, got {args.workers}.")

    return connect(workers=args.workers, scheduler=args.scheduler)


def cmd_evaluate(args) -> int:
    from sklearn.metrics import classification_report, confusion_matrix

    model = load_model(args.model)
    X, y, _, _ = load_samples(
        args.data,
        label_column=args.label_column,
        scale=_scale_arg(args.scale),
        raw_scale=model.metadata_.get("input_scale"),
        data_home=args.data_home,
        progress=_DownloadProgress(),
    )
    _check_features(model, X, args.data)
    task = registration(model).task
    if task not in (None, *_CLASSIFYING):
        normal = model.metadata_.get("normal_class")
        y = _numeric_targets(y, args.data) if task == "regress" else y
        print(f"samples: {X.shape[0]}")
        print(f"task: {task} ({type(model).__name__})")
        for name, (_, text) in _metrics(model, task, X, y, normal).items():
            print(f"{name}: {text}")
        if task == "outliers":
            flagged = float(np.mean(model.predict(X) == -1))
            print(f"outliers: {100 * flagged:.2f}% of the samples (contamination {model.contamination})")
        return 0
    y = _comparable_labels(y, model.classes_, args.data)
    predicted = model.predict(X)
    unseen = sorted(set(np.unique(y).tolist()) - set(model.classes_.tolist()))
    if unseen:
        count = int(np.isin(y, unseen).sum())
        shown = ", ".join(map(repr, unseen[:5])) + (", ..." if len(unseen) > 5 else "")
        warnings.warn(
            f"{count} samples have labels the model never saw ({shown}): they count as errors, and are rows "
            "of their own in the report.",
            stacklevel=1,
        )
    print(f"samples: {X.shape[0]}")
    print(f"accuracy: {100 * np.mean(predicted == y):.2f}%")
    print()
    labels = (
        np.concatenate([model.classes_, np.asarray(unseen, dtype=model.classes_.dtype)]) if unseen else model.classes_
    )
    print(classification_report(y, predicted, labels=labels, digits=4, zero_division=0))
    matrix = confusion_matrix(y, predicted, labels=labels)
    names = [str(c) for c in labels]
    width = max(6, *(len(n) for n in names), len(str(matrix.max())))
    print("confusion matrix (rows: true class, columns: predicted)")
    print(" " * width + " " + " ".join(n.rjust(width) for n in names))
    for name, row in zip(names, matrix):
        print(name.rjust(width) + " " + " ".join(str(v).rjust(width) for v in row))
    return 0


def _comparable_labels(y, classes, source):
    """``y`` in the type of the model's labels (integer labels read as numbers, or as
    text from a CSV), checked before anything is printed: labels of another kind cannot
    be compared with the predictions."""
    y = np.asarray(y)
    if classes.dtype.kind in "iu":
        if y.dtype.kind in "iu":
            return y.astype(classes.dtype)
        try:
            as_numbers = y.astype(np.float64)
        except (TypeError, ValueError):
            as_numbers = None
        if as_numbers is not None and np.all(np.mod(as_numbers, 1) == 0):
            return as_numbers.astype(classes.dtype)
        raise ValueError(
            f"'{source}' has labels such as {str(y.ravel()[0])!r}, but the model's classes are integers "
            f"({', '.join(map(str, classes[:5]))}{', ...' if classes.size > 5 else ''}); they cannot be compared."
        )
    if y.dtype.kind in "iufb" and classes.dtype.kind in "USO":
        return y.astype(str)
    return y


def _check_features(model, X, source) -> None:
    if X.shape[1] != model.n_features_in_:
        raise ValueError(
            f"'{source}' has {X.shape[1]} features per sample but the model expects {model.n_features_in_}."
        )


_IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".pgm"}


def cmd_predict(args) -> int:
    import json

    check_not_an_input(args.out, "--out", [args.model, *args.input])
    model = load_model(args.model)
    inputs = [Path(p) for p in args.input]
    if all(p.suffix.lower() in _IMAGE_SUFFIXES for p in inputs):
        shape = model.metadata_.get("image_shape")
        if not shape or len(shape) != 2:
            raise ValueError(
                f"The model in '{args.model}' was not trained on images, so it cannot classify image files."
            )
        X = load_images(inputs, tuple(shape), invert=args.invert)
        names = [str(p) for p in inputs]
    elif len(inputs) == 1 and inputs[0].suffix.lower() in (".npz", ".csv"):
        path = inputs[0]
        if path.suffix.lower() == ".npz":
            X, _ = load_npz(path)
        else:
            X, _ = load_csv(
                path,
                args.label_column,
                require_labels=False,
                n_features=model.n_features_in_,
                classes=getattr(model, "classes_", None),
            )
        scale = resolve_input_scale(X, _scale_arg(args.scale), model.metadata_.get("input_scale"))
        X = np.asarray(X, dtype=np.float64) / scale
        names = [str(i) for i in range(X.shape[0])]
    else:
        raise ValueError("INPUT must be one .npz or .csv file, or image files (PNG, JPEG, ...).")
    _check_features(model, X, args.input[0])
    rows = _predictions(model, X, names)
    if args.format == "json":
        text = json.dumps(rows, indent=1) + "\n"
    else:  # quoted where a value holds a comma, a quote or a line break (a path, a label)
        import csv
        import io

        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["input"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
        text = buffer.getvalue()
    if args.out:
        atomic_write(args.out, lambda fh: fh.write(text.encode()))  # a full disk leaves the old file whole
    else:
        sys.stdout.write(text)
    return 0


def _predictions(model, X, names) -> list[dict]:
    """One record a sample: a classifier's label and its probability, a regressor's
    predicted target(s), a detector's label (-1 outlier, 1 inlier) and its decision value."""
    predicts = registration(model).predicts
    if predicts == "values":
        P = np.asarray(model.predict(X)).reshape(X.shape[0], -1)
        keys = ["prediction"] if P.shape[1] == 1 else [f"prediction_{j}" for j in range(P.shape[1])]
        return [{"input": n, **{k: round(float(v), 6) for k, v in zip(keys, p)}} for n, p in zip(names, P)]
    if predicts == "outliers":
        scores = model.decision_function(X)
        return [
            {"input": n, "label": -1 if d < 0 else 1, "decision": round(float(d), 6)} for n, d in zip(names, scores)
        ]
    if not hasattr(model, "predict_proba"):
        raise ValueError(
            f"The model in this file is a {type(model).__name__}, which makes no predictions; use it from Python "
            "(transform, inverse_transform, score_samples)."
        )
    proba = model.predict_proba(X)
    labels = model.classes_[np.argmax(proba, axis=1)]
    confidence = proba.max(axis=1)
    return [
        {"input": n, "label": lab.item() if hasattr(lab, "item") else lab, "probability": round(float(c), 6)}
        for n, lab, c in zip(names, labels, confidence)
    ]


def _is_zip(path) -> bool:
    """Whether ``path`` starts as a zip archive does (a model file); a missing file
    counts as one, so that loading it says it is missing."""
    try:
        with open(path, "rb") as fh:
            return fh.read(4) == b"PK\x03\x04"
    except OSError:
        return True


def cmd_show(args) -> int:
    check_not_an_input(args.out, "--out", [args.model])
    check_not_an_input(args.curves, "--curves", [args.model])
    if not _is_zip(args.model):  # a training log (--log): its curves, nothing else to draw
        records = read_log(args.model)
        save_log_curves(records, args.out)
        stages = len({r["stage"] for r in records})
        print(f"learning curves of {stages} stages ({len(records)} iterations) saved to {args.out}")
        return 0
    model = load_model(args.model)
    W = model.coefs_[0]
    shape = model.metadata_.get("image_shape") or _square_shape(W.shape[0])
    if not shape or len(shape) != 2 or shape[0] * shape[1] != W.shape[0]:
        raise ValueError(
            f"The model's input has {W.shape[0]} features, which is not an image (not a square "
            "and no image shape recorded), so its filters cannot be drawn."
        )
    width, height = save_filter_grid(W, tuple(shape), args.out)
    print(f"first-layer filters ({W.shape[1]} units, {shape[0]}x{shape[1]}) saved to {args.out} ({width}x{height})")
    curves = getattr(model, "loss_curve_", None)
    if curves:
        if not isinstance(curves, dict):
            curves = {"training": curves}
        out = Path(args.out)
        curves_path = args.curves or out.with_name(out.stem + "-curves.png")
        save_learning_curves(curves, curves_path)
        print(f"learning curves of {len(curves)} stages saved to {curves_path}")
    return 0


def cmd_export(args) -> int:

    check_writable(args.out, "--out")
    check_not_an_input(args.out, "--out", [args.model])
    model = load_model(args.model)
    if args.format == "onnx":
        if args.output is not None:
            raise ValueError("--output applies to --format torch; an ONNX model computes what skl2onnx's do.")
        try:
            import onnxruntime  # noqa: F401
            import skl2onnx  # noqa: F401
        except ImportError:
            raise ValueError("--format onnx needs skl2onnx and onnxruntime: pip install 'stackae[onnx]'") from None

        save_onnx(model, args.out)
        print(f"{type(model).__name__} exported to {args.out} (ONNX; run it with onnxruntime.InferenceSession)")
        return 0
    try:
        import torch  # noqa: F401
    except ImportError:
        raise ValueError("--format torch needs PyTorch: pip install torch") from None

    save_torch(model, args.out, args.output)
    print(f"{type(model).__name__} exported to {args.out} (torch.export; load with torch.export.load(path).module())")
    return 0


def cmd_presets(args) -> int:
    for name, params in PRESETS.items():
        print(f"{name}: {DESCRIPTIONS[name]}")
        print("    " + " ".join(_as_options(params)))
    return 0


def _as_options(params: dict) -> list[str]:
    """``--name value`` words for ``params`` (as ``stackae train`` takes them)."""
    words = []
    for name, value in params.items():
        flag = "--hidden" if name == "hidden_layer_sizes" else "--" + name.replace("_", "-")
        if isinstance(value, bool):
            words.append(flag if value else "--no-" + flag[2:])
        elif isinstance(value, tuple | list):
            words.append(f"{flag} {' '.join(str(v) for v in value)}")
        else:
            words.append(f"{flag} {value}")
    return words


def cmd_gradcheck(args) -> int:

    rng = np.random.default_rng(args.random_state)
    X = rng.random((args.samples, 8))
    y = rng.integers(0, 3, args.samples)
    clean = rng.random((args.samples, 8))  # a denoising autoencoder's target
    targets = rng.normal(size=(args.samples, 2))  # a regression's
    weights = rng.random(args.samples) + 0.5
    checks = {
        "sparse_autoencoder_cost (8-5-8)": (
            lambda t: sparse_autoencoder_cost(t, X, 5, alpha=3e-3, sparsity_target=0.1, sparsity_weight=3.0),
            init_theta((8, 5, 8), rng),
        ),
        "softmax_cost (8-3)": (
            lambda t: softmax_cost(t, X, y, 3, alpha=1e-4),
            rng.normal(0, 0.1, n_params((8, 3))),
        ),
        "stack_cost (8-6-4-3, decay=softmax)": (
            lambda t: stack_cost(t, X, y, (6, 4), 3, alpha=1e-4),
            rng.normal(0, 0.5, n_params((8, 6, 4, 3))),
        ),
        "stack_cost (8-6-4-3, decay=all)": (
            lambda t: stack_cost(t, X, y, (6, 4), 3, alpha=3e-3, decay="all"),
            rng.normal(0, 0.5, n_params((8, 6, 4, 3))),
        ),
        "denoising tied AE, cross-entropy (8-5-8)": (
            lambda t: sparse_autoencoder_cost(
                t,
                X,
                5,
                alpha=3e-3,
                sparsity_target=0.1,
                sparsity_weight=3.0,
                target=clean,
                tied=True,
                loss="cross_entropy",
            ),
            init_theta((8, 5, 8), rng, tied=True) + rng.normal(0, 0.1, 8 * 5 + 5 + 8),
        ),
        "contractive tanh AE, linear output (8-5-8)": (
            lambda t: sparse_autoencoder_cost(
                t,
                X,
                5,
                alpha=3e-3,
                sparsity_target=0.1,
                sparsity_weight=0.0,
                activation="tanh",
                output_activation="linear",
                contraction=0.3,
            ),
            init_theta((8, 5, 8), rng) + rng.normal(0, 0.1, n_params((8, 5, 8))),
        ),
        "regression head, weighted rows (8-6-2)": (
            lambda t: stack_cost(t, X, targets, (6,), 2, alpha=1e-3, head=SquaredErrorHead(), sample_weight=weights),
            rng.normal(0, 0.5, n_params((8, 6, 2))),
        ),
        "deep autoencoder, cross-entropy (8-6-3-6-8)": (
            lambda t: stack_cost(
                t, X, None, (6, 3, 6), 8, alpha=1e-3, decay="all", head=reconstruction_head("sigmoid", "cross_entropy")
            ),
            rng.normal(0, 0.5, n_params((8, 6, 3, 6, 8))),
        ),
        "ReLU stack with dropout (8-6-4-3)": (
            lambda t: stack_cost(t, X, y, (6, 4), 3, alpha=1e-4, activation="relu", dropout=(0.2, 0.5, 0.5)),
            rng.normal(0, 0.5, n_params((8, 6, 4, 3))),
        ),
    }
    worst = 0.0
    for name, (fun, theta) in checks.items():
        note = ""
        if "ReLU" in name:  # central differences across a ReLU's kink are no derivative
            diff, apart = check_gradient_apart_from_kinks(fun, theta, order=4)
            note = f" ({apart} coordinates at a kink judged apart)" if apart else ""
        else:
            diff = check_gradient(fun, theta, order=4)
        worst = max(worst, diff)
        print(f"{name:<44} relative difference {diff:.3e}{note}")
    ok = worst < 1e-9
    print(
        f"{'OK' if ok else 'FAILED'}: largest relative difference {worst:.3e} "
        "(threshold 1e-9; four-point central differences, epsilon 1e-4)"
    )
    return 0 if ok else 1


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="stackae",
        description="Stacked sparse autoencoders, greedily pretrained and fine-tuned by backpropagation.",
    )
    parser.add_argument("--version", action="version", version=f"stackae {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    train = sub.add_parser("train", help="pretrain, train the output layer, fine-tune; print the test metrics")
    train.add_argument(
        "--task",
        choices=list(TASKS),
        default="classify",
        help="classify (softmax; default), regress (linear output, squared error, numeric labels), "
        "reconstruct (a deep autoencoder, labels ignored), outliers (reconstruction error), "
        "ladder (the Ladder network, a classifier that learns from unlabeled rows; the ladder presets set it)",
    )
    train.add_argument(
        "--unlabeled-data",
        metavar="SRC",
        help="more training samples without labels, in any --data form (labels there are ignored), scaled as "
        "the training data; pretraining (--task classify) or the Ladder's denoising learns from them",
    )
    train.add_argument(
        "--labels-per-class",
        type=int,
        metavar="N",
        help="keep the labels of N training samples of each class, drawn by --random-state, and use the other "
        "training samples unlabeled (the protocol of semi-supervised experiments)",
    )
    train.add_argument(
        "--normal-class",
        metavar="LABEL",
        help="--task outliers: train on this class's samples only and report the test AUC of normal (this class) "
        "against the rest (the one-class protocol)",
    )
    _add_data_options(train, default="digits")
    train.add_argument(
        "--dtype",
        choices=["float32", "float64"],
        default="float64",
        help="the floats training runs in (default float64)",
    )
    train.add_argument("--out", help="save the trained model to this .npz file")
    train.add_argument("--checkpoint", metavar="DIR", help="write checkpoints (and the run's settings) to this folder")
    train.add_argument(
        "--log",
        metavar="FILE",
        help="write every iteration's cost, validation score, learning rate and time to FILE as JSON lines "
        "('stackae show FILE --out PNG' plots them)",
    )
    train.add_argument(
        "--resume",
        metavar="DIR",
        help="continue the run checkpointed in DIR, with its settings (other options ignored)",
    )
    train.add_argument("--quiet", action="store_true", help="no progress lines, no warnings")
    cluster = train.add_mutually_exclusive_group()
    cluster.add_argument("--workers", type=int, metavar="N", help="train on a local Dask cluster of N worker processes")
    cluster.add_argument("--scheduler", metavar="ADDRESS", help="train on the Dask cluster at ADDRESS (tcp://...)")
    train.add_argument(
        "--preset",
        choices=list(PRESETS),
        help="a named recipe (see 'stackae presets'); options given beside it override it",
    )
    _add_hyperparameter_options(train)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="accuracy, per-class precision/recall, confusion matrix")
    evaluate.add_argument("model", help="a model file saved by 'stackae train --out'")
    _add_data_options(evaluate, test_data=False)
    evaluate.set_defaults(func=cmd_evaluate)

    predict = sub.add_parser("predict", help="labels for an .npz/.csv of samples or for image files")
    predict.add_argument("model")
    predict.add_argument("input", nargs="+", help="one .npz/.csv file, or image files (PNG, JPEG, ...)")
    predict.add_argument(
        "--format", choices=["csv", "json"], default="csv", help="the predictions' file format (default csv)"
    )
    predict.add_argument("--out", help="write here instead of standard output")
    predict.add_argument("--invert", action="store_true", help="images are dark on light: invert them")
    predict.add_argument("--label-column", help="a CSV column to ignore (the labels)")
    predict.add_argument("--scale", default="auto", help="divide .npz/.csv values by this (default: as in training)")
    predict.set_defaults(func=cmd_predict)

    show = sub.add_parser(
        "show", help="picture of a model's first-layer filters and learning curves, or of a training log's curves"
    )
    show.add_argument("model", help="a model file (.npz), or a training log written by --log")
    show.add_argument("--out", required=True, help="PNG file for the filters (a log: for its curves)")
    show.add_argument("--curves", help="PNG file for the learning curves (default: OUT-curves.png)")
    show.set_defaults(func=cmd_show)

    export = sub.add_parser("export", help="a model for use without stackae: a PyTorch program (torch.export)")
    export.add_argument("model")
    export.add_argument(
        "--format",
        choices=["torch", "onnx"],
        default="torch",
        help="torch: a .pt2 file of torch.export; onnx: an ONNX model (skl2onnx: a classifier's label and "
        "probabilities, a regressor's predictions, an autoencoder's codes)",
    )
    export.add_argument("--out", required=True, help="the file to write (e.g. model.pt2)")
    export.add_argument(
        "--output",
        help="what the program computes: predict_proba (classifiers' default), scores, predict (regressors'), "
        "transform (autoencoders'), reconstruct",
    )
    export.set_defaults(func=cmd_export)

    presets = sub.add_parser("presets", help="the named recipes of --preset and what each sets")
    presets.set_defaults(func=cmd_presets)

    gradcheck = sub.add_parser("gradcheck", help="check every objective's gradient by central differences")
    gradcheck.add_argument("--samples", type=int, default=10, help="rows of the random problem (default 10)")
    gradcheck.add_argument(
        "--random-state", type=int, default=0, help="seed of the problem and its weights (default 0)"
    )
    gradcheck.set_defaults(func=cmd_gradcheck)
    return parser


@contextlib.contextmanager
def _iteration_limits():
    """Within it, a stage that ran all its iterations (an ``IterationLimitWarning``) is
    collected, ``{stage: "param=N"}``, for one line after the training, rather than a
    warning a stage: reaching the planned iterations is how most runs end. Other warnings
    are shown as they come."""
    limits: dict[str, str] = {}
    shown = warnings.showwarning

    def show(message, category, filename, lineno, file=None, line=None):
        if isinstance(message, IterationLimitWarning):
            limits[message.stage] = f"{message.param}={message.max_iter}"
        else:
            shown(message, category, filename, lineno, file, line)

    warnings.showwarning = show
    try:
        yield limits
    finally:
        warnings.showwarning = shown


def _joined(items) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _same_setting(a, b) -> bool:
    try:
        return bool(a == b) if not isinstance(a, np.ndarray | list | tuple) else list(a) == list(b)
    except (TypeError, ValueError):
        return False


def _show_warning(message, category, filename, lineno, file=None, line=None):
    print(f"Warning: {message}", file=sys.stderr)


#: The signals that end a command as Ctrl-C does (what ``kill``, ``timeout``, container
#: stops and batch schedulers send, and a closed terminal), where the platform has them.
_STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name))
#: The name of the signal that cut the command short (None: Ctrl-C, or none).
_stopped_by: list[str] = []


@contextlib.contextmanager
def _signals_as_ctrl_c():
    """Within it, SIGTERM and SIGHUP raise KeyboardInterrupt where the program is, so a
    training saves what stands, records the cut and releases its lock as on Ctrl-C
    (handlers can only be set in the main thread; elsewhere nothing changes)."""

    def stop(signum, frame):
        _stopped_by.append(signal.Signals(signum).name)
        raise KeyboardInterrupt(signal.Signals(signum).name)

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {number: signal.signal(number, stop) for number in _STOP_SIGNALS}
    try:
        yield
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _cut_by() -> str:
    return _stopped_by[-1] if _stopped_by else "Ctrl-C"


def main(argv=None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _stopped_by.clear()
    try:
        with warnings.catch_warnings(), _signals_as_ctrl_c():
            warnings.showwarning = _show_warning
            return args.func(args)
    except BrokenPipeError:  # e.g. `stackae evaluate ... | head`: not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (StackaeError, ValueError, FileNotFoundError, OSError) as exc:
        print(f"Error: {exc}", file=sys.stderr)
        return 1
    except MemoryError as exc:  # the library's estimate up front, or an allocation that failed
        print(f"Error: {exc or 'out of memory; use smaller layers or batches, or float32 (--dtype float32)'}",
              file=sys.stderr)  # fmt: skip
        return 1
    except KeyboardInterrupt as exc:
        print(f"Interrupted: {exc}" if str(exc) else "Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
