"""Process signals handled for the length of a block, on the main thread only."""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Callable, Iterator
from types import FrameType
from typing import Any

Handler = Callable[[int, FrameType | None], Any]


@contextlib.contextmanager
def signals_handled(handler: Handler, *signums: signal.Signals) -> Iterator[None]:
    """``handler`` receives ``signums`` while the block runs; then the previous handlers return.

    Only the main thread may set handlers: on another (tests run the CLI and the app on threads)
    the block runs with the handlers as they are.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = {signum: signal.signal(signum, handler) for signum in signums}
    try:
        yield
    finally:
        for signum, old in previous.items():
            if old is not None:  # None: set outside Python, and it cannot be restored
                signal.signal(signum, old)
