"""File helpers below everything that writes files (model files, checkpoints, the CLI's
run record), so that none of them has to import another for them."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write", "check_writable", "check_not_an_input"]


def atomic_write(path, write) -> None:
    """Call ``write(file_object)`` on a temporary file beside ``path``, then rename it
    over ``path`` (atomic on POSIX and Windows): a crash never leaves a half-written
    file in place."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise FileNotFoundError(f"No such folder: '{folder}'.")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=folder)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
    try:
        with os.fdopen(fd, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def check_writable(path, option: str) -> None:
    """Raise (before any work is done) unless a file can be written at ``path``: its
    folder exists and takes a new file, and ``path`` is not a folder. ``option`` names
    where the path came from in the message (``"--out"``)."""
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir():
        raise OSError(f"{option} '{path}' is a folder; give a file name.")
    if not folder.is_dir():
        raise OSError(f"{option} '{path}': no such folder '{folder}'.")
    try:
        fd, probe = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".probe", dir=folder)
    except OSError as exc:
        raise OSError(f"{option} '{path}': the folder '{folder}' takes no new file ({exc.strerror}).") from None
    os.close(fd)
    os.unlink(probe)


def _same_file(a: Path, b: Path) -> bool:
    try:
        return a.exists() and b.exists() and os.path.samefile(a, b)
    except OSError:
        return a.resolve() == b.resolve()


def _inside(a: Path, folder: Path) -> bool:
    try:
        return a.resolve().is_relative_to(folder.resolve())
    except OSError:
        return False


def check_not_an_input(path, option: str, inputs) -> None:
    """Raise when ``path`` (an output) is one of ``inputs`` (paths a command reads, as
    files compared, not as spelled), or a file inside an input that is a folder (a
    folder of IDX files, a Zarr store, the data cache): no command writes over what it
    reads."""
    if path is None:
        return
    out = Path(path)
    for given in inputs:
        if given is None:
            continue
        folder = Path(given)
        if _same_file(out, folder) or (out.exists() and folder.is_dir() and _inside(out, folder)):
            raise OSError(
                f"{option} '{path}' is one of this command's inputs; it would be written over. Choose another file."
            )
