"""Reading ``.npz`` archives from untrusted files without surprises.

``numpy.load`` trusts each member's ``.npy`` header: a damaged or hostile file that
declares a huge shape makes it allocate that much before reading a byte. Here every
member's header is read and checked against the member's size first, object arrays
(pickles) are refused, and only then are the arrays read. Every failure becomes the
caller's error class, with a reason phrase such as "it is not an .npz archive".
"""

from __future__ import annotations

import tokenize
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numpy.lib import format as npy_format

__all__ = ["read_npz", "MAX_DEFLATE_RATIO"]

#: Deflate cannot expand data more than about 1032 times: a compressed member (or
#: gzip file) declaring more than this times its size is corrupt, whatever it holds.
MAX_DEFLATE_RATIO = 1100


class _Refused(Exception):
    pass


def read_npz(
    path, error: Callable[[str], Exception], *, first=(), check: Callable | None = None
) -> dict[str, np.ndarray]:
    """All arrays of the ``.npz`` at ``path``, by name (without ``.npy``).

    For anything but a well-formed archive of plain arrays whose declared sizes agree
    with the file, raises ``error(reason)``; ``FileNotFoundError`` if it is missing.
    The members named in ``first`` are read before the others, and ``check(name,
    shape, dtype, arrays_read_so_far)``, called with each member's declared shape
    before its data is inflated, may refuse it by raising ``ValueError(reason)`` (a
    model file's arrays against its metadata's layer sizes).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"No such file: '{path}'.")
    try:
        return _read(path, tuple(first), check)
    except _Refused as exc:
        raise error(str(exc)) from None
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        zlib.error,
        EOFError,
        OSError,
        ValueError,
        KeyError,
        TypeError,
        NotImplementedError,
        RuntimeError,
        SyntaxError,  # a damaged .npy header: NumPy parses it as a Python literal
        tokenize.TokenError,
    ) as exc:
        raise error(f"it is a damaged .npz archive ({exc})") from None


def _read(path: Path, first=(), check=None) -> dict[str, np.ndarray]:
    if not zipfile.is_zipfile(path):
        raise _Refused("it is not an .npz archive (it may be truncated, or another kind of file)")
    arrays: dict[str, np.ndarray] = {}
    with zipfile.ZipFile(path) as archive:
        members = archive.infolist()

        def named(info):
            return info.filename[:-4] if info.filename.endswith(".npy") else info.filename

        members = [m for m in members if named(m) in first] + [m for m in members if named(m) not in first]
        for info in members:
            name = named(info)
            limit = max(info.compress_size, 1) * MAX_DEFLATE_RATIO
            if info.file_size > limit:
                raise _Refused(f"its member '{name}' declares an impossible size (the file is corrupted)")
            with archive.open(info) as member:
                version = npy_format.read_magic(member)
                if version == (1, 0):
                    shape, fortran, dtype = npy_format.read_array_header_1_0(member)
                elif version in ((2, 0), (3, 0)):
                    shape, fortran, dtype = npy_format.read_array_header_2_0(member)
                else:
                    raise _Refused(f"its member '{name}' has an unknown .npy version {version}")
                if dtype.hasobject:
                    raise _Refused("it holds object arrays, which stackae refuses to load; save plain numeric arrays")
                if check is not None:
                    try:
                        check(name, tuple(shape), dtype, arrays)
                    except ValueError as exc:
                        raise _Refused(str(exc)) from None
                count = int(np.prod(shape, dtype=object))
                if count * dtype.itemsize > info.file_size:
                    raise _Refused(
                        f"its member '{name}' declares shape {shape} but holds fewer bytes "
                        "(the file is truncated or corrupted)"
                    )
                data = member.read(count * dtype.itemsize)
            if len(data) != count * dtype.itemsize:
                raise _Refused(f"its member '{name}' is truncated")
            array = np.frombuffer(data, dtype=dtype, count=count)
            arrays[name] = array.reshape(shape, order="F" if fortran else "C").copy()
    return arrays
