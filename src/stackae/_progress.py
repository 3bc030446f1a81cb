"""Progress lines for long stages: stage name, iteration, current cost, elapsed time."""

from __future__ import annotations

import sys
import time


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

    @property
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def _line(self, iteration: int, cost: float, unit: str) -> str:
        width = 20
        filled = min(width, int(width * iteration / self.total))
        bar = "#" * filled + "-" * (width - filled)
        extra = f"  {self.extra}" if self.extra else ""
        count = f"{unit} {iteration:>5}/{self.total:<5}"
        return f"{self.stage:<18} [{bar}] {count} cost {cost:.6g}{extra}  {self.elapsed:7.1f}s"

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
