"""The API key at rest: the system keyring, or a 0600 file where no keyring exists.

The only module that imports ``keyring``. The key is never printed or logged.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import platformdirs

from tray_stt import APP_NAME
from tray_stt.errors import ConfigError
from tray_stt.files import replace_file

SERVICE = APP_NAME
ACCOUNT = "api_key"
_log = logging.getLogger(__name__)


def key_file() -> Path:
    """Where the key is kept when no keyring backend exists."""
    return platformdirs.user_config_path(APP_NAME) / "api_key"


class KeyStore:
    """Reads and writes the API key: the system keyring, else a private file."""

    def __init__(self, *, path: Path | None = None) -> None:
        self._path = path or key_file()

    def load(self) -> str | None:
        """The stored key, or None."""
        keyring = _keyring()
        if keyring is not None:
            try:
                key = keyring.get_password(SERVICE, ACCOUNT)
            except Exception:  # no backend (NoKeyringError) or a locked or broken one
                key = None
            if key:
                return str(key)
        try:
            return self._path.read_text(encoding="utf-8").strip() or None
        except OSError:
            return None

    def save(self, key: str) -> str:
        """Store the key; returns the one sentence saying where (and why there)."""
        key = key.strip()
        if not key:
            raise ConfigError(
                "No API key was entered, so none was stored: paste the whole key, starting "
                "with sk-."
            )
        keyring = _keyring()
        if keyring is not None:
            try:
                keyring.set_password(SERVICE, ACCOUNT, key)
                return "The API key is stored in the system keyring."
            except Exception as exc:  # NoKeyringError on a headless machine, for one
                _log.debug("the keyring refused the key: %r", exc)
        self._write_file(key)
        return (
            f"No system keyring is available, so the API key is stored in {self._path}, "
            "readable only by you."
        )

    def _write_file(self, key: str) -> None:
        try:
            replace_file(self._path, f"{key}\n".encode(), mode=0o600, dir_mode=0o700)
        except OSError as exc:
            where = self._path
            raise ConfigError(f"Cannot store the API key in {where}: {exc.strerror}.") from None


def keyring_backend() -> str | None:
    """The keyring backend that would store the key (its class name), or None when there is
    none usable (no keyring package, or only the fail backend: the key then goes to a file).
    Nothing is read or written."""
    keyring = _keyring()
    if keyring is None:
        return None
    try:
        backend = keyring.get_keyring()
        priority = float(getattr(backend, "priority", 1))
    except Exception:  # a broken backend is no keyring either
        return None
    name = type(backend).__name__
    if priority <= 0 or type(backend).__module__ == "keyring.backends.fail":
        return None
    return f"{type(backend).__module__}.{name}"


def _keyring() -> Any:
    try:
        import keyring
    except ImportError:
        return None
    return keyring
