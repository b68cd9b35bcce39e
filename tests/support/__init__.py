"""Everything the tests use that is not itself a test: servers, fakes, fixtures, helpers."""

from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
"""The repository root (the folder holding tray_stt/, tests/ and assets/)."""
