"""The training log: every iteration's record to callbacks and a JSON-lines file, a
callback that ends its stage, the log plotted by ``stackae show``, and the progress
line's rate and time left."""

from __future__ import annotations

import io
import warnings

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning

from stackae import (
    LadderNetworkClassifier,
    SoftmaxRegression,
    SparseAutoencoder,
    StackedAutoencoder,
    StackedAutoencoderClassifier,
    StackedAutoencoderRegressor,
)
from stackae._progress import Progress
from stackae.cli import main
from stackae.datasets import load_digits_split
from stackae.exceptions import DataError, TrainingInterrupted
from stackae.io import load_model, save_model
from stackae.log import RECORD_FIELDS, read_log
from stackae.optim import _learning_rate

SMALL = dict(hidden_layer_sizes=(24,), alpha=1e-4, pretrain_max_iter=6, output_max_iter=5, finetune_max_iter=7)


@pytest.fixture(scope="module")
def digits():
    return load_digits_split(dtype=np.float64)


def _fit(est, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return est.fit(*args, **kwargs)


def _by_stage(records):
    stages = {}
    for r in records:
        stages.setdefault(r["stage"], []).append(r)
    return stages


def test_every_iteration_of_every_stage_is_one_record_with_the_curve_s_cost(digits, tmp_path):
    records = []
    path = tmp_path / "train.jsonl"
    clf = _fit(
        StackedAutoencoderClassifier(**SMALL, random_state=0, early_stopping=True, log=path, callbacks=records.append),
        digits.X_train,
        digits.y_train,
    )
    stages = _by_stage(records)
    assert list(stages) == ["pretrain layer 1", "softmax", "finetune"]
    for stage, rows in stages.items():
        assert [r["iteration"] for r in rows] == list(range(1, clf.n_iter_[stage] + 1))
        # L-BFGS's curve ends with the final cost once more where the last iterate is not the best
        np.testing.assert_allclose([r["cost"] for r in rows], clf.loss_curve_[stage][: len(rows)], rtol=1e-12)
        assert all(r["learning_rate"] is None for r in rows)  # L-BFGS has none
        seconds = [r["seconds"] for r in rows]
        assert seconds == sorted(seconds) and seconds[0] >= 0
        assert all(list(r) == list(RECORD_FIELDS) for r in rows)
    # the supervised stages are scored on the validation split, as validation_scores_ holds them
    np.testing.assert_allclose([r["validation"] for r in stages["finetune"]], clf.validation_scores_["finetune"])
    # the file holds the same records, one line of JSON each
    assert read_log(path) == records
    assert len(path.read_text().splitlines()) == len(records)


def test_minibatch_records_carry_each_epoch_s_learning_rate(digits):
    records = []
    params = dict(solver="adam", learning_rate=0.01, learning_rate_schedule="linear", batch_size=64)
    clf = _fit(
        SoftmaxRegression(**params, max_iter=4, random_state=0, callbacks=records.append),
        digits.X_train,
        digits.y_train,
    )
    steps = -(-digits.X_train.shape[0] // 64)
    expected = [_learning_rate(0.01, "linear", (e * steps - 1) / (4 * steps)) for e in range(1, 5)]
    assert [r["learning_rate"] for r in records] == pytest.approx(expected, rel=1e-12)
    assert [r["cost"] for r in records] == pytest.approx(clf.loss_curve_, rel=1e-12)
    assert all(r["stage"] == "softmax" and r["validation"] is None for r in records)


def test_a_callback_that_returns_true_ends_its_stage_and_the_next_one_runs(digits):
    seen = []

    def stop_pretraining_at_3(record):
        seen.append(record["stage"])
        return record["stage"] == "pretrain layer 1" and record["iteration"] == 3

    clf = _fit(
        StackedAutoencoderClassifier(**SMALL, random_state=0, callbacks=[stop_pretraining_at_3, lambda r: None]),
        digits.X_train,
        digits.y_train,
    )
    assert clf.n_iter_["pretrain layer 1"] == 3
    assert clf.n_iter_["finetune"] == 7  # the later stages ran whole
    assert seen.count("finetune") == 7
    # a minibatch stage stops alike
    stopped = _fit(
        SparseAutoencoder(
            n_hidden=16, solver="adam", max_iter=6, random_state=0, callbacks=lambda r: r["iteration"] == 2
        ),
        digits.X_train,
    )
    assert stopped.n_iter_ == 2


def test_a_callback_raising_keyboard_interrupt_is_ctrl_c(digits, tmp_path):
    """A fit cut short keeps its log up to the cut; resuming from the checkpoints
    appends to it from the checkpointed iteration on, after dropping the records past
    that checkpoint (the run does those iterations again): each iteration once."""

    def interrupt(record):
        if record["stage"] == "pretrain layer 1" and record["iteration"] == 3:
            raise KeyboardInterrupt

    path = tmp_path / "run.jsonl"
    params = dict(**SMALL, random_state=0, checkpoint_dir=tmp_path / "ck", checkpoint_every=2, log=path)
    with pytest.raises(TrainingInterrupted):
        _fit(StackedAutoencoderClassifier(**params, callbacks=interrupt), digits.X_train, digits.y_train)
    first = read_log(path)
    assert [r["iteration"] for r in first] == [1, 2, 3]
    clf = _fit(StackedAutoencoderClassifier(**params), digits.X_train, digits.y_train)
    resumed = read_log(path)
    assert resumed[:2] == first[:2]  # up to the checkpoint at 2, as written before the cut
    stage = [r["iteration"] for r in resumed if r["stage"] == "pretrain layer 1"]
    assert stage == list(range(1, clf.n_iter_["pretrain layer 1"] + 1))  # 3 once: the resumed run's
    # a new fit (no checkpoints to resume) starts the file anew
    _fit(StackedAutoencoderClassifier(**SMALL, random_state=0, log=path), digits.X_train, digits.y_train)
    anew = [(r["stage"], r["iteration"]) for r in read_log(path)]
    assert anew == [(r["stage"], r["iteration"]) for r in resumed]  # not appended: the same iterations, once


@pytest.mark.parametrize(
    "make",
    [
        lambda cb: StackedAutoencoderRegressor(
            hidden_layer_sizes=(16,), pretrain_max_iter=3, output_max_iter=3, finetune_max_iter=3, callbacks=cb
        ),
        lambda cb: StackedAutoencoder(
            hidden_layer_sizes=(16, 2), pretrain_max_iter=3, finetune_max_iter=3, callbacks=cb
        ),
        lambda cb: LadderNetworkClassifier(
            hidden_layer_sizes=(16,), denoising_weights=(10, 1, 0.1), max_iter=2, batch_size=100, callbacks=cb
        ),
    ],
    ids=["regressor", "deep autoencoder", "ladder"],
)
def test_every_estimator_reports_each_of_its_stages(make, digits):
    records = []
    est = make(records.append).set_params(random_state=0)
    y = digits.y_train.astype(float) if isinstance(est, StackedAutoencoderRegressor) else digits.y_train
    _fit(est, digits.X_train, y)
    counts = {stage: len(rows) for stage, rows in _by_stage(records).items()}
    assert counts == est.n_iter_ if isinstance(est.n_iter_, dict) else counts == {"ladder": est.n_iter_}
    if isinstance(est, LadderNetworkClassifier):
        # the rate stays until decay_start of the steps, then falls linearly to 0
        assert records[0]["learning_rate"] == est.learning_rate
        assert 0 < records[-1]["learning_rate"] < est.learning_rate


def test_bad_callbacks_and_logs_are_refused_before_any_work(digits, tmp_path):
    X, y = digits.X_train, digits.y_train
    with pytest.raises(TypeError) as info:
        StackedAutoencoderClassifier(callbacks=[print, 3]).fit(X, y)
    assert str(info.value) == (
        "'callbacks' must be a callable or a list of callables (each called with every iteration's record), "
        "got [<built-in function print>, 3]."
    )
    with pytest.raises(TypeError, match=r"^'log' must be a file name \(a str or a path\) or None, got 3\.$"):
        SoftmaxRegression(log=3).fit(X, y)
    missing = tmp_path / "no" / "log.jsonl"
    with pytest.raises(OSError, match="^log '.*log.jsonl': no such folder '.*no'.$"):
        LadderNetworkClassifier(log=missing).fit(X, y)
    with pytest.raises(OSError, match="is a folder; give a file name"):
        SparseAutoencoder(log=tmp_path).fit(X)


def test_a_model_file_and_checkpoints_do_not_keep_where_training_reported(digits, tmp_path):
    records = []
    clf = _fit(
        StackedAutoencoderClassifier(**SMALL, random_state=0, log=tmp_path / "a.jsonl", callbacks=records.append),
        digits.X_train,
        digits.y_train,
    )
    save_model(clf, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    assert loaded.log is None and loaded.callbacks is None
    assert clone(clf).callbacks is clf.callbacks  # scikit-learn's clone keeps the parameter as it is
    # another log or callback is the same run: its checkpoints are resumed, not redone
    params = dict(**SMALL, random_state=0, checkpoint_dir=tmp_path / "ck")
    first = _fit(StackedAutoencoderClassifier(**params), digits.X_train, digits.y_train)
    again = []
    second = _fit(
        StackedAutoencoderClassifier(**params, callbacks=again.append, log=tmp_path / "b.jsonl"),
        digits.X_train,
        digits.y_train,
    )
    assert again == []  # every stage restored from the checkpoints: no iteration ran
    np.testing.assert_array_equal(first.coefs_[0], second.coefs_[0])


def test_the_command_line_writes_a_log_that_show_plots(tmp_path, capsys):
    log, png = tmp_path / "run.jsonl", tmp_path / "curves.png"
    assert main(["train", "--quiet", "--hidden", "16", "--pretrain-max-iter", "4", "--output-max-iter", "4",
                 "--finetune-max-iter", "4", "--log", str(log)]) == 0  # fmt: skip
    records = read_log(log)
    assert [r["stage"] for r in records] == ["pretrain layer 1"] * 4 + ["softmax"] * 4 + ["finetune"] * 4
    capsys.readouterr()
    assert main(["show", str(log), "--out", str(png)]) == 0
    assert capsys.readouterr().out == f"learning curves of 3 stages (12 iterations) saved to {png}\n"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    capsys.readouterr()
    assert main(["train", "--quiet", "--log", str(tmp_path / "no" / "x.jsonl")]) == 1
    assert capsys.readouterr().err == f"Error: --log '{tmp_path}/no/x.jsonl': no such folder '{tmp_path}/no'.\n"


def test_read_log_says_which_line_is_not_a_record(tmp_path):
    path = tmp_path / "log.jsonl"
    path.write_text('{"stage": "s", "iteration": 1, "cost": 1.0}\n{"stage": "s"\n')
    with pytest.raises(DataError, match=r"^'.*log.jsonl', line 2: not a line of JSON \("):
        read_log(path)
    path.write_text('{"stage": "s", "iteration": 1, "cost": 1.0}\n[1, 2]\n')
    with pytest.raises(DataError) as info:
        read_log(path)
    assert str(info.value) == (
        f"'{path}', line 2: not a training-log record (one with 'stage', 'iteration' and 'cost')."
    )
    path.write_text("\n")
    with pytest.raises(DataError, match="holds no training-log record"):
        read_log(path)


def test_the_progress_line_shows_the_rate_and_the_time_left(monkeypatch):
    clock = iter([0.0, 2.0, 4.0, 150.0])
    monkeypatch.setattr("stackae._progress.time.perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = Progress("finetune", 100, stream=stream, every=1)  # starts at 0 s
    progress.update(1, 0.5)  # the first iteration, with the stage's setup: no rate from it alone
    progress.update(2, 0.4)  # 1 more in 2 s: 0.5 a second, 98 left: 196 s
    progress.update(75, 0.3)  # 74 more in 148 s
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("cost 0.5  2.0s")
    assert lines[1].endswith("cost 0.4  4.0s  2.0 s/iter  left 3:16")
    assert lines[2].endswith("cost 0.3  2:30  2.0 s/iter  left 50.0s")


def test_show_draws_a_log_of_many_stages_in_a_bounded_figure(tmp_path, capsys):
    """1,500 stages (a log of many short fits) made a figure 3.2 inches a stage wide:
    minutes and gigabytes before any picture. The figure now holds at most 8 panels."""
    import json
    import time

    from PIL import Image

    log, out = tmp_path / "many.jsonl", tmp_path / "many.png"
    log.write_text("".join(json.dumps({"stage": f"stage {s}", "iteration": i, "cost": 1.0 / i}) + "\n"
                           for s in range(1500) for i in (1, 2)))  # fmt: skip
    start = time.perf_counter()
    assert main(["show", str(log), "--out", str(out)]) == 0
    assert time.perf_counter() - start < 60
    with Image.open(out) as picture:
        width, height = picture.size
    assert width <= 4 * 320 + 10 and height <= 2 * 300 + 10


@pytest.mark.parametrize(
    ("record", "why"),
    [
        ({"stage": "finetune", "iteration": 1, "cost": None}, "its 'cost' is None, not a number"),
        ({"stage": "finetune", "iteration": "1", "cost": 0.5}, "its 'iteration' is '1', not an integer"),
        ({"stage": 3, "iteration": 1, "cost": 0.5}, "its 'stage' is 3, not a string"),
        ({"stage": "finetune", "iteration": 1, "cost": 0.5, "validation": "x"},
         "its 'validation' is 'x', not a number or null"),
    ],
)  # fmt: skip
def test_a_log_record_of_the_wrong_types_is_one_line_error(tmp_path, capsys, record, why):
    import json

    log = tmp_path / "bad.jsonl"
    log.write_text(json.dumps({"stage": "finetune", "iteration": 0, "cost": 1.0}) + "\n" + json.dumps(record) + "\n")
    assert main(["show", str(log), "--out", str(tmp_path / "p.png")]) == 1
    assert capsys.readouterr().err.strip() == f"Error: '{log}', line 2: {why}."


def test_a_resumed_run_s_log_holds_each_iteration_once(tmp_path):
    """Cut after fine-tuning's 5th epoch, checkpointed every 2: the resumed run does
    epoch 5 again from the checkpoint of epoch 4; the log must not hold it twice (show
    drew a zigzag and counted it twice)."""
    import json

    X, y = load_digits_split().X_train[:400], load_digits_split().y_train[:400]
    log = tmp_path / "log.jsonl"
    params = dict(
        hidden_layer_sizes=(16,), alpha=1e-4, solver="adam", pretrain_max_iter=3, output_max_iter=3,
        finetune_max_iter=8, checkpoint_dir=tmp_path / "run", checkpoint_every=2, random_state=0, log=log,
    )  # fmt: skip

    def cut(record):
        if record["stage"] == "finetune" and record["iteration"] == 5:
            raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        StackedAutoencoderClassifier(**params, callbacks=cut).fit(X, y)
        resumed = StackedAutoencoderClassifier(**params).fit(X, y)
    records = [json.loads(line) for line in log.read_text().splitlines()]
    seen = [(r["stage"], r["iteration"]) for r in records]
    assert len(seen) == len(set(seen))  # each iteration once
    assert [i for s, i in seen if s == "finetune"] == list(range(1, 9))
    assert [i for s, i in seen if s == "pretrain layer 1"] == [1, 2, 3]
    assert resumed.n_iter_["finetune"] == 8


def test_a_resumed_ladder_s_log_holds_each_epoch_once(tmp_path):
    import json

    from stackae import LadderNetworkClassifier

    digits = load_digits_split()
    X, y = digits.X_train[:300], digits.y_train[:300].copy()
    y[60:] = -1
    log = tmp_path / "log.jsonl"
    params = dict(
        hidden_layer_sizes=(16,), denoising_weights=(1.0, 0.1, 0.1), max_iter=6, batch_size=20,
        checkpoint_dir=tmp_path / "run", checkpoint_every=2, random_state=0, log=log,
    )  # fmt: skip

    def cut(record):
        if record["iteration"] == 3:
            raise KeyboardInterrupt

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        LadderNetworkClassifier(**params, callbacks=cut).fit(X, y)
        LadderNetworkClassifier(**params).fit(X, y)
    epochs = [json.loads(line)["iteration"] for line in log.read_text().splitlines()]
    assert epochs == [1, 2, 3, 4, 5, 6]
