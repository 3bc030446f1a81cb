"""Downloads that never leave a file that looks complete: streamed into a temporary file
beside the target, checked, and renamed over it only when the check passes; mirrors
tried in turn; one error naming every address tried and what to do.

Knows no data set (the catalogue is in :mod:`stackae.datasets`) and prints nothing:
progress goes to a callback.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path

from .exceptions import DataError

__all__ = ["DownloadError", "download", "sha256_of"]

#: Bytes read at a time.
CHUNK = 1 << 16


class DownloadError(DataError):
    """No mirror gave a file that passed its check."""


def sha256_of(path, *, gunzip: bool = False) -> str:
    """The SHA-256 of a file's bytes (of its decompressed bytes with ``gunzip``)."""
    import gzip

    digest = hashlib.sha256()
    opener = gzip.open if gunzip else open
    with opener(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def download(urls, target, check, *, progress=None, timeout: float = 60.0) -> str:
    """Fetch ``target`` from the first of ``urls`` whose file passes ``check``.

    ``check(path) -> str | None``: None when the file at ``path`` is right, else why not
    (e.g. a checksum mismatch). The file is written to a temporary file in ``target``'s
    folder and renamed over ``target`` only after the check passed, so an interrupted,
    truncated or corrupted transfer leaves nothing behind. ``progress(url, done, total)``
    is called as bytes arrive (``total`` None when the server does not say).

    Returns the address the file came from; raises :class:`DownloadError` naming every
    address tried and why each failed.
    """
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    failures = []
    for url in urls:
        fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=target.parent)
        temporary = Path(name)
        try:
            with os.fdopen(fd, "wb") as out:
                _fetch(url, out, progress, timeout)
            why = check(temporary)
            if why is None:
                umask = os.umask(0)
                os.umask(umask)
                temporary.chmod(0o666 & ~umask)  # as a file written plainly (mkstemp's are 0600)
                os.replace(temporary, target)
                return url
            failures.append(f"{url} ({why})")
        except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
            failures.append(f"{url} ({_reason(exc)})")
        finally:
            temporary.unlink(missing_ok=True)
    raise DownloadError("; ".join(failures))


def _fetch(url: str, out, progress, timeout: float) -> None:
    request = urllib.request.Request(url, headers={"User-Agent": "stackae"})
    with urllib.request.urlopen(request, timeout=timeout) as response:
        length = response.headers.get("Content-Length")
        total = int(length) if length and length.isdigit() else None
        done = 0
        while True:
            chunk = response.read(CHUNK)
            if not chunk:
                break
            out.write(chunk)
            done += len(chunk)
            if progress is not None:
                progress(url, done, total)
        if total is not None and done != total:  # the connection closed early
            raise OSError(f"the transfer stopped after {done} of {total} bytes")


def _reason(exc: Exception) -> str:
    if isinstance(exc, urllib.error.HTTPError):
        return f"HTTP {exc.code} {exc.reason}"
    if isinstance(exc, urllib.error.URLError):
        return f"{type(exc.reason).__name__}: {exc.reason}"
    if isinstance(exc, http.client.IncompleteRead):
        return f"the transfer stopped after {len(exc.partial)} bytes, {exc.expected} short"
    return f"{type(exc).__name__}: {exc}"
