"""Data sets fetched by name: against HTTP servers the tests start on loopback, serving
files they make (and the shared MNIST files); nothing reaches outside the machine."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import socket
import threading
from pathlib import Path

import numpy as np
import pytest

from conftest import MNIST_DIR, make_mnist_folder
from stackae.cli import main
from stackae.datasets import RemoteDataset, RemoteFile, data_home, fetch, load_dataset
from stackae.exceptions import DataError


class _Server:
    """A loopback HTTP server over ``folder``; ``mode`` bends its answers: "ok",
    "corrupt" (every file's bytes altered), "truncate" (the transfer stops halfway)."""

    def __init__(self, folder: Path, mode: str = "ok"):
        owner = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802 - the standard library's name
                owner.requests.append(self.path)
                path = folder / self.path.lstrip("/")
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                if owner.mode == "corrupt":
                    data = data[:-1] + bytes([data[-1] ^ 1])
                self.send_response(200)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data[: len(data) // 2] if owner.mode == "truncate" else data)

            def log_message(self, *args):
                pass

        self.mode = mode
        self.requests: list[str] = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def published(tmp_path):
    """A small data set in MNIST's layout, gzipped, as a RemoteDataset of its checksums."""
    folder = make_mnist_folder(tmp_path / "published", n_train=30, n_test=9)
    files = tuple(
        RemoteFile(p.name, hashlib.sha256(p.read_bytes()).hexdigest(), hashlib.sha256(gzip.decompress(p.read_bytes())).hexdigest())
        for p in sorted(folder.iterdir())
    )  # fmt: skip
    return folder, RemoteDataset("tiny", ("http://127.0.0.1:9/",), files)


@pytest.fixture
def server(published):
    servers = []

    def start(mode="ok"):
        s = _Server(published[0], mode)
        servers.append(s)
        return s

    yield start
    for s in servers:
        s.stop()


def _dead_url() -> str:
    """An address on loopback where nothing listens."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/"


def test_a_fresh_fetch_then_a_cached_one_with_the_server_stopped(tmp_path, published, server):
    _, dataset = published
    s = server()
    seen = []
    folder = fetch(dataset, data_home=tmp_path / "home", mirrors=[s.url], progress=lambda *a: seen.append(a))
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in dataset.files)
    assert len(s.requests) == 4 and seen and seen[-1][1] == seen[-1][2]
    s.stop()
    again = fetch(dataset, data_home=tmp_path / "home", mirrors=[_dead_url()])
    assert again == folder  # read from the cache: no network at all
    assert not list(folder.glob("*.part"))


def test_a_corrupted_download_leaves_nothing_in_the_cache(tmp_path, published, server):
    _, dataset = published
    s = server("corrupt")
    with pytest.raises(DataError, match=r"^Could not download t10k-images-idx3-ubyte\.gz of tiny from any mirror: "):
        fetch(dataset, data_home=tmp_path / "home", mirrors=[s.url])
    assert list((tmp_path / "home" / "tiny").iterdir()) == []  # no file, no temporary file


def test_a_truncated_transfer_leaves_nothing_and_says_so(tmp_path, published, server):
    _, dataset = published
    s = server("truncate")
    with pytest.raises(DataError, match=r"the transfer stopped after 108 of 216 bytes"):
        fetch(dataset, data_home=tmp_path / "home", mirrors=[s.url])
    assert list((tmp_path / "home" / "tiny").iterdir()) == []


def test_a_dead_first_mirror_falls_back_to_the_next(tmp_path, published, server):
    _, dataset = published
    s = server()
    folder = fetch(dataset, data_home=tmp_path / "home", mirrors=[_dead_url(), s.url])
    assert len(list(folder.iterdir())) == 4


def test_no_network_says_which_file_from_where_and_what_to_do(tmp_path, published):
    _, dataset = published
    dead = _dead_url()
    with pytest.raises(DataError) as info:
        fetch(dataset, data_home=tmp_path / "home", mirrors=[dead])
    message = str(info.value)
    assert message.startswith(f"Could not download t10k-images-idx3-ubyte.gz of tiny from any mirror: {dead}")
    assert "ConnectionRefusedError" in message
    assert "copy the four files (t10k-images-idx3-ubyte.gz, " in message and str(tmp_path / "home" / "tiny") in message


def test_files_placed_by_hand_are_checked_and_used(tmp_path, published):
    folder, dataset = published
    home = tmp_path / "home"
    (home / "tiny").mkdir(parents=True)
    for p in folder.iterdir():  # compressed again, as Debian's package of Fashion-MNIST is
        (home / "tiny" / p.name).write_bytes(gzip.compress(gzip.decompress(p.read_bytes()), mtime=1, compresslevel=1))
    assert fetch(dataset, data_home=home, mirrors=[_dead_url()]) == home / "tiny"
    damaged = home / "tiny" / "t10k-labels-idx1-ubyte.gz"
    damaged.write_bytes(gzip.compress(b"not the labels"))
    with pytest.raises(DataError, match=r"is not the published t10k-labels-idx1-ubyte\.gz of tiny .*delete it"):
        fetch(dataset, data_home=home, mirrors=[_dead_url()])


def test_the_data_home_follows_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("STACKAE_DATA", str(tmp_path / "d"))
    assert data_home() == tmp_path / "d"
    monkeypatch.delenv("STACKAE_DATA")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "c"))
    assert data_home() == tmp_path / "c" / "stackae"
    assert data_home(tmp_path / "x") == tmp_path / "x"


@pytest.mark.skipif(not MNIST_DIR.is_dir(), reason="needs the MNIST files in ../shared/data/mnist")
def test_mnist_by_name_from_a_loopback_mirror_and_then_the_cli(tmp_path, capsys):
    s = _Server(MNIST_DIR)
    try:
        folder = fetch("mnist", data_home=tmp_path / "home", mirrors=[s.url])  # the published checksums
    finally:
        s.stop()
    data = load_dataset("mnist", data_home=tmp_path / "home", dtype=np.float32)
    assert data.name == "mnist" and data.X_train.shape == (60000, 784) and folder.is_dir()
    # the CLI reads the cache with no server at all
    args = ["evaluate", "x.npz", "--data", "mnist", "--data-home", str(tmp_path / "home")]
    assert main(args) == 1  # no such model: the data option itself was accepted
    assert "No such model file" in capsys.readouterr().err


def test_unknown_names_are_refused():
    with pytest.raises(ValueError, match=r"^Unknown data set 'mnits'; the data sets fetched by name are mnist, "):
        fetch("mnits")
