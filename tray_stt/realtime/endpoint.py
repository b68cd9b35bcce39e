"""Where to connect and how to authenticate: the endpoint, checked before any connection.

Standard library only, so the configuration can hold an Endpoint without loading the shell.
See docs/protocol.md, "Connection" for the endpoints tray-stt knows and which key goes where.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from tray_stt.errors import AuthenticationError, ConfigError
from tray_stt.realtime.models import Dialect

OPENAI_URL = "wss://api.openai.com/v1/realtime?intent=transcription"
_AZURE_SUFFIXES = (".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com")
# Written literally in the URL: a name that merely resolves to this machine is not trusted, since
# what it resolves to is decided elsewhere (DNS, a hosts file) and may change (docs/protocol.md,
# "Connection").
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


@dataclass(frozen=True)
class EndpointAccess:
    """What the configuration allows one non-OpenAI host: its own key, unencrypted ws://."""

    host: str  # "host" or "host:port", as written in the URL
    api_key: str | None = field(default=None, repr=False)
    insecure: bool = False


@dataclass(frozen=True)
class Endpoint:
    """Where to connect and how to authenticate.

    ``api_key`` is the user's OpenAI key (environment, keyring or config ``api_key``); it is sent
    only to OpenAI's and Azure's hosts over wss:// and to a literal loopback address.
    ``access`` is what the configuration names for this endpoint (its own key, insecure ws://).
    """

    url: str = OPENAI_URL
    api_key: str | None = field(default=None, repr=False)
    auth: str = "auto"  # auto | bearer | api-key
    dialect: Dialect = Dialect.GA
    access: EndpointAccess | None = None

    @property
    def host(self) -> str:
        """The host name or address of the URL, lower case, without brackets or port."""
        return (urlsplit(self.url).hostname or "").lower()

    @property
    def is_openai(self) -> bool:
        """Whether this is OpenAI's own service (where a key is required and beta is retired)."""
        return self.host == "openai.com" or self.host.endswith(".openai.com")

    @property
    def is_azure(self) -> bool:
        """Whether this is an Azure OpenAI resource (which takes an ``api-key`` header)."""
        return self.host.endswith(_AZURE_SUFFIXES)

    @property
    def is_loopback(self) -> bool:
        """Whether the URL names this machine literally (localhost, 127.0.0.1, [::1])."""
        return self.host in LOOPBACK_HOSTS

    @property
    def secure(self) -> bool:
        """Whether the connection is encrypted (wss://)."""
        return urlsplit(self.url).scheme == "wss"

    def key(self) -> str | None:
        """The key this endpoint gets: its own configured key, else the OpenAI key only where
        it belongs (docs/protocol.md, "OpenAI"), else none."""
        if self.access is not None and self.access.api_key:
            return self.access.api_key
        if self.is_loopback or (self.secure and (self.is_openai or self.is_azure)):
            return self.api_key
        return None

    def headers(self) -> dict[str, str]:
        """The upgrade request headers: credentials, and the beta marker where it is wanted."""
        headers: dict[str, str] = {}
        key = self.key()
        if key:
            api_key_header = self.auth == "api-key" or (self.auth == "auto" and self.is_azure)
            if api_key_header:
                headers["api-key"] = key
            else:
                headers["Authorization"] = f"Bearer {key}"
        if self.dialect is Dialect.BETA and not self.is_azure:
            headers["OpenAI-Beta"] = "realtime=v1"  # Azure's preview never wanted it
        return headers

    def explain(self, error: AuthenticationError) -> AuthenticationError:
        """A refusal of a server that got no key says why none was sent, and how to give one."""
        if self.key() or self.is_openai or self.is_azure:
            return error
        return AuthenticationError(
            f"{self.host} asks for a key, and none is sent to it: your OpenAI key goes only to "
            f'OpenAI. Give this server its own with api_key under [endpoints."{self.host}"] '
            "in the config file."
        )

    def check(self) -> None:
        """Refuse, before connecting, what cannot work or would expose the key."""
        scheme = urlsplit(self.url).scheme
        if scheme not in ("ws", "wss"):
            raise ConfigError(
                f"The endpoint URL must start with wss:// or ws:// (got {self.url!r})."
            )
        if scheme == "ws" and (self.is_openai or self.is_azure):
            raise ConfigError(
                f"{self.host} is reached only over wss://: ws:// would send the key and your "
                "audio unencrypted."
            )
        insecure_allowed = self.access is not None and self.access.insecure
        if scheme == "ws" and not self.is_loopback and not insecure_allowed:
            raise ConfigError(
                f"Refusing ws://{self.host}: an unencrypted connection to another machine would "
                "expose your audio (and any key) to the network; use wss://, or allow it with "
                f'insecure = true under [endpoints."{self.host}"] in the config file.'
            )
        if self.is_openai and not self.api_key:
            raise AuthenticationError.missing()
        if self.is_openai and self.dialect is Dialect.BETA:
            raise ConfigError(
                "OpenAI retired the beta realtime dialect on 2026-05-12: use --dialect ga."
            )
