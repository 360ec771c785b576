"""One signed POST of an event to an endpoint: timeouts, a capped response read, no redirects,
and in production no loopback, link-local or private destination (server-side request forgery)."""

from __future__ import annotations

import asyncio
import functools
import ipaddress
import socket
import ssl
import time
from dataclasses import dataclass

import httpx

from domain.webhooks import forbidden_address, signed_headers

CONNECT_SECONDS = 5.0
TOTAL_SECONDS = 15.0
RESPONSE_CAP = 4096


@dataclass(frozen=True, slots=True)
class Outcome:
    status_code: int | None
    error: str | None


class Refused(Exception):
    pass


async def resolve_allowed(host: str, port: int) -> str:
    """The address to connect to: every address the host resolves to must be public."""
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
        addresses = [ipaddress.ip_address(info[4][0]) for info in infos]
    else:
        addresses = [literal]
    if not addresses:
        raise Refused(f"{host} does not resolve")
    for address in addresses:
        if forbidden_address(address):
            raise Refused(f"{host} resolves to {address}, which is not a public address")
    return str(addresses[0])


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context every sender of the process shares: reading the CA bundle costs ~45 ms of CPU,
    once instead of at every start of a sender."""
    return httpx.create_ssl_context()


class Transport:
    def __init__(self, *, dev: bool, total_seconds: float = TOTAL_SECONDS) -> None:
        self.dev = dev
        self.total_seconds = total_seconds
        self.client = httpx.AsyncClient(
            verify=tls_context(),
            follow_redirects=False,
            timeout=httpx.Timeout(total_seconds, connect=min(CONNECT_SECONDS, total_seconds)),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
        )

    async def close(self) -> None:
        await self.client.aclose()

    async def post(self, url: str, secret: str, sequence: int, body: bytes) -> Outcome:
        headers = signed_headers(secret, sequence, int(time.time()), body)
        target = httpx.URL(url)
        extensions: dict[str, str] = {}
        try:
            async with asyncio.timeout(self.total_seconds):
                if not self.dev:
                    # Connect to the address that was checked, so a second lookup cannot swap it.
                    address = await resolve_allowed(target.host, target.port or 443)
                    headers["host"] = target.netloc.decode()
                    extensions["sni_hostname"] = target.host
                    target = target.copy_with(host=address)
                request = self.client.build_request(
                    "POST", target, content=body, headers=headers, extensions=extensions
                )
                response = await self.client.send(request, stream=True)
                try:
                    read = 0
                    async for chunk in response.aiter_raw():
                        read += len(chunk)
                        if read >= RESPONSE_CAP:
                            break
                finally:
                    await response.aclose()
        except Refused as exc:
            return Outcome(None, f"refused: {exc}")
        except TimeoutError:
            return Outcome(None, f"timed out after {self.total_seconds:g} s")
        except (httpx.HTTPError, OSError) as exc:
            return Outcome(None, f"{type(exc).__name__}: {exc}"[:500])
        return Outcome(response.status_code, None)
