"""Where to connect and how to authenticate: the endpoint, checked before any connection.

Standard library only, so the configuration can hold an Endpoint without loading the shell.
See docs/protocol.md for the endpoints tray-stt knows.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from tray_stt.errors import AuthenticationError, ConfigError
from tray_stt.realtime.models import Dialect

OPENAI_URL = "wss://api.openai.com/v1/realtime?intent=transcription"
_AZURE_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and how to authenticate."""

    url: str = OPENAI_URL
    api_key: str | None = None
    auth: str = "auto"  # auto | bearer | api-key
    dialect: Dialect = Dialect.GA

    @property
    def is_openai(self) -> bool:
        """Whether this is OpenAI's own service (where a key is required and beta is retired)."""
        return urlsplit(self.url).hostname == "api.openai.com"

    @property
    def is_azure(self) -> bool:
        """Whether this is an Azure OpenAI resource (which takes an ``api-key`` header)."""
        return (urlsplit(self.url).hostname or "").endswith(_AZURE_SUFFIXES)

    def headers(self) -> dict[str, str]:
        """The upgrade request headers: credentials, and the beta marker where it is wanted."""
        headers: dict[str, str] = {}
        if self.api_key:
            api_key_header = self.auth == "api-key" or (self.auth == "auto" and self.is_azure)
            if api_key_header:
                headers["api-key"] = self.api_key
            else:
                headers["Authorization"] = f"Bearer {self.api_key}"
        if self.dialect is Dialect.BETA and not self.is_azure:
            headers["OpenAI-Beta"] = "realtime=v1"  # Azure's preview never wanted it
        return headers

    def check(self) -> None:
        """Refuse, before connecting, what cannot work."""
        scheme = urlsplit(self.url).scheme
        if scheme not in ("ws", "wss"):
            raise ConfigError(
                f"The endpoint URL must start with wss:// or ws:// (got {self.url!r})."
            )
        if self.is_openai and not self.api_key:
            raise AuthenticationError.missing()
        if self.is_openai and self.dialect is Dialect.BETA:
            raise ConfigError(
                "OpenAI retired the beta realtime dialect on 2026-05-12: use --dialect ga."
            )
