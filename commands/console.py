"""Where a command writes: the terminal, or a socket back to the command line that asked."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable


class Console:
    """Plain output, errors and progress on the local terminal."""

    def out(self, text: str) -> None:
        print(text, flush=True)

    def err(self, text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    def progress(self, total: int, unit: str = "rows") -> Callable[[int], None]:
        from tqdm import tqdm

        # tqdm draws only on a terminal (disable=None), so pipes and CI logs stay clean.
        bar = tqdm(total=total, unit=f" {unit}", unit_scale=True, disable=None, file=sys.stderr)

        def advance(done: int) -> None:
            bar.update(done)
            if bar.n >= total:
                bar.close()

        return advance


class StreamConsole(Console):
    """Sends each line as JSON to a client; used when the running server does the work."""

    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write

    def _send(self, **message) -> None:
        self._write((json.dumps(message) + "\n").encode())

    def out(self, text: str) -> None:
        self._send(kind="out", text=text)

    def err(self, text: str) -> None:
        self._send(kind="err", text=text)

    def progress(self, total: int, unit: str = "rows") -> Callable[[int], None]:
        state = {"done": 0, "shown": -1}

        def advance(done: int) -> None:
            state["done"] += done
            percent = 100 * state["done"] // max(total, 1)
            if percent // 10 != state["shown"] // 10 or state["done"] >= total:
                state["shown"] = percent
                self._send(kind="err", text=f"{state['done']:,} of {total:,} {unit} ({percent}%)")

        return advance
