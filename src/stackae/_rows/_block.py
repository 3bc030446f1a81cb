"""A block of rows, as every engine hands it to a block function (the protocol in
:mod:`stackae._rows`), in a module of its own below the engines that make blocks."""

from __future__ import annotations

from typing import Any, NamedTuple

__all__ = ["Block"]


class Block(NamedTuple):
    """One block of rows, as a block function sees it."""

    X: Any
    y: Any
    T: Any
    start: int
    kept: Any
    w: Any = None
