"""Progress lines for long stages: stage name, iteration, current cost, elapsed time,
rate and time left."""

from __future__ import annotations

import sys
import time


def _clock(seconds: float) -> str:
    """``12.3s`` under a minute, else ``m:ss`` or ``h:mm:ss``."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(round(seconds)), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


class Progress:
    """Reports one stage's progress on ``stream`` (stderr by default).

    On a terminal the line is redrawn in place; elsewhere (logs, CI) a line is written
    every ``every`` iterations and at the end, so logs stay short.
    """

    def __init__(self, stage: str, total: int, *, enabled: bool = True, stream=None, every: int = 50):
        self.stage = stage
        self.total = max(int(total), 1)
        self.enabled = enabled
        self.stream = sys.stderr if stream is None else stream
        self.every = every
        self.start = time.perf_counter()
        isatty = getattr(self.stream, "isatty", None)
        self.interactive = bool(isatty and isatty())
        self._last_draw = 0.0
        self.extra = ""
        self._last_line = -1  # iteration of the last line written (non-interactive)
        self._first: int | None = None  # the first iteration this process ran, and when it ended
        self._first_elapsed = 0.0

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _pace(self, iteration: int, unit: str, elapsed: float) -> str:
        """The rate (iterations a second, or seconds an iteration when slower than one a
        second) and the time left at that rate, from the iterations this process ran
        after its first (a resumed stage counts from where it resumed): the first one
        also pays for the stage's setup (buffers, compiled kernels, the first pages of a
        file), and a rate from it alone said hours for a stage of seconds. Left is an
        upper bound for L-BFGS, which may converge before ``total``."""
        if self._first is None:
            self._first, self._first_elapsed = iteration, elapsed
            return ""
        ran, span = iteration - self._first, elapsed - self._first_elapsed
        if ran <= 0 or span <= 0:
            return ""
        per_second = ran / span
        rate = f"{per_second:.1f} {unit}/s" if per_second >= 1 else f"{1 / per_second:.1f} s/{unit}"
        left = max(self.total - iteration, 0) / per_second
        return f"  {rate}  left {_clock(left)}" if left > 0 else f"  {rate}"

    def _line(self, iteration: int, cost: float, unit: str) -> str:
        width = 20
        filled = min(width, int(width * iteration / self.total))
        bar = "#" * filled + "-" * (width - filled)
        extra = f"  {self.extra}" if self.extra else ""
        count = f"{unit} {iteration:>5}/{self.total:<5}"
        elapsed = self.elapsed
        pace = self._pace(iteration, unit, elapsed)
        return f"{self.stage:<18} [{bar}] {count} cost {cost:.6g}{extra}  {_clock(elapsed)}{pace}"

    def note(self, text: str) -> None:
        """Shown after the cost on the next lines (e.g. the validation score)."""
        self.extra = text

    def update(self, iteration: int, cost: float, unit: str = "iter") -> None:
        if not self.enabled:
            return
        if self.interactive:
            now = time.perf_counter()
            if now - self._last_draw >= 0.1 or iteration >= self.total:
                self.stream.write("\r" + self._line(iteration, cost, unit))
                self.stream.flush()
                self._last_draw = now
        elif iteration % self.every == 0:
            self.stream.write(self._line(iteration, cost, unit) + "\n")
            self.stream.flush()
            self._last_line = iteration

    def close(self, iteration: int, cost: float, note: str = "", unit: str = "iter") -> None:
        if not self.enabled or (not self.interactive and not note and iteration == self._last_line):
            return
        end = f"  {note}" if note else ""
        prefix = "\r" if self.interactive else ""
        self.stream.write(prefix + self._line(iteration, cost, unit) + end + "\n")
        self.stream.flush()
