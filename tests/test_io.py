"""Model files: round trips, atomic saving, and clear errors for bad files."""

from __future__ import annotations

import json
import re
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning

from stackae import ModelFileError, SoftmaxRegression, SparseAutoencoder, StackedAutoencoderClassifier
from stackae.datasets import load_digits_split
from stackae.io import FORMAT_VERSION, load_model, save_model


@pytest.fixture(scope="module")
def small_model():
    data = load_digits_split()
    clf = StackedAutoencoderClassifier(
        (12, 6), alpha=1e-4, pretrain_max_iter=15, output_max_iter=15, finetune_max_iter=15, random_state=0
    )
    with pytest.warns(ConvergenceWarning):
        clf.fit(data.X_train, np.array(list("abcdefghij"))[data.y_train])
    return clf, data


def test_round_trip_keeps_predictions_and_history(tmp_path, small_model):
    clf, data = small_model
    path = tmp_path / "model.npz"
    save_model(clf, path, metadata={"image_shape": [8, 8]})
    loaded = load_model(path)
    assert type(loaded) is StackedAutoencoderClassifier
    assert loaded.get_params() == clf.get_params()
    np.testing.assert_array_equal(loaded.predict(data.X_test), clf.predict(data.X_test))
    np.testing.assert_array_equal(
        loaded.predict(data.X_test, pretrained=True), clf.predict(data.X_test, pretrained=True)
    )
    np.testing.assert_array_equal(loaded.classes_, clf.classes_)
    assert loaded.loss_curve_ == clf.loss_curve_
    assert loaded.n_iter_ == clf.n_iter_
    assert loaded.metadata_["image_shape"] == [8, 8]
    with np.load(path, allow_pickle=False) as npz:
        record = json.loads(str(npz["metadata"]))
    assert record["format_version"] == FORMAT_VERSION and record["stackae_version"]


@pytest.mark.parametrize("cls", [SparseAutoencoder, SoftmaxRegression])
def test_round_trip_of_the_building_blocks(tmp_path, cls):
    data = load_digits_split()
    est = cls(max_iter=5, random_state=0)
    with pytest.warns(ConvergenceWarning):
        est.fit(data.X_train, data.y_train)
    save_model(est, tmp_path / "m.npz")
    loaded = load_model(tmp_path / "m.npz")
    method = "transform" if cls is SparseAutoencoder else "predict_proba"
    np.testing.assert_array_equal(getattr(loaded, method)(data.X_test), getattr(est, method)(data.X_test))


def test_saving_is_atomic(tmp_path, small_model, monkeypatch):
    clf, _ = small_model
    path = tmp_path / "model.npz"
    save_model(clf, path)
    before = path.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        save_model(clf, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["model.npz"]  # no temporary left behind


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"^No such model file: '.*none\.npz'\.$"):
        load_model(tmp_path / "none.npz")


def test_truncated_file(tmp_path, small_model):
    path = tmp_path / "model.npz"
    save_model(small_model[0], path)
    path.write_bytes(path.read_bytes()[:500])
    with pytest.raises(
        ModelFileError,
        match=r"is not a usable stackae model: it is not an \.npz archive \(it may be truncated, or another kind of file\)\.$",
    ):
        load_model(path)


def test_file_from_another_program(tmp_path):
    path = tmp_path / "other.npz"
    np.savez(path, weights=np.zeros(3))
    with pytest.raises(
        ModelFileError, match=r"is not a usable stackae model: it has no stackae metadata \(was it written by another"
    ):
        load_model(path)
    text = tmp_path / "notes.npz"
    text.write_text("hello")
    with pytest.raises(ModelFileError, match=r"is not a usable stackae model"):
        load_model(text)


def test_newer_format_is_refused(tmp_path, small_model):
    path = tmp_path / "model.npz"
    save_model(small_model[0], path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    record = json.loads(str(arrays["metadata"]))
    record["format_version"] = FORMAT_VERSION + 1
    arrays["metadata"] = np.array(json.dumps(record))
    np.savez(path, **arrays)
    with pytest.raises(
        ModelFileError,
        match=rf"was written in model format {FORMAT_VERSION + 1} by stackae .*Upgrade stackae to load it\.$",
    ):
        load_model(path)


def test_corrupted_weights_are_detected(tmp_path, small_model):
    path = tmp_path / "model.npz"
    save_model(small_model[0], path)
    with np.load(path, allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    arrays["coef_1"] = arrays["coef_1"][:3]
    np.savez(path, **arrays)
    # 3 rows: no width the metadata declares, refused before the array is read
    with pytest.raises(ModelFileError, match=r"its array 'coef_1' declares shape \(3, 6\), which its metadata's"):
        load_model(path)
    arrays["coef_1"] = np.zeros((6, 6))  # declared widths, chained wrongly
    np.savez(path, **arrays)
    with pytest.raises(ModelFileError, match=r"its contents are inconsistent \(layer 2 has weights \(6, 6\)"):
        load_model(path)


def test_corrupted_archive_member(tmp_path, small_model):
    path = tmp_path / "model.npz"
    save_model(small_model[0], path)
    with zipfile.ZipFile(path) as zf:
        members = {name: zf.read(name) for name in zf.namelist()}
    members["metadata.npy"] = members["metadata.npy"][:-40]
    with zipfile.ZipFile(path, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    with pytest.raises(ModelFileError, match=r"is not a usable stackae model"):
        load_model(path)


def test_a_model_file_of_the_first_release_still_loads():
    """tests/data/model-v1.npz: written by stackae 0.1.0 (model format 1) on the digits."""
    from stackae.datasets import load_digits_split

    model = load_model(Path(__file__).parent / "data" / "model-v1.npz")
    assert model.metadata_["stackae_version"] == "0.1.0"
    assert model.activation == "sigmoid" and model.noise is None  # parameters it did not have: defaults
    # the names of its version under those of this one, silently (the file was right when written)
    assert (model.output_alpha, model.output_max_iter, model.finetune_decay) == (1e-4, 20, "output")
    assert model.softmax_alpha == "deprecated" and model.softmax_max_iter == "deprecated"
    proba = model.predict_proba(load_digits_split().X_test[:10])
    assert proba[0, 1] == pytest.approx(0.9836989213488662, rel=1e-12)  # what 0.1.0 predicted
    assert model.score(load_digits_split().X_test, load_digits_split().y_test) >= 0.9


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (lambda r: r.update(n_layers=0), "a layer count of 0 for a StackedAutoencoderClassifier"),
        (lambda r: r.update(n_layers=-1), "a layer count of -1"),
        (lambda r: r.update(n_layers="2"), "a layer count of '2'"),
        (lambda r: r.update(history=[1, 2]), "a history of type list"),
        (lambda r: r["history"].update(stage_costs="cheap"), "a history entry 'stage_costs' of type str"),
        (lambda r: r["metadata"].update(image_shape=64), "an image shape of 64"),
        (lambda r: r["metadata"].update(input_scale=-1), "an input scale of -1"),
        (lambda r: r.update(metadata=[1]), "metadata of type list"),
        # every parameter against the table the estimators validate with
        (
            lambda r: r["params"].update(activation="bogus"),
            "'activation' must be 'sigmoid', 'tanh' or 'relu', got 'bogus'.",
        ),
        (lambda r: r["params"].update(activation=[1]), "'activation' must be 'sigmoid', 'tanh' or 'relu', got [1]."),
        (lambda r: r["params"].update(alpha="0.1"), "'alpha' must be a number >= 0.0, got '0.1'."),
        (lambda r: r["params"].update(batch_size=0), "'batch_size' must be an integer >= 1, got 0."),
    ],
)
def test_every_edited_metadata_field_is_refused_on_load(tmp_path, edit, why):
    import json

    from stackae.datasets import load_digits_split

    data = load_digits_split()
    clf = StackedAutoencoderClassifier((8,), pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(data.X_train[:100], data.y_train[:100])
    save_model(clf, tmp_path / "m.npz", metadata={"image_shape": [8, 8], "input_scale": 16.0})
    arrays = dict(np.load(tmp_path / "m.npz", allow_pickle=False))
    record = json.loads(str(arrays["metadata"]))
    edit(record)
    arrays["metadata"] = np.array(json.dumps(record))
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(
        ModelFileError, match=rf"is not a usable stackae model: its contents are inconsistent \({re.escape(why)}"
    ):
        load_model(tmp_path / "edited.npz")


def test_a_classifier_file_without_classes_is_refused(tmp_path):
    from stackae.datasets import load_digits_split

    data = load_digits_split()
    clf = StackedAutoencoderClassifier((8,), pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clf.fit(data.X_train[:100], data.y_train[:100])
    save_model(clf, tmp_path / "m.npz")
    arrays = dict(np.load(tmp_path / "m.npz", allow_pickle=False))
    del arrays["classes"]
    np.savez(tmp_path / "edited.npz", **arrays)
    with pytest.raises(ModelFileError, match=r"\(a classifier without its class labels\)"):
        load_model(tmp_path / "edited.npz")


def test_an_array_the_metadata_does_not_declare_is_refused_before_it_is_inflated(tmp_path):
    import io
    import zipfile

    from stackae import StackedAutoencoderClassifier
    from stackae.datasets import load_digits_split
    from stackae.exceptions import ModelFileError
    from stackae.io import load_model, save_model

    d = load_digits_split()
    model = StackedAutoencoderClassifier((8,), pretrain_max_iter=2, output_max_iter=2, finetune_max_iter=2,
                                         random_state=0)  # fmt: skip
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model.fit(d.X_train, d.y_train)
    good = tmp_path / "m.npz"
    save_model(model, good)
    # the same file with its first layer swapped for a (64, 50000) array: 25.6 MB inflated
    # from a few kilobytes, which a network of 8 hidden units cannot hold
    crafted = tmp_path / "crafted.npz"
    with zipfile.ZipFile(good) as src, zipfile.ZipFile(crafted, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename == "coef_0.npy":
                buffer = io.BytesIO()
                np.save(buffer, np.zeros((64, 50000)))
                dst.writestr("coef_0.npy", buffer.getvalue())
            else:
                dst.writestr(info, src.read(info))
    with pytest.raises(ModelFileError) as caught:
        load_model(crafted)
    assert str(caught.value) == (
        f"'{crafted}' is not a usable stackae model: its array 'coef_0' declares shape (64, 50000), which its "
        "metadata's layer sizes (8, 10, 64) do not allow."
    )
    assert load_model(good).score(d.X_test, d.y_test) == model.score(d.X_test, d.y_test)


def test_a_damaged_npy_header_is_a_model_file_error(tmp_path):
    """A flipped byte that leaves a header NumPy cannot even tokenize (found by the
    fuzz test) is refused as a damaged file, not a traceback."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    path = tmp_path / "m.npz"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        save_model(SoftmaxRegression(max_iter=2, random_state=0).fit(X[:100] / 16, y[:100]), path)
    with zipfile.ZipFile(path) as archive:  # the archive rewritten whole: its checksums agree
        members = {name: archive.read(name) for name in archive.namelist()}
    assert b"'fortran_order': False" in members["metadata.npy"]
    members["metadata.npy"] = members["metadata.npy"].replace(b"'fortran_order': False", b"'fortran_order'[ False")
    with zipfile.ZipFile(path, "w") as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    with pytest.raises(ModelFileError, match=r"is not a usable stackae model: it is a damaged \.npz archive"):
        load_model(path)
