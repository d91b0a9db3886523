"""The shared HTTP fetch: one httpx client, conditional GET, per-host politeness, size cap, clear failures."""

from __future__ import annotations

import email.utils
import json
import re
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit, urlunsplit
from urllib.request import getproxies

import httpx

from ..errors import FetchError, TooLargeError
from ..items import clean_text
from .base import Request, Response
from .inflate import decoded, read_capped


@dataclass(frozen=True)
class FetchLimits:
    """Per-request limits; built from settings and overridden per source."""

    timeout: float = 20.0
    max_bytes: int = 10_000_000
    headers: tuple[tuple[str, str], ...] = ()
    proxy: str | None = None
    max_redirects: int | None = None


@dataclass(frozen=True)
class Validators:
    """What the last 200 told us, sent back so an unchanged resource costs a 304 and no parsing."""

    etag: str | None = None
    last_modified: str | None = None


_SECRET_PARAM = re.compile(r"(key|token|secret|pass|sig|auth)", re.I)


# Of an error answer, this much is read for what it says (a portal's {"message": "Ошибки валидации: …"}).
ERROR_BODY_BYTES = 4096


def _head(chunks: Iterator[bytes], limit: int) -> bytes:
    out = b""
    for chunk in chunks:
        out += chunk
        if len(out) >= limit:
            break
    return out[:limit]


def error_detail(head: bytes) -> str:
    """What a JSON error body says (its message, error, detail or title), on one line; '' for anything else. The
    source's health then shows the portal's own words, not only a status code."""
    try:
        data = json.loads(head.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return ""
    for key in ("message", "error", "detail", "title") if isinstance(data, dict) else ():
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return clean_text(value, 300)
    return ""


def redact_url(url: str) -> str:
    """A URL safe for logs and the status page: no password, no secret-looking query values."""
    parts = urlsplit(url)
    netloc = parts.netloc
    if parts.password:
        netloc = netloc.replace(f":{parts.password}@", ":****@", 1)
    query = "&".join(
        f"{k}=****" if _SECRET_PARAM.search(k) else (f"{k}={v}" if v or "=" in pair else k)
        for pair in parts.query.split("&")
        if pair
        for k, _, v in [pair.partition("=")]
    )
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Retry-After as seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _capped(chunks: Iterator[bytes], cap: int, what: str) -> Iterator[bytes]:
    """Pass chunks through, failing once more than `cap` bytes came over the wire."""
    size = 0
    for chunk in chunks:
        size += len(chunk)
        if size > cap:
            raise TooLargeError(f"{what} exceeds the cap of {cap} bytes; stopped reading")
        yield chunk


_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*):")
# C0 controls and DEL: no URL holds them, and a Location holding them is garbage, not a place to go
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def refuse_odd_redirect(response: httpx.Response) -> None:
    """A response hook, run before httpx follows a redirect: only http and https are followed. httpx raised its
    InvalidURL (no HTTPError) on a Location of `javascript:` or `data:`, which ended `poll --once` with a traceback;
    `file:` and `ftp:` failed as an unsupported protocol of the source's own URL. Now each is this source's
    FetchError, saying what the server asked for."""
    if not response.has_redirect_location:
        return
    location = response.headers["Location"]
    origin = redact_url(str(response.request.url))
    scheme = _SCHEME.match(location.strip())
    if scheme and scheme.group(1).lower() not in ("http", "https"):
        name = scheme.group(1).lower()
        raise FetchError(f"redirect to a {name if len(name) <= 20 else name[:20] + '…'}: URL refused (from {origin})")
    shown = location if len(location) <= 100 else location[:100] + "…"
    try:  # what httpx does next (Client._redirect_url), with its InvalidURL caught here
        if _CONTROL.search(location) or re.search(r"\s", urlsplit(location).netloc):
            raise ValueError("control character or space in the URL")
        target = httpx.URL(location)
        if target.scheme and not target.host:
            target = target.copy_with(host=response.request.url.host)
        if target.is_relative_url:
            target = response.request.url.join(target)
    except (httpx.InvalidURL, ValueError) as exc:
        raise FetchError(f"redirect to an invalid URL refused (from {origin}): {shown!r}: {exc}") from None
    if target.scheme not in ("http", "https") or not target.host:
        raise FetchError(f"redirect to an invalid URL refused (from {origin}): {shown!r}")


class _Cookies(httpx.Cookies):
    """Cookies read from a response only when it sets one: httpx builds a urllib request for every response to let
    the cookie jar look at it (11 % of an unchanged source's poll), and nearly no feed or portal sets any."""

    def extract_cookies(self, response: httpx.Response) -> None:
        if "set-cookie" in response.headers:
            super().extract_cookies(response)


class _Client(httpx.Client):
    """httpx's client with _Cookies for its jar (a portal's session cookie is still kept and sent back)."""

    def __init__(self, **kwargs: Any) -> None:
        self._jar = _Cookies()
        super().__init__(**kwargs)

    @property
    def cookies(self) -> httpx.Cookies:
        return self._jar

    @cookies.setter
    def cookies(self, cookies: Any) -> None:
        self._jar = _Cookies(cookies)


@dataclass(frozen=True)
class Politeness:
    """How a host's gap adapts (docs/operations.md, "Politeness").

    `delay` is the gap between request starts while the host answers well. A 429 or 503 with a Retry-After pauses
    the whole host for that long; without one, only the source that got it backs off (the pipeline's exponential
    backoff), since a guessed host-wide pause would also hold back sources that are not failing. An answer slower
    than `slow` seconds (smoothed) earns the host a rest as long as it took, capped at `rest_max`. A pause longer
    than `max_wait` is not slept through: the request fails at once, unsent, with the time left as its retry_after,
    so each source backs off without asking."""

    delay: float = 0.0
    slow: float = 1.0
    rest_max: float = 30.0
    max_wait: float = 30.0


class _HostGate:
    """One host's politeness: a concurrency limit, a gap between starts, and the pause the host asked for."""

    def __init__(
        self, concurrency: int, policy: Politeness, sleep: Callable[[float], None], clock: Callable[[], float]
    ):
        self._sem = threading.Semaphore(concurrency)
        self._lock = threading.Lock()
        self._policy = policy
        self._next = 0.0  # earliest start of the next request
        self._latency: float | None = None  # smoothed response time, once there is one
        self._sleep = sleep
        self._clock = clock

    def enter(self, host: str) -> float:
        """Wait for our turn; returns the start time. Raises FetchError when the host's pause outlasts max_wait."""
        with self._lock:
            now = self._clock()
            wait = self._next - now
            if wait > self._policy.max_wait:
                raise FetchError(
                    f"{host} asked for a pause of {wait:.0f}s more (429/503); not asking it again before then",
                    retry_after=wait,
                )
            self._next = max(now, self._next) + self._policy.delay
        self._sem.acquire()
        if wait > 0:
            self._sleep(wait)
        return now + max(wait, 0.0)

    def leave(self, started: float, status: int | None, retry_after: float | None) -> None:
        """Adapt to the answer (`status` None: no answer; a timeout took its time and so counts as slow)."""
        self._sem.release()
        p = self._policy
        with self._lock:
            now = self._clock()
            if status in (429, 503) and retry_after is not None:
                self._next = max(self._next, now + retry_after)
                return
            took = now - started
            self._latency = took if self._latency is None else 0.7 * self._latency + 0.3 * took
            if self._latency > p.slow:
                self._next = max(self._next, now + min(self._latency, p.rest_max))


# A whole response may take this many times the per-read timeout.
WHOLE_RESPONSE_FACTOR = 3
# URLs whose parse the fetcher keeps (one per source and page; past this many they are all parsed afresh)
TARGETS_KEPT = 100_000


@dataclass(frozen=True)
class _Target:
    """A URL as each request needs it, worked out once per URL: httpx parsed the string twice at every request
    (6 % of an unchanged source's poll), and the log's redacted form and the host's gate once more each."""

    url: httpx.URL | str  # the string when httpx cannot parse it: the request then says what is wrong
    shown: str
    host: str


@dataclass(frozen=True)
class _Direct:
    """A client's connection pool, for requests that need nothing else of the client (Fetcher._open), and the
    client's own headers by lower-case name, as its build_request would merge them."""

    transport: httpx.BaseTransport
    headers: dict[str, tuple[str, str]]


class Fetcher:
    """Owns the HTTP clients (one per proxy) and the per-host gates; built once by the CLI and passed down."""

    def __init__(
        self,
        *,
        user_agent: str,
        per_host_concurrency: int = 2,
        per_host_delay: float = 1.0,
        politeness: Politeness | None = None,
        max_redirects: int = 5,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._ua = user_agent
        self._concurrency = per_host_concurrency
        self._politeness = replace(politeness or Politeness(), delay=per_host_delay)
        self._max_redirects = max_redirects
        self._transport = transport
        self._sleep = sleep
        self._clock = clock
        self._now = now
        self._clients: dict[tuple[str | None, int], httpx.Client] = {}
        self._direct: dict[tuple[str | None, int], _Direct | None] = {}
        self._redirecting: set[str] = set()  # URLs that answered with a redirect: always through the client
        self._gates: dict[str, _HostGate] = {}
        self._targets: dict[str, _Target] = {}
        self._lock = threading.Lock()

    def _client(self, proxy: str | None, max_redirects: int) -> tuple[httpx.Client, _Direct | None]:
        """One pooled client per proxy and redirect limit (httpx fixes both per client), and its pool to send to
        directly (None: a proxy, given or from the environment, which only the client routes to)."""
        key = (proxy, max_redirects)
        with self._lock:
            if key not in self._clients:
                # httpx mounts the environment's proxies (HTTP_PROXY...) only when given no transport of ours
                routed = proxy is not None or bool(getproxies())
                transport = self._transport or (None if routed else httpx.HTTPTransport())  # what httpx would build
                client = _Client(
                    headers={"User-Agent": self._ua, "Accept-Encoding": "gzip, deflate"},
                    follow_redirects=True,
                    max_redirects=max_redirects,
                    event_hooks={"response": [refuse_odd_redirect]},
                    transport=transport,
                    proxy=proxy,
                    timeout=20.0,
                )
                # as the client sends them: names in their case (items() gives them lower-cased)
                raw = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in client.headers.raw]
                direct = (
                    None if routed or transport is None else _Direct(transport, {k.lower(): (k, v) for k, v in raw})
                )
                self._clients[key], self._direct[key] = client, direct
            return self._clients[key], self._direct[key]

    def _gate(self, host: str) -> _HostGate:
        with self._lock:
            if host not in self._gates:
                self._gates[host] = _HostGate(self._concurrency, self._politeness, self._sleep, self._clock)
            return self._gates[host]

    def _target(self, url: str) -> _Target:
        with self._lock:
            known = self._targets.get(url)
        if known is not None:
            return known
        parsed: httpx.URL | str
        try:
            parsed = httpx.URL(url)
        except (httpx.InvalidURL, TypeError, ValueError):
            parsed = url
        target = _Target(parsed, redact_url(url), urlsplit(url).netloc.lower())
        with self._lock:
            if len(self._targets) >= TARGETS_KEPT:
                self._targets.clear()
                self._redirecting.clear()
            self._targets[url] = target
        return target

    def fetch(self, request: Request, limits: FetchLimits, validators: Validators = Validators()) -> Response:
        """GET with conditional headers; returns status 304 with no body when unchanged. Raises FetchError."""
        headers = dict(limits.headers)
        if validators.etag:
            headers["If-None-Match"] = validators.etag
        if validators.last_modified:
            headers["If-Modified-Since"] = validators.last_modified
        redirects = self._max_redirects if limits.max_redirects is None else limits.max_redirects
        client, direct = self._client(limits.proxy, redirects)
        url = request.url
        target = self._target(url)
        shown = target.shown
        gate = self._gate(target.host)
        start = gate.enter(target.host)
        status: int | None = None
        retry: float | None = None
        try:
            resp = self._open(client, direct, target, request, headers, limits.timeout)
            try:
                status = resp.status_code
                if resp.status_code == 304:
                    # read to its (empty, by HTTP's rule, which h11 holds the server to) end, or httpcore closes the
                    # connection rather than keep it: every unchanged source's poll opened a new TCP connection,
                    # and over HTTPS a new TLS handshake. Drained raw: read() set up a decoder for no bytes (5 % of
                    # the request)
                    for _ in resp.iter_raw():
                        pass
                    return Response(str(resp.url), 304, b"", dict(resp.headers))
                if resp.status_code >= 400:  # Retry-After matters on 429 and 503
                    retry = parse_retry_after(resp.headers.get("Retry-After"), self._now())
                    # raw bytes only: an error body is not worth inflating (nor a bomb's risk)
                    plain = resp.headers.get("Content-Encoding", "identity") == "identity"
                    said = error_detail(_head(resp.iter_raw(), ERROR_BODY_BYTES)) if plain else ""
                    raise FetchError(
                        f"HTTP {resp.status_code} from {redact_url(str(resp.url))}" + (f": {said}" if said else ""),
                        retry_after=retry,
                    )
                declared = resp.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > limits.max_bytes:
                    raise TooLargeError(f"response of {declared} bytes exceeds the cap of {limits.max_bytes} bytes")
                # httpx would inflate each wire chunk whole; we inflate in bounded pieces and cap every layer
                raw = _capped(
                    self._before(resp.iter_raw(), start, limits.timeout * WHOLE_RESPONSE_FACTOR, shown),
                    limits.max_bytes,
                    "response",
                )
                body = read_capped(
                    decoded(raw, resp.headers.get("Content-Encoding")), limits.max_bytes, "decompressed response"
                )
                return Response(str(resp.url), resp.status_code, body, dict(resp.headers))
            finally:
                resp.close()
        except httpx.TooManyRedirects as exc:
            raise FetchError(f"more than {redirects} redirects from {shown}") from exc
        except httpx.TimeoutException as exc:
            raise FetchError(f"timed out after {limits.timeout:g}s fetching {shown} ({type(exc).__name__})") from exc
        except (httpx.HTTPError, httpx.InvalidURL, httpx.CookieConflict, httpx.StreamError) as exc:
            # InvalidURL and the other two are no HTTPError: whatever httpx raises is this source's failure
            detail = str(exc).replace(url, shown)
            if limits.proxy:
                detail = detail.replace(limits.proxy, redact_url(limits.proxy))
            raise FetchError(f"{type(exc).__name__} fetching {shown}: {detail}") from exc
        finally:
            gate.leave(start, status, retry)

    def _open(
        self,
        client: httpx.Client,
        direct: _Direct | None,
        target: _Target,
        request: Request,
        headers: dict[str, str],
        timeout: float,
    ) -> httpx.Response:
        """The response, its body not read yet (the caller closes it). A plain GET (no query to merge, no cookie to
        send, no proxy, a URL that has not redirected) goes straight to the client's pool: httpx's client around it
        (its merging, auth and redirect steps and hooks) was a fifth of an unchanged source's request. A response
        setting a cookie puts it in the client's jar, and the source's later requests go through the client, which
        sends it. A redirect is not followed here: it is closed, and the request made again through the client,
        which follows it with the hook that refuses odd ones (the URL goes through the client from then on)."""
        url = target.url
        if direct is not None and isinstance(url, httpx.URL) and not request.params and not client.cookies:
            with self._lock:
                redirecting = request.url in self._redirecting
            if not redirecting:
                merged = dict(direct.headers)
                merged.update((name.lower(), (name, value)) for name, value in headers.items())
                sent = httpx.Request(
                    "GET",
                    url,
                    headers=list(merged.values()),
                    extensions={"timeout": {"connect": timeout, "read": timeout, "write": timeout, "pool": timeout}},
                )
                resp = direct.transport.handle_request(sent)
                resp.request = sent
                if not resp.has_redirect_location:
                    if "set-cookie" in resp.headers:
                        client.cookies.extract_cookies(resp)
                    return resp
                resp.close()
                with self._lock:
                    self._redirecting.add(request.url)
        # httpx replaces a URL's own query with `params`, even an empty list: pass them only when there are some
        sent = client.build_request("GET", url, params=list(request.params) or None, headers=headers, timeout=timeout)
        return client.send(sent, stream=True)

    def _before(self, chunks: Iterator[bytes], start: float, total: float, shown: str) -> Iterator[bytes]:
        """The timeout bounds each read; this bounds the whole response, or a server sending a byte a second
        would hold a poll for ever."""
        for chunk in chunks:
            if self._clock() - start > total:
                raise FetchError(
                    f"{shown} still sending after {total:g}s ({WHOLE_RESPONSE_FACTOR} x the timeout): cut off"
                )
            yield chunk

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()
            self._direct.clear()
