"""How much audio client-side turn detection kept from being sent (``--turn local``).

A wrapper around the detector counts the audio it hears and the speech it lets through, and adds
both to the ledger every minute of audio heard and at the end of the input: a crash loses at most
a minute of this statistic, never a billed item.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from datetime import date

from tray_stt.metering.ledger import UsageLedger
from tray_stt.realtime.pcm import BYTES_PER_MS
from tray_stt.realtime.turns import Speech, TurnDetector, TurnEvent

_log = logging.getLogger(__name__)
FLUSH_MS = 60_000


class CountingTurns:
    """A ``TurnDetector`` that meters what the one it wraps heard and sent."""

    def __init__(
        self,
        inner: TurnDetector,
        ledger: UsageLedger,
        model: str,
        *,
        today: Callable[[], date] = date.today,
    ) -> None:
        """Count into ``ledger`` under ``model`` and the local date."""
        self.inner = inner
        self._ledger = ledger
        self._model = model
        self._today = today
        self._heard = 0  # bytes not yet added to the ledger
        self._sent = 0

    def process(self, pcm: bytes) -> list[TurnEvent]:
        """The wrapped detector's events for ``pcm``, counted."""
        events = self.inner.process(pcm)
        self._count(len(pcm), events)
        if self._heard >= FLUSH_MS * BYTES_PER_MS:
            self._save()
        return events

    def flush(self) -> list[TurnEvent]:
        """The wrapped detector's last events; the counts go to the ledger."""
        events = self.inner.flush()
        self._count(0, events)
        self._save()
        self._ledger.close()  # the input is over; a later one opens the file again
        return events

    def _count(self, heard: int, events: list[TurnEvent]) -> None:
        self._heard += heard
        self._sent += sum(len(e.pcm) for e in events if isinstance(e, Speech))

    def _save(self) -> None:
        heard, sent = self._heard // BYTES_PER_MS, self._sent // BYTES_PER_MS
        self._heard, self._sent = 0, 0
        try:
            self._ledger.add_local_turns(self._today(), self._model, heard, sent)
        except (sqlite3.Error, OSError):
            _log.warning("usage ledger: cannot add the local turn statistics", exc_info=True)
