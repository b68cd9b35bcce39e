"""Which key goes where: the OpenAI key only to OpenAI over TLS and to literal loopback."""

from __future__ import annotations

import socket
from datetime import date

import pytest

from tests.realtime.test_session import Collector, chunks_of, tone_bursts
from tests.support.realtime_server import RealtimeServer
from tray_stt.errors import AuthenticationError, ConfigError
from tray_stt.realtime.endpoint import Endpoint, EndpointAccess
from tray_stt.realtime.models import TranscriptionSettings
from tray_stt.realtime.session import Session, SessionOptions
from tray_stt.realtime.transport import Transport

OPENAI_KEY = "sk-openai-secret"


def local_name() -> str:
    """A host name, not literally localhost, that resolves to this machine's loopback."""
    for name in (socket.gethostname(), "localhost.localdomain", "ip6-localhost"):
        if name.lower() in ("localhost", ""):
            continue
        try:
            addresses = {info[4][0] for info in socket.getaddrinfo(name, None, socket.AF_INET)}
        except OSError:
            continue
        if "127.0.0.1" in addresses:
            return name
    pytest.skip("no host name other than 'localhost' resolves to 127.0.0.1 on this machine")


def run_against(endpoint: Endpoint) -> Collector:
    collector = Collector()
    session = Session(
        endpoint,
        TranscriptionSettings(),
        collector,
        options=SessionOptions(first_connect_attempts=0),
        today=date(2026, 11, 23),
    )
    session.run(chunks_of(tone_bursts(1)), wait_ready=True)
    return collector


def test_endpoint_openai_key_not_sent_to_a_name_that_resolves_here() -> None:
    name = local_name()
    with RealtimeServer(api_key=OPENAI_KEY) as server:
        url = server.url.replace("127.0.0.1", name)
        endpoint = Endpoint(url, OPENAI_KEY, access=EndpointAccess(name, insecure=True))
        with pytest.raises(AuthenticationError) as refused:
            run_against(endpoint)
        headers = server.connections[0].headers
    assert "authorization" not in headers and "api-key" not in headers
    assert all(OPENAI_KEY not in value for value in headers.values())
    assert str(refused.value) == (
        f"{name.lower()} asks for a key, and none is sent to it: your OpenAI key goes only to "
        f'OpenAI. Give this server its own with api_key under [endpoints."{name.lower()}"] in '
        "the config file."
    )


def test_endpoint_own_key_is_the_only_key_a_named_host_gets() -> None:
    name = local_name()
    with RealtimeServer(api_key="own-key", transcripts=["hello"]) as server:
        url = server.url.replace("127.0.0.1", name)
        access = EndpointAccess(name, api_key="own-key", insecure=True)
        collector = run_against(Endpoint(url, OPENAI_KEY, access=access))
        headers = server.connections[0].headers
    assert collector.texts == ["hello"]
    assert headers["authorization"] == "Bearer own-key"
    assert all(OPENAI_KEY not in value for value in headers.values())


def test_endpoint_literal_loopback_gets_the_openai_key() -> None:
    with RealtimeServer(api_key=OPENAI_KEY, transcripts=["local"]) as server:
        collector = run_against(Endpoint(server.url, OPENAI_KEY))
        assert server.connections[0].headers["authorization"] == f"Bearer {OPENAI_KEY}"
    assert collector.texts == ["local"]


def refuse_to_connect(url: str, headers: dict[str, str], timeout: float) -> Transport:
    raise AssertionError(f"a connection to {url} was attempted")


@pytest.mark.parametrize(
    "url",
    [
        "ws://192.168.1.20:8000/v1/realtime",
        "ws://gpu-box.lan/v1/realtime",
        "ws://127.0.0.1.example.net/v1/realtime",
        "ws://api.openai.com/v1/realtime?intent=transcription",
        "ws://res.openai.azure.com/openai/v1/realtime",
    ],
)
def test_endpoint_non_loopback_ws_is_refused_before_any_connection(url: str) -> None:
    endpoint = Endpoint(url, OPENAI_KEY)
    with pytest.raises(ConfigError, match=r"wss://") as refused:
        Session(endpoint, TranscriptionSettings(), Collector(), connect=refuse_to_connect)
    assert OPENAI_KEY not in str(refused.value)


def test_endpoint_openai_is_never_reached_over_ws_even_when_allowed() -> None:
    access = EndpointAccess("api.openai.com", insecure=True)
    endpoint = Endpoint("ws://api.openai.com/v1/realtime", OPENAI_KEY, access=access)
    with pytest.raises(ConfigError, match="only over wss://"):
        endpoint.check()


@pytest.mark.parametrize(
    ("url", "access", "sent"),
    [
        ("wss://api.openai.com/v1/realtime", None, OPENAI_KEY),
        ("wss://eu.api.openai.com/v1/realtime", None, OPENAI_KEY),
        ("wss://res.openai.azure.com/openai/v1/realtime", None, OPENAI_KEY),
        ("ws://localhost:8000/", None, OPENAI_KEY),
        ("ws://127.0.0.1:8000/", None, OPENAI_KEY),
        ("ws://[::1]:8000/", None, OPENAI_KEY),
        ("wss://proxy.example.com/v1/realtime", None, None),
        ("wss://api.openai.com.evil.example/v1/realtime", None, None),
        ("wss://evil-openai.com/v1/realtime", None, None),
        ("ws://gpu-box.lan/", EndpointAccess("gpu-box.lan", insecure=True), None),
        ("ws://gpu-box.lan/", EndpointAccess("gpu-box.lan", "box-key", True), "box-key"),
        ("wss://proxy.example.com/", EndpointAccess("proxy.example.com", "px"), "px"),
    ],
)
def test_endpoint_key_per_host(url: str, access: EndpointAccess | None, sent: str | None) -> None:
    endpoint = Endpoint(url, OPENAI_KEY, access=access)
    endpoint.check()
    assert endpoint.key() == sent
    assert (OPENAI_KEY in str(endpoint.headers())) == (sent == OPENAI_KEY)


def test_endpoint_repr_hides_every_key() -> None:
    endpoint = Endpoint("wss://x.example/", OPENAI_KEY, access=EndpointAccess("x.example", "own"))
    assert OPENAI_KEY not in repr(endpoint) and "'own'" not in repr(endpoint)
