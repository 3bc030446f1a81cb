"""Helpers shared by the benchmark scripts: the machine description and table printing."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

#: Where the four MNIST files live in this workspace (override with --mnist).
DEFAULT_MNIST = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "mnist"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_description() -> str:
    """One line: CPU, cores usable, memory, Python, NumPy and its BLAS."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:
        cores = os.cpu_count()
    try:
        mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
        mem_text = f"{mem:.0f} GiB"
    except (ValueError, OSError, AttributeError):
        mem_text = "? GiB"
    blas = "?"
    try:
        from threadpoolctl import threadpool_info

        infos = [i for i in threadpool_info() if i.get("user_api") == "blas"]
        if infos:
            blas = f"{infos[0].get('internal_api')} {infos[0].get('version')} ({infos[0].get('architecture')})"
    except ImportError:
        pass
    return (
        f"{cpu_model()}, {cores} cores, {mem_text}, Python {platform.python_version()}, "
        f"NumPy {np.__version__}, BLAS {blas}"
    )


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """A Markdown table (pastes straight into the README)."""
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    line = lambda cells: "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
    print(line(headers))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        print(line(row))
