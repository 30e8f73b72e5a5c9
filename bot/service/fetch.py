"""Download a client's `file_url` without letting it reach the service's own network (SSRF).

Every hop (the first request and each redirect) goes through `PinnedTransport`, which resolves the
host once, refuses non-public addresses unless allowlisted, and then connects to exactly the address it
checked: the name is never resolved a second time, so DNS rebinding between check and connect cannot
slip a private address in. TLS still verifies the certificate against the original host name (SNI).
"""

from __future__ import annotations

import asyncio
import io
import ipaddress
import logging
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import httpx

from bot.errors import AudioTooLarge, FetchFailed

log = logging.getLogger(__name__)

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
MAX_REDIRECTS = 3
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
CHUNK = 64 * 1024


class UrlNotAllowed(FetchFailed):
    """The URL (or a redirect) points somewhere the service must not go."""

    user_message = "this URL is not allowed"


@dataclass(frozen=True)
class Allowlist:
    """Hosts and networks a `file_url` may reach although they are not public (tests, an intranet store)."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str]) -> Allowlist:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for entry in entries:
            entry = entry.strip()
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry.lower().rstrip("."))
        return cls(frozenset(hosts), tuple(networks))

    def allows(self, host: str, address: IPAddress) -> bool:
        return host.lower().rstrip(".") in self.hosts or any(address in net for net in self.networks)


# Ranges Python's `ipaddress` counts as global although they tunnel or relay to other networks (an
# embedded private IPv4 reaches the inside through a relay) or are long deprecated.
NOT_PUBLIC = tuple(
    ipaddress.ip_network(net)
    for net in (
        "192.0.0.0/24",  # IETF protocol assignments (DS-Lite, NAT64 discovery...)
        "192.88.99.0/24",  # 6to4 relay anycast
        "2002::/16",  # 6to4: the next 32 bits are an IPv4 address
        "2001::/32",  # Teredo: the client's IPv4 sits (inverted) in the last 32 bits
        "fec0::/10",  # site-local, deprecated: an organisation's inside
        "64:ff9b:1::/48",  # local-use NAT64
        "2001:db8::/32",  # documentation
        "100::/64",  # discard-only
    )
)
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: IPAddress) -> bool:
    """Only globally routable unicast: refuses loopback, private, link-local, multicast, reserved,
    unspecified, and the tunnel and relay ranges that wrap any IPv4 address (6to4, Teredo, NAT64)."""
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return is_public(address.ipv4_mapped)
        if address in NAT64:  # well-known NAT64 prefix: it is the embedded IPv4 that gets reached
            return is_public(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    if any(address.version == net.version and address in net for net in NOT_PUBLIC):
        return False
    return address.is_global and not (
        address.is_multicast or address.is_reserved or address.is_unspecified or address.is_link_local
    )


async def resolve(host: str, port: int) -> list[IPAddress]:
    """All addresses the host name stands for (an IP literal stands for itself)."""
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise FetchFailed(f"can't resolve host {host!r}") from exc
    addresses: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        # Drop an IPv6 scope id ("fe80::1%eth0"): the address alone decides.
        address = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if address not in addresses:
            addresses.append(address)
    if not addresses:
        raise FetchFailed(f"host {host!r} has no address")
    return addresses


class PinnedTransport(httpx.AsyncBaseTransport):
    """Checks the address of every request, then sends it to that very address."""

    def __init__(self, allowlist: Allowlist, inner: httpx.AsyncBaseTransport | None = None) -> None:
        self.allowlist = allowlist
        # trust_env is off on purpose: a proxy from the environment would connect on our behalf, unchecked.
        # No keep-alive: a pooled TLS connection is keyed by IP and would be reused for another host name.
        self.inner = inner or httpx.AsyncHTTPTransport(
            trust_env=False, retries=0, limits=httpx.Limits(max_keepalive_connections=0)
        )

    async def checked_address(self, url: httpx.URL) -> IPAddress:
        if url.scheme not in ("http", "https"):
            raise UrlNotAllowed(f"only http and https URLs can be fetched, not {url.scheme!r}")
        host = url.host
        if not host:
            raise UrlNotAllowed("the URL has no host")
        if url.userinfo:
            # httpx would turn it into Basic auth sent to whoever answers (a redirect included).
            raise UrlNotAllowed("the URL must not carry a user name or password")
        port = url.port or (443 if url.scheme == "https" else 80)
        addresses = await resolve(host, port)
        # One bad address is enough to refuse: a name that also points inside is not a public name.
        for address in addresses:
            if not is_public(address) and not self.allowlist.allows(host, address):
                raise UrlNotAllowed(f"{host!r} resolves to {address}, which is not a public address")
        return addresses[0]

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        address = await self.checked_address(request.url)
        host = request.url.host
        # The Host header was set from the original URL when the request was built; only the socket moves.
        request.url = request.url.copy_with(host=str(address))
        if request.url.scheme == "https":
            request.extensions = {**request.extensions, "sni_hostname": host}
        return await self.inner.handle_async_request(request)

    async def aclose(self) -> None:
        await self.inner.aclose()


@dataclass
class Fetcher:
    """Downloads at most `max_bytes` from a URL, following at most `MAX_REDIRECTS` checked redirects."""

    allowlist: Allowlist = field(default_factory=Allowlist)
    max_bytes: int = 100 * 1024 * 1024
    connect_timeout_s: float = 10.0
    total_timeout_s: float = 60.0
    inner_transport: httpx.AsyncBaseTransport | None = None

    def __post_init__(self) -> None:
        self._client = httpx.AsyncClient(
            transport=PinnedTransport(self.allowlist, self.inner_transport),
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(self.total_timeout_s, connect=self.connect_timeout_s),
            headers={"User-Agent": "voxnote-serve"},
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    async def fetch(self, url: str, *, cover: Callable[[int], None] | None = None) -> tuple[bytes, str]:
        """The body and a file name taken from the final URL; typed errors for every refusal.

        `cover(total)` is called before `total` bytes are held (the declared length up front, then the
        running size), so the caller can refuse a download that would overfill its memory budget."""
        try:
            current = httpx.URL(url)
        except (httpx.InvalidURL, TypeError) as exc:
            raise UrlNotAllowed(f"not a valid URL: {exc}") from exc
        try:
            async with asyncio.timeout(self.total_timeout_s):
                for _ in range(MAX_REDIRECTS + 1):
                    async with self._client.stream("GET", current) as response:
                        if response.status_code in REDIRECT_STATUSES:
                            location = response.headers.get("location")
                            if not location:
                                raise FetchFailed(f"redirect {response.status_code} without a Location")
                            current = current.join(location)
                            continue
                        if response.status_code != 200:
                            raise FetchFailed(f"the file_url answered {response.status_code}")
                        return await self._read_capped(response, cover), _filename(current)
                raise FetchFailed(f"more than {MAX_REDIRECTS} redirects")
        except TimeoutError as exc:
            raise FetchFailed(f"downloading the file_url took longer than {self.total_timeout_s:g} s") from exc
        except httpx.InvalidURL as exc:
            raise UrlNotAllowed(f"not a valid URL: {exc}") from exc
        except httpx.HTTPError as exc:
            raise FetchFailed(f"couldn't download the file_url ({type(exc).__name__})") from exc

    async def _read_capped(self, response: httpx.Response, cover: Callable[[int], None] | None) -> bytes:
        declared_raw = response.headers.get("content-length")
        declared = int(declared_raw) if declared_raw and declared_raw.isdigit() else 0
        if declared > self.max_bytes:
            raise AudioTooLarge(f"the file at file_url is larger than {self.max_bytes} bytes")
        if cover is not None and declared:
            cover(declared)
        # One growing buffer: BytesIO hands its bytes over without a copy, where chunks + join held them twice.
        buffer = io.BytesIO()
        size = 0
        async for chunk in response.aiter_bytes(CHUNK):  # decoded: a gzip body is counted as it expands
            size += len(chunk)
            if size > self.max_bytes:
                raise AudioTooLarge(f"the file at file_url is larger than {self.max_bytes} bytes")
            if cover is not None:
                cover(size)
            buffer.write(chunk)
        return buffer.getvalue()


def _filename(url: httpx.URL) -> str:
    name = url.path.rsplit("/", 1)[-1]
    return name or "audio"
