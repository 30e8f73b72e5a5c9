"""`file_url` must never reach the service's own network: each refusal is a 4XX and no connection is made."""

from __future__ import annotations

import ipaddress
import time

import httpx
import pytest

from bot.models import Segment
from bot.service.fetch import Allowlist, Fetcher, PinnedTransport, UrlNotAllowed, is_public
from tests.fixtures.service import service_settings

AUDIO = b"RIFF....WAVEfmt fake audio bytes"


class RecordingTransport(httpx.AsyncBaseTransport):
    """Sits where the socket is opened: every request that got past the checks shows up in `urls`."""

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport(trust_env=False)
        self.urls: list[str] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.urls.append(str(request.url))
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@pytest.fixture
def ssrf_service(service_factory, scripted_transcriber, tmp_path):
    settings = service_settings(tmp_path, max_audio_bytes=64 * 1024)
    recorder = RecordingTransport()
    fetcher = Fetcher(
        allowlist=Allowlist.parse(settings.url_allowlist),
        max_bytes=settings.max_audio_bytes,
        connect_timeout_s=2,
        total_timeout_s=10,
        inner_transport=recorder,
    )
    transcriber = scripted_transcriber([Segment(text="fetched fine", start=0, end=1)], delay=0)
    svc = service_factory(settings, transcriber, fetcher=fetcher)
    return svc, recorder, transcriber


def transcribe_url(svc, url: str) -> httpx.Response:
    return httpx.post(f"{svc.url}/v1/audio/transcriptions", data={"model": "voxtral-mini-latest", "file_url": url},
                      timeout=20)


def assert_refused(response: httpx.Response, code: str = "url_not_allowed") -> None:
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert body["code"] == code and body["param"] == "file_url" and body["message"], body


def assert_still_healthy(svc) -> None:
    assert httpx.get(f"{svc.url}/health").json()["status"] == "ok"


def settle() -> None:
    """Give a trap's accept loop the chance to record a connection, had one been made."""
    time.sleep(0.2)


@pytest.mark.parametrize("host", ["127.0.0.1", "::1"])
def test_loopback_literals_are_refused_unconnected(ssrf_service, connection_trap, host):
    svc, recorder, _ = ssrf_service
    trap = connection_trap(host)
    assert_refused(transcribe_url(svc, trap.url()))
    settle()
    assert trap.connections == [] and recorder.urls == []
    assert_still_healthy(svc)


@pytest.mark.parametrize("url", ["http://10.0.0.1/audio.wav", "http://169.254.169.254/latest/meta-data/",
                                 "http://[::ffff:169.254.169.254]/", "http://0.0.0.0:80/", "http://[fe80::1]/"])
def test_private_and_metadata_addresses_are_refused_before_any_connect(ssrf_service, url):
    svc, recorder, _ = ssrf_service
    assert_refused(transcribe_url(svc, url))
    # The transport that opens sockets never saw the request: the address was refused before connecting.
    assert recorder.urls == []


def test_host_name_resolving_to_loopback_is_refused(ssrf_service, connection_trap):
    svc, recorder, _ = ssrf_service
    trap = connection_trap("127.0.0.1")
    response = transcribe_url(svc, trap.url(host="localhost"))
    assert_refused(response)
    assert "not a public address" in response.json()["message"]
    settle()
    assert trap.connections == [] and recorder.urls == []


def test_redirect_to_loopback_is_refused(ssrf_service, connection_trap, media_server):
    svc, recorder, _ = ssrf_service
    trap = connection_trap("127.0.0.1")
    media_server.redirects["/bounce"] = trap.url()
    assert_refused(transcribe_url(svc, media_server.url("/bounce")))
    settle()
    assert "/bounce" in media_server.requests
    assert trap.connections == []
    assert recorder.urls == [media_server.url("/bounce")]  # the first hop only


def test_allowlisted_url_is_fetched_following_a_redirect(ssrf_service, media_server):
    svc, recorder, transcriber = ssrf_service
    media_server.files["/notes/hello.wav"] = AUDIO
    media_server.redirects["/short"] = "/notes/hello.wav"
    response = transcribe_url(svc, media_server.url("/short"))
    assert response.status_code == 200, response.text
    assert response.json()["text"] == "fetched fine"
    assert transcriber.requests[-1].file == AUDIO
    assert transcriber.requests[-1].filename == "hello.wav"


def test_download_over_the_byte_cap_is_refused(ssrf_service, media_server):
    svc, _, transcriber = ssrf_service
    media_server.files["/big.wav"] = b"\0" * (64 * 1024 + 1)
    response = transcribe_url(svc, media_server.url("/big.wav"))
    assert response.status_code == 413 and response.json()["code"] == "file_too_large"
    assert transcriber.requests == []


@pytest.mark.parametrize("url", ["http://[2002:7f00:1::1]/a.wav", "http://[2002:a9fe:a9fe::1]/", "http://[2001::1]/",
                                 "http://[fec0::1]/", "http://192.0.0.1/", "http://192.88.99.1/"])
def test_tunnel_and_relay_addresses_are_refused_before_any_connect(ssrf_service, url):
    svc, recorder, _ = ssrf_service
    response = transcribe_url(svc, url)
    assert_refused(response)
    assert "not a public address" in response.json()["message"]
    assert recorder.urls == []


def test_a_url_with_credentials_is_refused_not_forwarded(ssrf_service, media_server):
    svc, recorder, transcriber = ssrf_service
    media_server.files["/private.wav"] = AUDIO
    url = media_server.url("/private.wav").replace("http://", "http://admin:hunter2@")
    response = transcribe_url(svc, url)
    assert_refused(response)
    assert "user name or password" in response.json()["message"]
    assert recorder.urls == [] and "/private.wav" not in media_server.requests
    assert transcriber.requests == []


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/a.wav", "gopher://127.0.0.1/", "not a url"])
def test_other_schemes_are_refused(ssrf_service, url):
    svc, recorder, _ = ssrf_service
    assert_refused(transcribe_url(svc, url))
    assert recorder.urls == []


def test_redirect_loop_and_missing_file_are_clear_errors(ssrf_service, media_server):
    svc, _, _ = ssrf_service
    media_server.redirects["/loop"] = "/loop"
    assert_refused(transcribe_url(svc, media_server.url("/loop")), code="fetch_failed")
    response = transcribe_url(svc, media_server.url("/missing.wav"))
    assert_refused(response, code="fetch_failed")
    assert "404" in response.json()["message"]


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True), ("2001:4860:4860::8888", True), ("127.0.0.1", False), ("127.1.2.3", False),
        ("::1", False), ("10.0.0.1", False), ("172.16.5.4", False), ("192.168.1.1", False),
        ("169.254.169.254", False), ("fe80::1", False), ("fc00::1", False), ("100.64.0.1", False),
        ("0.0.0.0", False), ("::", False), ("224.0.0.1", False), ("ff02::1", False), ("240.0.0.1", False),
        ("255.255.255.255", False), ("::ffff:127.0.0.1", False), ("::ffff:8.8.8.8", True),
        # Tunnels and relays that Python calls global: each can carry a private IPv4 inside.
        ("2002:7f00:1::1", False), ("2002:a9fe:a9fe::1", False), ("2002:808:808::1", False),
        ("2001:0:53aa:64c:0:fbff:80ff:fffe", False), ("2001::1", False), ("fec0::1", False),
        ("192.0.0.1", False), ("192.0.0.170", False), ("192.88.99.1", False),
        ("64:ff9b::7f00:1", False), ("64:ff9b::a9fe:a9fe", False), ("64:ff9b::808:808", True),
        ("64:ff9b:1::1", False), ("2001:db8::1", False),
    ],
)
def test_public_address_rule(address, public):
    assert is_public(ipaddress.ip_address(address)) is public


def test_allowlist_entries():
    allow = Allowlist.parse(["10.1.0.0/16", "minio.internal", " ", "::1"])
    assert allow.allows("anything", ipaddress.ip_address("10.1.2.3"))
    assert not allow.allows("anything", ipaddress.ip_address("10.2.0.1"))
    assert allow.allows("MINIO.internal.", ipaddress.ip_address("192.168.0.9"))
    assert allow.allows("x", ipaddress.ip_address("::1"))


async def test_transport_connects_to_the_address_it_checked(monkeypatch):
    """The name is resolved once; the socket goes to that address, with the original Host and TLS name."""
    seen: list[httpx.Request] = []

    class Inner(httpx.AsyncBaseTransport):
        async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
            seen.append(request)
            return httpx.Response(200, content=b"ok")

    answers = iter([[ipaddress.ip_address("93.184.215.14")], [ipaddress.ip_address("127.0.0.1")]])

    async def rebinding_resolve(host: str, port: int):
        return next(answers)

    monkeypatch.setattr("bot.service.fetch.resolve", rebinding_resolve)
    async with httpx.AsyncClient(transport=PinnedTransport(Allowlist(), Inner())) as client:
        response = await client.get("https://audio.example.org/a.ogg")
        assert response.status_code == 200
        request = seen[0]
        assert request.url.host == "93.184.215.14"
        assert request.headers["host"] == "audio.example.org"
        assert request.extensions["sni_hostname"] == "audio.example.org"
        # The same name now "resolves" to loopback: the next request is refused, not sent.
        with pytest.raises(UrlNotAllowed):
            await client.get("https://audio.example.org/b.ogg")
    assert len(seen) == 1
