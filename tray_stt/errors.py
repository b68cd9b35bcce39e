"""The error hierarchy: every failure a user can meet, each with a sentence they can act on.

Library errors (OSError, websocket exceptions, JSON errors) are translated into these once, at the
module boundary where they happen. The command line maps each class to its exit code; the tray shows
``str(error)`` in a notification. No other exception is meant to reach the user.
"""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of the command line, one per kind of failure."""

    OK = 0
    FAILURE = 1  # a bug: an exception we did not translate
    USAGE = 2  # bad command line, configuration or input file
    AUTHENTICATION = 3
    BILLING = 4
    NETWORK = 5  # network or server trouble that retrying did not fix
    BUDGET = 6  # a budget cap (budget_daily_usd, budget_monthly_usd) is reached
    INTERRUPTED = 130


class TraySttError(Exception):
    """Base of every error the user may see; ``str()`` is one actionable sentence."""

    exit_code: ExitCode = ExitCode.FAILURE


class ConfigError(TraySttError):
    """The configuration file, environment or command line asks for something invalid."""

    exit_code = ExitCode.USAGE


class AudioInputError(TraySttError):
    """An audio file or device cannot be read."""

    exit_code = ExitCode.USAGE


class LogWriteError(TraySttError):
    """A transcript could not be written to the daily log."""

    exit_code = ExitCode.FAILURE


class ProtocolError(TraySttError):
    """The server sent a frame that is not a JSON object: the one error the protocol core raises."""

    exit_code = ExitCode.NETWORK


class ServiceError(TraySttError):
    """The realtime service refused or ended the session."""

    exit_code = ExitCode.NETWORK


BILLING_URL = "https://platform.openai.com/settings/organization/billing"

SET_KEY_HINT = (
    "run `tray-stt set-key` (or choose Set API key in the tray menu), or export "
    "OPENAI_API_KEY=sk-..."
)
"""Every way a user sets the key, for each sentence that asks for one."""


class AuthenticationError(ServiceError):
    """The API key is missing or was rejected."""

    exit_code = ExitCode.AUTHENTICATION

    @classmethod
    def missing(cls) -> AuthenticationError:
        """No key is set where one is needed."""
        return cls(f"No API key is set: {SET_KEY_HINT}")

    @classmethod
    def rejected(cls, by: str, detail: str) -> AuthenticationError:
        """``by`` (the server, or a URL) refused the key; ``detail`` is its code or status."""
        return cls(
            f"{by} rejected the API key ({detail}): {SET_KEY_HINT} (an Azure key must belong to "
            "that resource)."
        )


class BillingError(ServiceError):
    """The account has no credit left (``insufficient_quota``)."""

    exit_code = ExitCode.BILLING

    @classmethod
    def no_credit(cls, detail: str) -> BillingError:
        """The account needs credit; ``detail`` is the server's code or status."""
        return cls(
            f"Your OpenAI account has no credit left ({detail}): add credit at {BILLING_URL} "
            "and try again."
        )


class ConnectionFailed(ServiceError):
    """The endpoint could not be reached, or the connection kept dropping."""

    exit_code = ExitCode.NETWORK


class BudgetExceeded(TraySttError):
    """A budget cap of the configuration is reached: listening must not start or go on."""

    exit_code = ExitCode.BUDGET


class AssetMissing(TraySttError):
    """An icon, sound or model file is missing from the installation."""


class HotkeyUnavailable(ConfigError):
    """No global key listener can run here (no X display, Wayland, missing permission)."""


class AutostartError(TraySttError):
    """Start at login could not be switched on or off; ``str()`` says why and what to do."""


class ControlError(TraySttError):
    """The running instance could not be reached or did not answer."""


class NotRunning(ControlError):
    """No tray-stt instance is running for this user."""


class AlreadyRunning(ControlError):
    """Another tray-stt instance holds the single-instance lock."""
