"""How far a long command is, on stderr: a live bar on a terminal (tqdm), a plain line every few
seconds when stderr is a log file (no control codes). One display for ``build`` (MB of the
target) and ``extract`` (modules imported); each says what its rows and its totals are."""
from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, label: str, total: float, unit: str, enabled: bool = True, bar_format: str | None = None):
        self.label, self.total, self.enabled = label, total, enabled
        self.tty = sys.stderr.isatty()
        self.interval = 0.5 if self.tty else 5.0
        self.start = self.last = time.perf_counter()
        self.bar = None
        if enabled and self.tty:
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit=unit, desc=label, dynamic_ncols=True, file=sys.stderr,
                            **({"bar_format": bar_format} if bar_format else {}))

    def show(self, done: float, rows: int, bar_text: str, line_text: str, final: bool = False, eta: str | None = None) -> None:
        """``done`` of the total; ``rows`` (built or kept, what the rate counts); the bar's postfix
        and the plain line's body; ``eta`` overrides the estimate from the rate of ``done``."""
        now = time.perf_counter()
        if not self.enabled or (not final and now - self.last < self.interval):
            return
        self.last = now
        elapsed = now - self.start
        rate = rows / elapsed if elapsed > 0 else 0.0
        if self.bar is not None:
            self.bar.n = min(done, self.total)
            self.bar.set_postfix_str(f"{bar_text}, {rate:.0f} rows/s", refresh=True)
            return
        if eta is None:
            if final:
                eta = "done"
            elif done > 0:
                eta = f"ETA {(self.total - done) / (done / elapsed):.0f}s"
            else:
                eta = "ETA ?"
        sys.stderr.write(f"{self.label}: {line_text}, {rate:.0f} rows/s, elapsed {elapsed:.0f}s, {eta}\n")
        sys.stderr.flush()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
