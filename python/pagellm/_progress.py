"""A small tqdm-like progress bar on stderr, drawn only when stderr is a terminal."""

from __future__ import annotations

import sys
import time
from typing import Optional, TextIO

_BAR_WIDTH = 30
_REDRAW_SECONDS = 0.1


def _is_tty(stream: TextIO) -> bool:
    try:
        return stream.isatty()
    except (AttributeError, ValueError, OSError):
        return False


def _clock(seconds: float) -> str:
    seconds = int(max(0.0, seconds))
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes:02d}:{seconds:02d}"


class ProgressBar:
    """``Processed prompts: 40%|████      | 4/10 [00:01<00:02, 3.2it/s, 512.0 toks/s]``."""

    def __init__(self, total: int, desc: str = "Processed prompts", enabled: bool = True,
                 stream: Optional[TextIO] = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.total = total
        self.desc = desc
        self.enabled = enabled and total > 0 and _is_tty(self.stream)
        self.done = 0
        self.output_tokens = 0
        self.start = time.monotonic()
        self._last_draw = 0.0
        if self.enabled:
            self._draw()

    def update(self, n: int = 1, output_tokens: int = 0) -> None:
        self.done += n
        self.output_tokens += output_tokens
        now = time.monotonic()
        if self.enabled and (self.done >= self.total or now - self._last_draw >= _REDRAW_SECONDS):
            self._draw()

    def close(self) -> None:
        if self.enabled:
            self._draw()
            self.stream.write("\n")
            self.stream.flush()
            self.enabled = False

    def __enter__(self) -> "ProgressBar":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _draw(self) -> None:
        now = time.monotonic()
        self._last_draw = now
        elapsed = now - self.start
        frac = min(1.0, self.done / self.total)
        filled = int(frac * _BAR_WIDTH)
        rate = self.done / elapsed if elapsed > 0 else 0.0
        left = (self.total - self.done) / rate if rate > 0 else 0.0
        speed = f", {self.output_tokens / elapsed:.1f} toks/s" if elapsed > 0 and self.output_tokens else ""
        line = (f"\r{self.desc}: {frac * 100:3.0f}%|{'█' * filled}{' ' * (_BAR_WIDTH - filled)}| "
                f"{self.done}/{self.total} [{_clock(elapsed)}<{_clock(left)}, {rate:.2f}it/s{speed}]")
        self.stream.write(line)
        self.stream.flush()
