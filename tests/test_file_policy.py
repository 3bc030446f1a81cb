"""What a command writes never costs what it reads or what was there: every output is
checked against every input (the unlabeled source and the files inside a data folder
too) before any work, and a write that fails leaves the old file whole."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae.cli import main

SHORT = ["--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2", "--finetune-max-iter", "2", "--quiet"]


@pytest.fixture
def model(tmp_path):
    path = tmp_path / "m.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        assert main(["train", *SHORT, "--out", str(path)]) == 0
    return path


def test_train_never_writes_over_its_unlabeled_source(tmp_path, capsys):
    rng = np.random.default_rng(0)
    labeled, unlabeled = tmp_path / "lab.npz", tmp_path / "unl.npz"
    np.savez(labeled, X=rng.random((60, 5)), y=np.arange(60) % 2)
    np.savez(unlabeled, X=rng.random((40, 5)))
    before = unlabeled.read_bytes()
    code = main(["train", *SHORT, "--data", str(labeled), "--unlabeled-data", str(unlabeled), "--out", str(unlabeled)])
    assert code == 1
    assert capsys.readouterr().err.strip() == (
        f"Error: --out '{unlabeled}' is one of this command's inputs; it would be written over. Choose another file."
    )
    assert unlabeled.read_bytes() == before


def test_a_file_inside_a_data_folder_is_an_input(tmp_path, capsys):
    """A folder of MNIST-format files given as --data: each file in it is read."""
    from stackae.datasets import load_digits_split

    folder = tmp_path / "idx"
    folder.mkdir()
    digits = load_digits_split()
    for stem, array, magic in (
        ("train-images-idx3-ubyte", (digits.X_train * 16).astype(np.uint8).reshape(-1, 8, 8), 0x0803),
        ("train-labels-idx1-ubyte", digits.y_train.astype(np.uint8), 0x0801),
        ("t10k-images-idx3-ubyte", (digits.X_test * 16).astype(np.uint8).reshape(-1, 8, 8), 0x0803),
        ("t10k-labels-idx1-ubyte", digits.y_test.astype(np.uint8), 0x0801),
    ):
        header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
        (folder / stem).write_bytes(header + array.tobytes())
    target = folder / "train-labels-idx1-ubyte"
    before = target.read_bytes()
    assert main(["train", *SHORT, "--data", str(folder), "--out", str(target)]) == 1
    assert "is one of this command's inputs" in capsys.readouterr().err
    assert target.read_bytes() == before
    assert main(["train", *SHORT, "--data", str(folder), "--out", str(folder / "new-model.npz")]) == 0


def test_predictions_that_cannot_be_written_leave_the_old_file_whole(model, tmp_path, monkeypatch, capsys):
    samples = tmp_path / "samples.npz"
    np.savez(samples, X=np.random.default_rng(0).random((20, 64)))
    out = tmp_path / "p.csv"
    out.write_text("the predictions of yesterday\n")

    def full_disk(src, dst):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", full_disk)
    assert main(["predict", str(model), str(samples), "--out", str(out)]) == 1
    assert "No space left on device" in capsys.readouterr().err
    assert out.read_text() == "the predictions of yesterday\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.npz", "p.csv", "samples.npz"]  # no temporary left
    monkeypatch.undo()
    assert main(["predict", str(model), str(samples), "--out", str(out)]) == 0
    assert out.read_text().startswith("input,label,probability\n")


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (a disk that is always full)")
def test_a_log_that_cannot_be_written_names_its_file_and_costs_nothing_else(tmp_path, capsys):
    out = tmp_path / "m.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("always")  # shown by the command, not raised by the test suite
        assert main(["train", *SHORT[:-1], "--log", "/dev/full", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert (
        "The training log '/dev/full' could not be written (No space left on device); training goes on without it."
        in captured.err
    )
    assert f"model saved to {out}" in captured.out and out.is_file()


def test_checkpoints_that_cannot_be_written_cost_nothing_else(tmp_path, monkeypatch):
    from sklearn.datasets import load_digits

    from stackae import StackedAutoencoderClassifier
    from stackae._checkpoint import CheckpointDir

    calls = []

    def full_disk(self, arrays, record):
        calls.append(record["stage_index"])
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(CheckpointDir, "save", full_disk)
    X, y = load_digits(return_X_y=True)
    clf = StackedAutoencoderClassifier(
        (8,), solver="adam", pretrain_max_iter=3, output_max_iter=3, finetune_max_iter=3, checkpoint_every=1,
        checkpoint_dir=tmp_path / "run", random_state=0,
    )  # fmt: skip
    with pytest.warns(RuntimeWarning) as caught:
        clf.fit(X / 16.0, y)
    said = [str(w.message) for w in caught if w.category is RuntimeWarning]
    assert len(said) == 1 and said[0].startswith(f"Checkpoints could not be written to '{tmp_path / 'run'}/")
    assert said[0].endswith(
        "(No space left on device); training goes on without them (the last one written, if any, is whole)."
    )
    assert calls == [0] and hasattr(clf, "coefs_")  # tried once, then not again


def test_a_checkpoint_folder_belongs_to_one_run(tmp_path, capsys):
    """A second training given the folder of one that has written no checkpoint yet
    (it may be running) is refused: it would overwrite its run.json."""
    folder = tmp_path / "run"
    folder.mkdir()
    (folder / "run.json").write_text('{"the": "first run"}')
    assert main(["train", *SHORT, "--checkpoint", str(folder)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"Error: '{folder}' belongs to another run (its run.json); continue it with --resume {folder}, "
        "or choose an empty folder."
    )
    assert (folder / "run.json").read_text() == '{"the": "first run"}'


def test_two_columns_that_could_be_the_labels_are_refused_not_guessed(tmp_path, capsys):
    """x,y,z,label: 'y' is as likely a coordinate as the labels; it trained on it (0.00%)."""
    rng = np.random.default_rng(0)
    data = tmp_path / "points.csv"
    rows = "\n".join(f"{a:.3f},{b:.3f},{c:.3f},{int(a > 0.5)}" for a, b, c in rng.random((40, 3)))
    data.write_text("x,y,z,label\n" + rows + "\n")
    assert main(["train", *SHORT, "--data", str(data)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"Error: '{data}' has columns named 'y' and 'label', each of which could hold the labels; say which with "
        "--label-column (label_column=)."
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert main(["train", *SHORT, "--data", str(data), "--label-column", "label"]) == 0
