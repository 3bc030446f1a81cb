"""The command line, run as a user runs it."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from conftest import make_mnist_folder
from stackae.cli import main


def run_cli(*args, check=True):
    proc = subprocess.run([sys.executable, "-m", "stackae.cli", *args], capture_output=True, text=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr
    return proc


def _accuracies(text):
    before = float(re.search(r"test accuracy before fine-tuning: ([\d.]+)%", text).group(1))
    after = float(re.search(r"test accuracy after fine-tuning:  ([\d.]+)%", text).group(1))
    return before, after


def test_train_on_embedded_digits_prints_accuracy_before_and_after():
    """The README's main job, as it is written there: the installed command, no options."""
    command = shutil.which("stackae", path=str(Path(sys.executable).parent)) or shutil.which("stackae")
    assert command, "the 'stackae' command is not installed"
    proc = subprocess.run([command, "train"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    before, after = _accuracies(proc.stdout)
    assert before >= 90.0  # the README: "about 96% and 98.5%"
    assert after >= 97.0 and after > before
    assert "pretrain layer 1" in proc.stderr and "finetune" in proc.stderr  # progress lines
    assert "hidden_layer_sizes=(64, 32)" in proc.stdout
    # a new user's first minutes: the settings in one short line, no warning for the plan
    settings = next(line for line in proc.stdout.splitlines() if line.startswith("settings: "))
    assert settings == (
        "settings: alpha=0.0001, hidden_layer_sizes=(64, 32), random_state=0 "
        "(the rest: StackedAutoencoderClassifier's defaults)"
    )
    assert "Warning" not in proc.stderr
    assert "note: pretrain layer 1 and pretrain layer 2 ran all their iterations (pretrain_max_iter=400)" in proc.stderr


def test_train_on_mnist_format_folder(tmp_path, capsys):
    folder = make_mnist_folder(tmp_path / "m")
    code = main(
        [
            "train",
            "--data",
            str(folder),
            "--hidden",
            "8",
            "--pretrain-max-iter",
            "20",
            "--quiet",
            "--output-max-iter",
            "20",
            "--finetune-max-iter",
            "20",
            "--random-state",
            "0",
        ]
    )
    out = capsys.readouterr()
    assert code == 0
    before, after = _accuracies(out.out)
    assert after == 100.0
    assert out.err == ""


def test_gradcheck_command():
    proc = run_cli("gradcheck")
    assert proc.stdout.count("relative difference") == 10  # 9 checks and the summary
    assert proc.stdout.splitlines()[-1].startswith("OK: largest relative difference")


def test_missing_data_folder_is_one_line_error(tmp_path):
    proc = run_cli("train", "--data", str(tmp_path / "nowhere"), check=False)
    assert proc.returncode == 1
    assert proc.stderr == f"Error: No such file or folder: '{tmp_path / 'nowhere'}'.\n"
    assert "Traceback" not in proc.stderr


def test_bad_hyperparameter_is_one_line_error():
    proc = run_cli("train", "--sparsity-target", "1.5", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["Error: 'sparsity_target' must be a number in (0.0, 1.0), got 1.5."]


def test_round_trip_train_save_evaluate_predict_show(tmp_path):
    from PIL import Image

    model = tmp_path / "model.npz"
    run_cli("train", "--quiet", "--random-state", "0", "--out", str(model))
    assert model.is_file()

    proc = run_cli("evaluate", str(model), "--data", "digits")
    accuracy = float(re.search(r"^accuracy: ([\d.]+)%$", proc.stdout, re.M).group(1))
    assert accuracy >= 97.0
    assert "precision" in proc.stdout and "recall" in proc.stdout
    matrix = proc.stdout.split("confusion matrix (rows: true class, columns: predicted)\n")[1].splitlines()
    assert len(matrix) == 11  # a header row and one row per class
    assert sum(int(v) for row in matrix[1:] for v in row.split()[1:]) == 540

    # predict on an .npz of raw digits (pixel values 0..16, scaled as in training)
    from sklearn.datasets import load_digits

    digits = load_digits()
    np.savez(tmp_path / "samples.npz", X=digits.data[:50])
    proc = run_cli("predict", str(model), str(tmp_path / "samples.npz"), "--format", "json")
    rows = json.loads(proc.stdout)
    assert len(rows) == 50
    assert np.mean([r["label"] == t for r, t in zip(rows, digits.target[:50])]) >= 0.9

    # the same samples as a CSV with the label first
    csv_path = tmp_path / "samples.csv"
    np.savetxt(csv_path, np.column_stack([digits.target[:50], digits.data[:50]]), delimiter=",", fmt="%d")
    proc = run_cli("predict", str(model), str(csv_path))
    lines = proc.stdout.splitlines()
    assert lines[0] == "input,label,probability" and len(lines) == 51
    assert [int(line.split(",")[1]) for line in lines[1:]] == [r["label"] for r in rows]

    # PNG images, resized to 8x8 and scaled to [0, 1]
    for i in range(3):
        pixels = (digits.images[i] * 255 / 16).astype(np.uint8)
        Image.fromarray(pixels).resize((32, 32), Image.Resampling.NEAREST).save(tmp_path / f"d{i}.png")
    proc = run_cli("predict", str(model), *(str(tmp_path / f"d{i}.png") for i in range(3)))
    assert [int(line.split(",")[1]) for line in proc.stdout.splitlines()[1:]] == [0, 1, 2]

    picture = tmp_path / "filters.png"
    proc = run_cli("show", str(model), "--out", str(picture))
    with Image.open(picture) as im:
        # 64 filters of 8x8 in an 8x8 grid with 1-pixel borders: 73 pixels, zoomed 6x
        assert im.size == (73 * 6, 73 * 6)
    with Image.open(tmp_path / "filters-curves.png") as im:
        assert im.size[0] > im.size[1] > 100


def test_show_refuses_a_model_whose_input_is_not_an_image(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "table.npz"
    np.savez(data, X=rng.random((60, 7)), y=np.arange(60) % 2)
    model = tmp_path / "m.npz"
    run_cli(
        "train",
        "--data",
        str(data),
        "--hidden",
        "3",
        "--pretrain-max-iter",
        "5",
        "--output-max-iter",
        "5",
        "--finetune-max-iter",
        "5",
        "--quiet",
        "--out",
        str(model),
    )
    proc = run_cli("show", str(model), "--out", str(tmp_path / "f.png"), check=False)
    assert proc.returncode == 1
    assert proc.stderr == (
        "Error: The model's input has 7 features, which is not an image (not a square and no image shape "
        "recorded), so its filters cannot be drawn.\n"
    )


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (
            lambda d: (d / "x.csv").write_text("label,a,b\n1,2,3\n0,,4\n"),
            "Error: '{d}/x.csv' line 3: a missing value in a feature column.\n",
        ),
        (
            lambda d: (d / "x.csv").write_text("1,2,3\n0,abc,4\n"),
            "Error: '{d}/x.csv' line 2: non-numeric value 'abc' in a feature column.\n",
        ),
        (
            lambda d: np.savez(d / "x.npz", X=np.array([[1.0, np.nan], [0, 1]]), y=np.array([0, 1])),
            "Error: '{d}/x.npz' holds NaN or infinite values; remove or impute them first.\n",
        ),
        (
            lambda d: np.savez(d / "x.npz", X=np.zeros((4, 2)), y=np.zeros(4, dtype=int)),
            "Error: StackedAutoencoderClassifier needs samples of at least 2 classes, got 1 class (0); "
            "add samples of the other classes.\n",
        ),
        (
            lambda d: np.savez(d / "x.npz", X=np.zeros((4, 2)), y=np.zeros(3, dtype=int)),
            "Error: '{d}/x.npz' holds 4 samples in 'X' but 3 labels in 'y'.\n",
        ),
        (
            lambda d: np.savez(d / "x.npz", X=np.array([[1, "a"]], dtype=object), y=np.zeros(1)),
            "Error: '{d}/x.npz': it holds object arrays, which stackae refuses to load; save plain numeric arrays.\n",
        ),
        (
            lambda d: (d / "x.idx").write_bytes(b"\x01\x02\x08\x01\x00\x00\x00\x01a"),
            "Error: '{d}/x.idx' is not an IDX file: wrong magic number 01020801 (expected 0000 then a type code "
            "and the number of dimensions).\n",
        ),
    ],
)
def test_bad_input_is_one_line_error(tmp_path, make, message):
    make(tmp_path)
    name = next(p.name for p in tmp_path.iterdir())
    spec = str(tmp_path / name)
    if name.endswith(".idx"):
        spec = f"{spec},{spec}"
    proc = run_cli(
        "train",
        "--data",
        spec,
        "--hidden",
        "2",
        "--quiet",
        check=False,
    )
    assert proc.returncode == 1
    assert proc.stderr == message.format(d=tmp_path)


def test_bad_hidden_sizes_and_foreign_model_file(tmp_path):
    proc = run_cli("train", "--hidden", "0", "5", check=False)
    assert proc.returncode == 1
    assert proc.stderr.startswith("Error: 'hidden_layer_sizes' must be a non-empty sequence of positive integers")
    np.savez(tmp_path / "other.npz", a=np.zeros(2))
    proc = run_cli("evaluate", str(tmp_path / "other.npz"), "--data", "digits", check=False)
    assert proc.returncode == 1
    assert (
        proc.stderr.startswith("Error: '")
        and "is not a usable stackae model: it has no stackae metadata" in proc.stderr
    )
    assert proc.stderr.count("\n") == 1


def test_presets_command_lists_every_recipe(capsys):
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    for name in ("ufldl", "fast", "best"):
        assert f"\n{name}: " in "\n" + out
    assert "--solver lbfgs" in out and "--nesterovs-momentum" in out


def test_train_with_a_preset_and_an_override(capsys):
    code = main(["train", "--preset", "fast", "--hidden", "32", "--finetune-max-iter", "2", "--quiet"])
    out = capsys.readouterr().out
    assert code == 0
    assert "hidden_layer_sizes=(32,)" in out and "solver='adam'" in out and "finetune_max_iter=2" in out


def test_per_layer_options_take_one_or_several_numbers(capsys):
    code = main(
        [
            "train",
            "--hidden",
            "16",
            "8",
            "--noise",
            "masking",
            "--noise-level",
            "0.1",
            "0.3",
            "--dropout",
            "0.2",
            "--pretrain-max-iter",
            "2",
            "--output-max-iter",
            "2",
            "--finetune-max-iter",
            "2",
            "--quiet",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0
    assert "noise_level=(0.1, 0.3)" in out and "dropout=0.2" in out


def _metric(text, pattern):
    return float(re.search(pattern, text).group(1))


def test_train_tasks_report_their_own_metrics(tmp_path, capsys):
    quick = ["--pretrain-max-iter", "20", "--finetune-max-iter", "40", "--quiet"]
    assert main(["train", "--task", "regress", *quick, "--out", str(tmp_path / "r.npz")]) == 0
    out = capsys.readouterr().out
    assert "task: regress (StackedAutoencoderRegressor)" in out
    assert _metric(out, r"test R2 after fine-tuning:  (-?[\d.]+)") >= 0.8  # the digits' labels as numbers
    assert main(["train", "--task", "reconstruct", *quick]) == 0
    out = capsys.readouterr().out
    before = _metric(out, r"test reconstruction error before fine-tuning: ([\d.]+) per sample")
    after = _metric(out, r"test reconstruction error after fine-tuning:  ([\d.]+) per sample")
    assert after < before
    assert main(["train", "--task", "outliers", "--normal-class", "3", *quick, "--out", str(tmp_path / "o.npz")]) == 0
    out = capsys.readouterr().out
    assert "normal class 3: " in out
    assert _metric(out, r"test AUC after fine-tuning:  ([\d.]+) \(normal: class 3 against the rest\)") >= 0.9
    np.savez(tmp_path / "d.npz", X=np.random.default_rng(0).random((30, 64)), y=np.arange(30) % 10)
    assert main(["evaluate", str(tmp_path / "o.npz"), "--data", str(tmp_path / "d.npz")]) == 0
    out = capsys.readouterr().out
    assert "task: outliers (StackedAutoencoderOutlierDetector)" in out and "AUC: " in out
    assert main(["predict", str(tmp_path / "r.npz"), str(tmp_path / "d.npz")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "input,prediction" and len(lines) == 31


def test_an_option_of_another_task_is_refused():
    proc = run_cli("train", "--task", "reconstruct", "--output-max-iter", "5", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == "Error: '--output-max-iter' does not apply to --task reconstruct."


def test_outputs_are_checked_before_any_training(tmp_path, capsys):
    for out, message in (
        (tmp_path / "no" / "m.npz", f"Error: --out '{tmp_path / 'no' / 'm.npz'}': no such folder '{tmp_path / 'no'}'."),
        (tmp_path, f"Error: --out '{tmp_path}' is a folder; give a file name."),
    ):
        assert main(["train", "--out", str(out), "--quiet"]) == 1
        captured = capsys.readouterr()
        assert captured.err.strip() == message
        assert "test accuracy" not in captured.out  # nothing was trained


def test_no_command_writes_over_its_own_inputs(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2",
                 "--finetune-max-iter", "2", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    samples = tmp_path / "in.npz"
    np.savez(samples, X=np.zeros((2, 64)))
    before = {p: p.read_bytes() for p in (model, samples)}
    capsys.readouterr()
    for args, option, path in (
        (["predict", str(model), str(samples), "--out", str(samples)], "--out", samples),
        (["predict", str(model), str(samples), "--out", str(model)], "--out", model),
        (["show", str(model), "--out", str(model)], "--out", model),
        (["show", str(model), "--out", str(tmp_path / "f.png"), "--curves", str(model)], "--curves", model),
        (["train", "--data", str(samples), "--out", str(samples)], "--out", samples),
    ):
        assert main(args) == 1
        assert capsys.readouterr().err.strip() == (
            f"Error: {option} '{path}' is one of this command's inputs; it would be written over. Choose another file."
        )
    assert {p: p.read_bytes() for p in (model, samples)} == before


def test_a_model_that_cannot_be_saved_at_the_end_is_rescued(tmp_path, capsys, monkeypatch):
    import stackae.io

    real = stackae.io.save_model
    calls = []

    def failing_once(model, path, **kwargs):
        calls.append(path)
        if len(calls) == 1:
            raise OSError("No space left on device")
        return real(model, path, **kwargs)

    monkeypatch.setattr(stackae.cli, "save_model", failing_once)
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    code = main(["train", "--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2",
                 "--finetune-max-iter", "2", "--quiet", "--out", str(tmp_path / "m.npz")])  # fmt: skip
    err = capsys.readouterr().err.strip()
    assert code == 1
    rescued = Path(calls[1])
    assert err == (
        f"Error: could not save the model to '{tmp_path / 'm.npz'}' (No space left on device); it was saved to "
        f"'{rescued}' instead."
    )
    assert rescued.parent == tmp_path and stackae.io.load_model(rescued).n_features_in_ == 64


def test_resume_honours_out_and_refuses_what_would_change_the_run(tmp_path, capsys):
    quick = ["--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2", "--finetune-max-iter", "2"]
    folder, first, second = tmp_path / "ck", tmp_path / "a.npz", tmp_path / "b.npz"
    assert main(["train", *quick, "--quiet", "--checkpoint", str(folder), "--out", str(first)]) == 0
    stamp = first.stat().st_mtime_ns
    capsys.readouterr()
    assert main(["train", "--resume", str(folder), "--hidden", "9", "--alpha", "0.1"]) == 1
    assert capsys.readouterr().err.strip() == (
        "Error: --resume continues the run as it was started, so --alpha, --hidden cannot change it; remove them, "
        "or start a new run with --checkpoint."
    )
    assert main(["train", "--resume", str(folder), "--out", str(second), "--quiet"]) == 0
    assert f"model saved to {second}" in capsys.readouterr().out
    assert second.is_file() and first.stat().st_mtime_ns == stamp  # the first model left as it was
    # the command that started the run, recalled with --resume: the same run, taken as it
    third = tmp_path / "c.npz"
    assert (
        main(["train", *quick, "--quiet", "--checkpoint", str(folder), "--out", str(third), "--resume", str(folder)])
        == 0
    )
    assert third.is_file()
    assert main(["train", *quick[:-1], "3", "--quiet", "--checkpoint", str(folder), "--resume", str(folder)]) == 1
    assert (
        capsys.readouterr()
        .err.strip()
        .startswith("Error: --resume continues the run as it was started, so --finetune-max-iter cannot")
    )


def test_pictures_are_written_in_the_format_their_name_asks_for(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2",
                 "--finetune-max-iter", "2", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    assert main(["show", str(model), "--out", str(tmp_path / "f.jpg")]) == 0
    assert (tmp_path / "f.jpg").read_bytes()[:3] == b"\xff\xd8\xff"  # JPEG, not PNG bytes under a .jpg name
    capsys.readouterr()
    assert main(["show", str(model), "--out", str(tmp_path / "f.xyz")]) == 1
    assert "pictures are written as .bmp, .gif, .jpeg, .jpg, .png" in capsys.readouterr().err
    assert not (tmp_path / "f.xyz").exists()


def test_predict_csv_quotes_what_needs_quoting(tmp_path, capsys):
    import csv

    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2",
                 "--finetune-max-iter", "2", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    from PIL import Image

    odd = tmp_path / "a, b.png"
    Image.fromarray(np.zeros((8, 8), dtype=np.uint8)).save(odd)
    capsys.readouterr()
    assert main(["predict", str(model), str(odd)]) == 0
    rows = list(csv.reader(capsys.readouterr().out.splitlines()))
    assert rows[0] == ["input", "label", "probability"] and rows[1][0] == str(odd) and len(rows[1]) == 3


def test_a_damaged_run_record_is_one_line_error(tmp_path, capsys):
    folder = tmp_path / "ck"
    assert main(["train", "--hidden", "4", "--pretrain-max-iter", "1", "--output-max-iter", "1",
                 "--finetune-max-iter", "1", "--quiet", "--checkpoint", str(folder)]) == 0  # fmt: skip
    record = json.loads((folder / "run.json").read_text())
    record["params"]["bogus"] = 1
    (folder / "run.json").write_text(json.dumps(record))
    capsys.readouterr()
    assert main(["train", "--resume", str(folder)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("Error: The run's parameters do not fit StackedAutoencoderClassifier (")
    assert err.strip().endswith("; its run.json is damaged.") and err.count("\n") == 1


def test_every_input_is_scaled_by_one_rule(tmp_path, capsys):
    from sklearn.datasets import load_digits

    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "16", "--pretrain-max-iter", "20", "--output-max-iter", "20",
                 "--finetune-max-iter", "20", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    X, y = load_digits(return_X_y=True)
    np.savez(tmp_path / "raw.npz", X=X, y=y)  # pixels 0..16, as the model was trained on them
    np.savez(tmp_path / "scaled.npz", X=X / 16.0, y=y)  # already scaled: not to be divided again
    capsys.readouterr()
    accuracies = []
    for name in ("raw.npz", "scaled.npz"):
        assert main(["evaluate", str(model), "--data", str(tmp_path / name)]) == 0
        accuracies.append(float(re.search(r"accuracy: ([\d.]+)%", capsys.readouterr().out).group(1)))
    assert accuracies[0] == accuracies[1] > 90.0
    # training on raw 0..255 pixels and testing on scaled ones scores as testing on raw ones
    pixels = np.round(X * 255 / 16)
    np.savez(tmp_path / "raw.npz", X=pixels, y=y)
    np.savez(tmp_path / "scaled.npz", X=pixels / 255.0, y=y)
    outs = []
    for train, test in (("raw.npz", "scaled.npz"), ("raw.npz", "raw.npz")):
        assert main(["train", "--data", str(tmp_path / train), "--test-data", str(tmp_path / test), "--hidden", "16",
                     "--alpha", "1e-4", "--pretrain-max-iter", "10", "--output-max-iter", "10",
                     "--finetune-max-iter", "10", "--quiet"]) == 0  # fmt: skip
        outs.append(capsys.readouterr().out.split("test accuracy after fine-tuning:")[1].split("%")[0])
    assert outs[0] == outs[1]


def test_evaluate_checks_labels_before_printing_and_reports_unseen_ones(tmp_path, capsys):
    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "8", "--pretrain-max-iter", "5", "--output-max-iter", "5",
                 "--finetune-max-iter", "5", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    X = np.random.default_rng(0).random((20, 64))
    np.savez(tmp_path / "text.npz", X=X, y=np.array(["a"] * 20))
    capsys.readouterr()
    assert main(["evaluate", str(model), "--data", str(tmp_path / "text.npz")]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""  # no accuracy printed before the error
    assert captured.err.startswith(f"Error: '{tmp_path / 'text.npz'}' has labels such as 'a', but the model's classes")
    np.savez(tmp_path / "unseen.npz", X=X, y=np.r_[np.full(3, 42), np.arange(17) % 10])
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # shown as the command shows it, not raised
        assert main(["evaluate", str(model), "--data", str(tmp_path / "unseen.npz")]) == 0
    captured = capsys.readouterr()
    assert "Warning: 3 samples have labels the model never saw (42): they count as errors" in captured.err
    assert re.search(r"^\s+42\s", captured.out, re.M)  # a row of its own in the report


def test_a_huge_image_is_refused_before_it_is_decoded(tmp_path, capsys):
    from PIL import Image

    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2",
                 "--finetune-max-iter", "2", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    for side in (5000, 20000):  # over stackae's limit; over twice Pillow's own
        bomb = tmp_path / f"bomb{side}.png"
        Image.new("L", (side, side)).save(bomb)
        capsys.readouterr()
        assert main(["predict", str(model), str(bomb)]) == 1
        assert capsys.readouterr().err.strip() == (
            f"Error: '{bomb}' is too large an image to read (over 16,777,216 pixels, a decompression bomb or a "
            "picture to shrink first)."
        )


def test_ctrl_c_in_fine_tuning_saves_the_model_and_says_what_was_cut(tmp_path, capsys, monkeypatch):
    from stackae.estimators import _stages as stages_module

    real = stages_module.stack_cost_grad
    calls = []

    def interrupted(rows, theta, spec, *args):
        if len(spec.sizes) > 2:
            calls.append(1)
            if len(calls) == 5:
                raise KeyboardInterrupt
        return real(rows, theta, spec, *args)

    monkeypatch.setattr(stages_module, "stack_cost_grad", interrupted)
    out = tmp_path / "m.npz"
    code = main(["train", "--quiet", "--pretrain-max-iter", "20", "--output-max-iter", "20", "--out", str(out)])
    text = capsys.readouterr().out
    assert code == 0
    assert "interrupted: stage 'finetune' was cut short by Ctrl-C; the model is the network as it is" in text
    from stackae.io import load_model

    model = load_model(out)
    assert model.metadata_["interrupted_stage"] == "finetune" and model.interrupted_stage_ == "finetune"


def test_predict_finds_the_label_column_first_or_last_and_refuses_to_guess(tmp_path, capsys):
    from stackae.datasets import load_digits_split

    model = tmp_path / "m.npz"
    assert main(["train", "--hidden", "8", "--pretrain-max-iter", "2", "--output-max-iter", "2",
                 "--finetune-max-iter", "2", "--quiet", "--out", str(model)]) == 0  # fmt: skip
    d = load_digits_split()
    raw = np.rint(d.X_test[:50] * 16).astype(int)  # pixels 0..16 as the digits' files hold them
    labels = d.y_test[:50, None]
    outputs = {}
    for name, table in {
        "features": raw,
        "first": np.hstack([labels, raw]),
        "last": np.hstack([raw, labels]),
    }.items():
        path = tmp_path / f"{name}.csv"
        np.savetxt(path, table, fmt="%d", delimiter=",")
        capsys.readouterr()
        assert main(["predict", str(model), str(path)]) == 0, capsys.readouterr().err
        outputs[name] = capsys.readouterr().out
    assert outputs["first"] == outputs["features"] == outputs["last"]
    # labels at both ends: the first is taken, and that is said; no label at either end: refused
    both = tmp_path / "both.csv"
    np.savetxt(both, np.hstack([labels, raw[:, :63], labels]), fmt="%d", delimiter=",")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("default")
        assert main(["predict", str(model), str(both)]) == 0
    assert (
        f"Warning: '{both}' names no label column, so its first column is taken as the labels (10 distinct values; "
        "its last could be them too); give --label-column (label_column) to take another."
    ) in capsys.readouterr().err
    neither = tmp_path / "neither.csv"
    np.savetxt(neither, np.hstack([raw, np.full((50, 1), 99)]), fmt="%d", delimiter=",")
    assert main(["predict", str(model), str(neither)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"Error: '{neither}' has 65 columns for a model of 64 features, and neither end column looks like labels; "
        "say which column holds them with --label-column."
    )


def test_a_guessed_label_column_is_named(tmp_path, capsys):
    from stackae.datasets import load_digits_split

    d = load_digits_split()
    path = tmp_path / "train.csv"
    np.savetxt(path, np.hstack([d.y_train[:300, None], np.rint(d.X_train[:300] * 16)]), fmt="%d", delimiter=",")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("default")  # shown, as the command shows them, not raised
        code = main(["train", "--data", str(path), "--hidden", "8", "--pretrain-max-iter", "2",
                     "--output-max-iter", "2", "--finetune-max-iter", "2", "--quiet"])  # fmt: skip
    assert code == 0
    assert (
        f"Warning: '{path}' names no label column, so its first column is taken as the labels (10 distinct values); "
        "give --label-column (label_column) to take another."
    ) in capsys.readouterr().err
