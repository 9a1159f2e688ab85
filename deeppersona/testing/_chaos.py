"""Fault injection against a real OpenAI-compatible server: a chaos proxy and a llama.cpp server runner.

:class:`ChaosProxy` listens on a loopback port and forwards HTTP requests to an upstream server (vLLM,
Ollama, llama.cpp's ``llama_cpp.server``...). By configured rates and a seed it answers some of them
itself with a fault instead: ``429`` with ``Retry-After``, ``500``, ``503``, ``401``, a reply delayed
beyond the client's timeout, a dropped connection, a malformed JSON body, a reply whose JSON content is
broken, or a reply whose content is cut off with ``finish_reason="length"``. The library reaches it
through LiteLLM exactly as a user reaches a self-hosted model::

    with LlamaCppServer("smollm2-135m") as server, ChaosProxy(server.url, rates=ChaosRates.transient(0.3)) as proxy:
        llm = LiteLLMBackend("openai/smollm2", api_base=proxy.base_url, api_key="none", structured="json_schema")

:class:`LlamaCppServer` runs ``python -m llama_cpp.server`` (extra ``llama-cpp-python[server]``) on a
packaged GGUF (``smollm2-135m`` by default: tiny, fast, nonsense values) in a subprocess, and can be
killed (``kill -9``) and restarted on the same port mid-run.

Both bind loopback addresses only, bound every wait, and stop everything they started on ``close()``
(also when used as context managers, and at interpreter exit for a forgotten server).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import ipaddress
import json
import logging
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import weakref
from collections import Counter
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from ..errors import ConfigError, MissingDependencyError

if TYPE_CHECKING:
    from ..persona import Persona

__all__ = [
    "FAULTS",
    "ChaosProxy",
    "ChaosRates",
    "ChaosStats",
    "LlamaCppServer",
    "FIXED_CORE",
    "stored_texts",
    "wrongly_ok",
]

logger = logging.getLogger(__name__)

FAULTS = (
    "rate_limit",
    "server_error",
    "unavailable",
    "timeout",
    "drop",
    "malformed_body",
    "malformed_json",
    "truncated",
    "unauthorized",
)
"""Every fault :class:`ChaosProxy` can inject (the field names of :class:`ChaosRates`)."""

_TRANSIENT = ("rate_limit", "server_error", "unavailable", "timeout", "drop")
_BAD_REPLIES = ("malformed_json", "truncated")
_NEEDS_UPSTREAM = ("malformed_json", "truncated")
_REASONS = {
    200: "OK",
    401: "Unauthorized",
    404: "Not Found",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}
_HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "proxy-connection", "te"}
_MAX_HEAD = 64 * 1024
_MAX_BODY = 64 * 1024 * 1024


@dataclass(frozen=True)
class ChaosRates:
    """Per-request probabilities of each fault (they must sum to at most 1; the rest pass through).

    Attributes:
        rate_limit: ``429`` with a ``Retry-After`` header.
        server_error: ``500`` with an OpenAI-style error body.
        unavailable: ``503`` with an OpenAI-style error body.
        timeout: No reply until ``ChaosProxy.timeout_delay`` has passed (beyond the client's timeout), then
            the connection is closed.
        drop: The connection is closed without a reply.
        malformed_body: ``200`` with a body that is not valid JSON (a cut-off chat-completion envelope).
        malformed_json: The upstream reply, with its message content made invalid JSON (cut off without
            saying so, or prose without JSON) and ``finish_reason="stop"``.
        truncated: The upstream reply, with its message content cut off (inside a string value where there
            is one) and ``finish_reason="length"``, as a server does when ``max_tokens`` runs out.
        unauthorized: ``401`` (a rejected API key); applies to every path, ``/models`` included.
    """

    rate_limit: float = 0.0
    server_error: float = 0.0
    unavailable: float = 0.0
    timeout: float = 0.0
    drop: float = 0.0
    malformed_body: float = 0.0
    malformed_json: float = 0.0
    truncated: float = 0.0
    unauthorized: float = 0.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
                raise ConfigError(f"ChaosRates.{f.name} must be a probability in [0, 1], got {value!r}")
        if self.total > 1.0 + 1e-9:
            raise ConfigError(f"ChaosRates sum to {self.total:.3f}; they must sum to at most 1")

    @property
    def total(self) -> float:
        """The probability that a request gets some fault."""
        return float(sum(getattr(self, f.name) for f in fields(self)))

    @classmethod
    def transient(cls, total: float) -> ChaosRates:
        """``total`` spread evenly over 429, 500, 503, timeouts and dropped connections."""
        share = float(total) / len(_TRANSIENT)
        return cls(**dict.fromkeys(_TRANSIENT, share))

    @classmethod
    def bad_replies(cls, total: float) -> ChaosRates:
        """``total`` spread evenly over malformed JSON content and truncated (``length``) replies."""
        share = float(total) / len(_BAD_REPLIES)
        return cls(**dict.fromkeys(_BAD_REPLIES, share))

    def as_dict(self) -> dict[str, float]:
        """The non-zero rates by fault name."""
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


@dataclass
class ChaosStats:
    """What a :class:`ChaosProxy` did so far (a snapshot from :attr:`ChaosProxy.stats`).

    Attributes:
        requests: Requests received.
        passed: Requests forwarded and answered unchanged.
        faults: Injected faults by name.
        upstream_errors: Requests answered ``502`` because the upstream server could not be reached.
        fragments: The partial string value at the cut of every truncated or cut-off reply (the text a
            careless parser would store: ``"Conf"`` for ``"Conformist"``), when the cut fell inside one.
    """

    requests: int = 0
    passed: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    upstream_errors: int = 0
    fragments: list[str] = field(default_factory=list)

    @property
    def injected(self) -> int:
        """Faults injected in all."""
        return sum(self.faults.values())


@dataclass
class _Request:
    method: str
    target: str
    version: str
    headers: list[tuple[str, str]]
    body: bytes

    def header(self, name: str) -> str | None:
        lname = name.lower()
        for key, value in self.headers:
            if key.lower() == lname:
                return value
        return None

    @property
    def keep_alive(self) -> bool:
        conn = (self.header("connection") or "").lower()
        if self.version == "HTTP/1.0":
            return conn == "keep-alive"
        return conn != "close"


def _check_loopback(host: str, what: str) -> None:
    if host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise ConfigError(f"{what} must be a loopback address (127.0.0.1, ::1 or localhost), got {host!r}")


class _Endpoint:
    """``url`` and ``base_url`` of something listening on ``host:port``."""

    host: str
    port: int

    @property
    def url(self) -> str:
        """``http://host:port`` (IPv6 hosts in brackets)."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL to give a client: :attr:`url` + ``/v1``."""
        return f"{self.url}/v1"


class ChaosProxy(_Endpoint):
    """A fault-injecting HTTP proxy in front of an OpenAI-compatible server, on a loopback port.

    The proxy runs its own event loop in a background thread, so synchronous code (``engine.generate``)
    and asynchronous code can both talk to it. Faults are drawn per request from ``rates`` with a
    ``random.Random(seed)``; the draw order follows the arrival order of requests.

    Args:
        upstream: The server's base URL, e.g. ``"http://127.0.0.1:8080"`` (a loopback address).
        rates: Fault probabilities; none by default (change them later with :meth:`set_rates`).
        seed: Seed of the fault draws.
        host: Loopback address to listen on.
        port: Port to listen on; 0 picks a free one (see :attr:`port` once started).
        retry_after: Seconds sent in the ``Retry-After`` header of a ``429``.
        timeout_delay: Seconds a ``timeout`` fault holds the connection before closing it; set it beyond
            the client's timeout.
        upstream_timeout: Seconds to wait for the upstream server's reply before answering ``502``.
        translate_json_schema: Rewrite ``response_format={"type": "json_schema", ...}`` into llama.cpp's
            ``{"type": "json_object", "schema": ...}`` (``llama_cpp.server`` knows only the latter), so
            that a client in JSON-schema mode gets grammar-constrained replies, as from vLLM.

    Example:
        >>> with ChaosProxy("http://127.0.0.1:8080", rates=ChaosRates(rate_limit=0.3), seed=1) as proxy:  # doctest: +SKIP
        ...     llm = LiteLLMBackend("openai/my-model", api_base=proxy.base_url, api_key="none")
    """

    def __init__(
        self,
        upstream: str,
        *,
        rates: ChaosRates | None = None,
        seed: int = 0,
        host: str = "127.0.0.1",
        port: int = 0,
        retry_after: float = 1.0,
        timeout_delay: float = 30.0,
        upstream_timeout: float = 600.0,
        translate_json_schema: bool = True,
    ) -> None:
        parts = urlsplit(upstream)
        if parts.scheme != "http" or not parts.hostname or parts.port is None:
            raise ConfigError(f"upstream must be an http://host:port URL, got {upstream!r}")
        _check_loopback(parts.hostname, "the upstream host")
        _check_loopback(host, "host")
        if retry_after < 0 or timeout_delay < 0 or upstream_timeout <= 0:
            raise ConfigError("retry_after and timeout_delay must be >= 0 and upstream_timeout > 0")
        self.upstream = upstream.rstrip("/")
        self.upstream_host = parts.hostname
        self.upstream_port = int(parts.port)
        self.upstream_prefix = parts.path.rstrip("/")
        self.rates = rates if rates is not None else ChaosRates()
        self.seed = seed
        self.host = host
        self.port = int(port)
        self.retry_after = float(retry_after)
        self.timeout_delay = float(timeout_delay)
        self.upstream_timeout = float(upstream_timeout)
        self.translate_json_schema = translate_json_schema
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._stats = ChaosStats()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._tasks: set[asyncio.Task[Any]] = set()
        self._queue: list[str | None] = []

    # -- public --------------------------------------------------------------------------------------

    @property
    def stats(self) -> ChaosStats:
        """A snapshot of what the proxy did so far."""
        with self._lock:
            s = self._stats
            return ChaosStats(s.requests, s.passed, Counter(s.faults), s.upstream_errors, list(s.fragments))

    def reset_stats(self) -> None:
        """Forget the counts so far."""
        with self._lock:
            self._stats = ChaosStats()

    def set_rates(self, rates: ChaosRates) -> None:
        """Change the fault rates (takes effect from the next request)."""
        if not isinstance(rates, ChaosRates):
            raise ConfigError(f"rates must be ChaosRates, got {type(rates).__name__}")
        with self._lock:
            self.rates = rates

    def inject(self, *faults: str | None) -> None:
        """Queue faults for the next requests, in order, before the random draws resume.

        ``None`` lets one request pass. Only faults that fit a request are injected: a queued fault other
        than ``"unauthorized"`` waits for the next chat-completion request.

        Raises:
            ConfigError: An unknown fault name.
        """
        unknown = [f for f in faults if f is not None and f not in FAULTS]
        if unknown:
            raise ConfigError(f"unknown fault(s) {unknown}; known: {', '.join(FAULTS)}")
        with self._lock:
            self._queue.extend(faults)

    def start(self, timeout: float = 10.0) -> ChaosProxy:
        """Start listening (in a background thread); returns the proxy. Idempotent."""
        if self._thread is not None:
            return self
        self._ready.clear()
        self._error = None
        self._thread = threading.Thread(target=self._run, name="deeppersona-chaos-proxy", daemon=True)
        self._thread.start()
        if not self._ready.wait(timeout):
            self.close()
            raise RuntimeError(f"the chaos proxy did not start within {timeout:.0f}s")
        if self._error is not None:
            error = self._error
            self.close()
            raise RuntimeError(f"the chaos proxy could not start: {error}") from error
        logger.debug("chaos proxy on %s -> %s, rates %s", self.url, self.upstream, self.rates.as_dict())
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Stop listening and close every connection (a held ``timeout`` fault included). Idempotent."""
        thread, loop, stopping = self._thread, self._loop, self._stopping
        if thread is None:
            return
        if loop is not None and stopping is not None and not loop.is_closed():
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(stopping.set)
        thread.join(timeout)
        if thread.is_alive():  # pragma: no cover - a stuck loop; the thread is a daemon
            logger.warning("the chaos proxy thread did not stop within %.0fs", timeout)
        self._thread = None

    def __enter__(self) -> ChaosProxy:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = self.url if self._thread is not None else "stopped"
        return f"ChaosProxy({state} -> {self.upstream}, rates={self.rates.as_dict()}, seed={self.seed})"

    # -- event loop ------------------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported to start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping = asyncio.Event()
        server = await asyncio.start_server(self._serve, self.host, self.port, limit=_MAX_HEAD)
        self.port = int(server.sockets[0].getsockname()[1])
        self._ready.set()
        try:
            await self._stopping.wait()
        finally:
            server.close()
            for task in list(self._tasks):
                task.cancel()
            if self._tasks:
                await asyncio.gather(*self._tasks, return_exceptions=True)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(server.wait_closed(), 5.0)

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None:
                    break
                if not await self._handle(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass  # the client went away or sent garbage: close
        except asyncio.CancelledError:
            pass  # the proxy is stopping
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
            if task is not None:
                self._tasks.discard(task)

    def _draw(self, request: _Request) -> str | None:
        completion = request.method == "POST" and request.target.split("?")[0].endswith("completions")
        with self._lock:
            self._stats.requests += 1
            if self._queue and (completion or self._queue[0] == "unauthorized"):
                return self._queue.pop(0)
            rates = self.rates
            u = self._rng.random()
        acc = 0.0
        for name in FAULTS:
            acc += getattr(rates, name)
            if u < acc:
                if name == "unauthorized" or completion:
                    return name
                return None  # only auth faults hit non-completion paths (/models)
        return None

    def _count(self, fault: str | None, fragment: str | None = None) -> None:
        with self._lock:
            if fault is None:
                self._stats.passed += 1
            else:
                self._stats.faults[fault] += 1
            if fragment:
                self._stats.fragments.append(fragment)

    async def _handle(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; return whether to keep the connection open."""
        fault = self._draw(request)
        if fault == "drop":
            self._count(fault)
            return False
        if fault == "timeout":
            self._count(fault)
            await asyncio.sleep(self.timeout_delay)
            return False
        if fault in ("rate_limit", "server_error", "unavailable", "unauthorized"):
            self._count(fault)
            status = {"rate_limit": 429, "server_error": 500, "unavailable": 503, "unauthorized": 401}[fault]
            extra = [("Retry-After", _format_seconds(self.retry_after))] if fault == "rate_limit" else []
            await _respond(writer, status, _error_body(status, f"chaos proxy: injected {fault}"), extra,
                           keep_alive=request.keep_alive)  # fmt: skip
            return request.keep_alive
        if fault == "malformed_body":
            self._count(fault)
            body = b'{"id": "chatcmpl-chaos", "object": "chat.completion", "choices": [{"index": 0, "mess'
            await _respond(writer, 200, body, keep_alive=request.keep_alive)
            return request.keep_alive
        status, headers, body = await self._forward(request)
        fragment = None
        if fault in _NEEDS_UPSTREAM and status == 200:
            mangled = self._mangle(body, fault)
            if mangled is None:
                fault = None  # nothing to mangle (not a chat completion): passed through
            else:
                body, fragment = mangled
        elif fault in _NEEDS_UPSTREAM:
            fault = None
        self._count(fault, fragment)
        await _respond(writer, status, body, headers, keep_alive=request.keep_alive)
        return request.keep_alive

    async def _forward(self, request: _Request) -> tuple[int, list[tuple[str, str]], bytes]:
        """Send ``request`` to the upstream server; a ``502`` when it cannot be reached or answer."""
        body = request.body
        if self.translate_json_schema and body:
            body = _translate_json_schema(body)
        target = self.upstream_prefix + request.target
        head = [f"{request.method} {target} HTTP/1.1", f"Host: {self.upstream_host}:{self.upstream_port}"]
        head += [f"{k}: {v}" for k, v in request.headers if k.lower() not in _HOP_BY_HOP | {"host"}]
        head += [f"Content-Length: {len(body)}", "Connection: close", "", ""]
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(self.upstream_host, self.upstream_port), 10.0
            )
        except (OSError, asyncio.TimeoutError) as exc:
            return self._upstream_error(f"upstream unreachable: {exc}")
        try:
            writer.write("\r\n".join(head).encode("latin-1") + body)
            await writer.drain()
            raw = await asyncio.wait_for(reader.read(-1), self.upstream_timeout)
        except (OSError, asyncio.TimeoutError) as exc:
            return self._upstream_error(f"upstream failed: {exc!r}")
        finally:
            writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(writer.wait_closed(), 1.0)
        try:
            return _parse_response(raw)
        except ValueError as exc:
            return self._upstream_error(f"upstream sent a broken reply: {exc}")

    def _upstream_error(self, message: str) -> tuple[int, list[tuple[str, str]], bytes]:
        with self._lock:
            self._stats.upstream_errors += 1
        logger.debug("chaos proxy: %s", message)
        return 502, [("Content-Type", "application/json")], _error_body(502, message)

    def _mangle(self, body: bytes, fault: str) -> tuple[bytes, str | None] | None:
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            content = choice["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            return None
        if not isinstance(content, str):
            return None
        with self._lock:
            u, prose = self._rng.random(), self._rng.random() < 0.3
        if fault == "malformed_json" and prose:
            choice["message"]["content"] = "Sure! Here is the profile you asked for, as requested."
            choice["finish_reason"] = "stop"
            return json.dumps(data).encode(), None
        cut, fragment = _cut_point(content, u)
        choice["message"]["content"] = content[:cut]
        choice["finish_reason"] = "length" if fault == "truncated" else "stop"
        return json.dumps(data).encode(), fragment


def _cut_point(content: str, u: float) -> tuple[int, str | None]:
    """Where to cut ``content`` (inside a string value when it has one) and the partial string at the cut."""
    spans: list[tuple[int, int]] = []  # (start, end) of each string's text, quotes excluded
    start = -1
    escaped = False
    for i, char in enumerate(content):
        if start >= 0:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                spans.append((start, i))
                start = -1
        elif char == '"':
            start = i + 1
    values = [(a, b) for a, b in spans if b - a >= 4 and content[b + 1 : b + 40].lstrip()[:1] != ":"]
    if not values:
        return max(1, int(len(content) * (0.3 + 0.5 * u))), None
    a, b = values[min(len(values) - 1, int(u * len(values)))]
    cut = a + max(2, (b - a) // 2)  # at least two characters in, never the whole value
    return cut, content[a:cut]


def _translate_json_schema(body: bytes) -> bytes:
    try:
        data = json.loads(body)
    except ValueError:
        return body
    fmt = data.get("response_format") if isinstance(data, dict) else None
    if not isinstance(fmt, dict) or fmt.get("type") != "json_schema":
        return body
    schema = (fmt.get("json_schema") or {}).get("schema")
    data["response_format"] = {"type": "json_object", **({"schema": schema} if schema else {})}
    return json.dumps(data).encode()


def _format_seconds(seconds: float) -> str:
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:g}"


def _error_body(status: int, message: str) -> bytes:
    kind = {401: "invalid_request_error", 429: "rate_limit_exceeded"}.get(status, "server_error")
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode()


async def _respond(
    writer: asyncio.StreamWriter,
    status: int,
    body: bytes,
    headers: list[tuple[str, str]] | None = None,
    *,
    keep_alive: bool = True,
) -> None:
    lines = [f"HTTP/1.1 {status} {_REASONS.get(status, 'Status')}"]
    names = {k.lower() for k, _ in headers or []}
    lines += [f"{k}: {v}" for k, v in headers or [] if k.lower() not in _HOP_BY_HOP]
    if "content-type" not in names:
        lines.append("Content-Type: application/json")
    lines += [
        f"Content-Length: {len(body)}",
        f"Connection: {'keep-alive' if keep_alive else 'close'}",
        "",
        "",
    ]
    writer.write("\r\n".join(lines).encode("latin-1") + body)
    await writer.drain()


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    """Read one HTTP/1.1 request; ``None`` at a clean end of the connection."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError as exc:
        if not exc.partial.strip():
            return None
        raise
    lines = head.decode("latin-1").split("\r\n")
    method, target, version = lines[0].split(" ", 2)
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    request = _Request(method, target, version.strip(), headers, b"")
    if (request.header("transfer-encoding") or "").lower() == "chunked":
        request.body = await _read_chunked(reader)
    else:
        length = int(request.header("content-length") or 0)
        if not 0 <= length <= _MAX_BODY:
            raise ValueError("bad content-length")
        request.body = await reader.readexactly(length) if length else b""
    return request


async def _read_chunked(reader: asyncio.StreamReader) -> bytes:
    out = bytearray()
    while True:
        size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip() or b"0", 16)
        if size == 0:
            await reader.readuntil(b"\r\n")  # trailer end (no trailers expected)
            return bytes(out)
        if len(out) + size > _MAX_BODY:
            raise ValueError("body too large")
        out += await reader.readexactly(size)
        await reader.readexactly(2)


def _parse_response(raw: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
    head, sep, body = raw.partition(b"\r\n\r\n")
    if not sep:
        raise ValueError("no complete header")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/"):
        raise ValueError(f"bad status line {lines[0][:80]!r}")
    status = int(parts[1])
    headers = [(k.strip(), v.strip()) for k, _, v in (line.partition(":") for line in lines[1:] if line)]
    values = {k.lower(): v for k, v in headers}
    if values.get("transfer-encoding", "").lower() == "chunked":
        body = _dechunk(body)
    elif "content-length" in values and len(body) < int(values["content-length"]):
        raise ValueError("the reply ended early")
    return status, headers, body


def _dechunk(data: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        end = data.find(b"\r\n", pos)
        if end < 0:
            raise ValueError("a chunked reply ended early")
        size = int(data[pos:end].split(b";")[0].strip() or b"0", 16)
        if size == 0:
            return bytes(out)
        out += data[end + 2 : end + 2 + size]
        if end + 2 + size > len(data):
            raise ValueError("a chunked reply ended early")
        pos = end + 2 + size + 2


# ---------------------------------------------------------------------------------------------- server
_SERVER_MODULES = (
    "llama_cpp",
    "uvicorn",
    "fastapi",
    "sse_starlette",
    "starlette_context",
    "pydantic_settings",
)


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _kill(process: subprocess.Popen[bytes]) -> None:
    """Kill ``process`` (and its process group) at once; for finalizers."""
    if process.poll() is None:
        with contextlib.suppress(OSError):
            os.killpg(process.pid, signal.SIGKILL)
        with contextlib.suppress(OSError):
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)


class LlamaCppServer(_Endpoint):
    """``python -m llama_cpp.server`` on a packaged GGUF, in a subprocess on a loopback port.

    Needs the extra ``llama-cpp-python[server]``. The port stays the same across :meth:`kill` and
    :meth:`start`, so a client (or a :class:`ChaosProxy`) pointed at it sees a server that went away and
    came back. The server's log goes to a temporary file (its tail is quoted when it fails to start).

    Args:
        model: A name of ``registry`` (``"smollm2-135m"``) or the path of a GGUF file.
        alias: The model name the server answers to (``"openai/<alias>"`` in LiteLLM).
        host: Loopback address to listen on.
        port: Port; 0 picks a free one.
        n_ctx: Context window.
        n_threads: CPU threads (1 is fastest on a busy machine).
        startup_timeout: Seconds to wait for the server to answer ``GET /v1/models``.
        registry: The model registry (packaged defaults when ``None``).

    Raises:
        MissingDependencyError: The server extra is not installed (on :meth:`start`).
    """

    def __init__(
        self,
        model: str | Path = "smollm2-135m",
        *,
        alias: str = "smollm2",
        host: str = "127.0.0.1",
        port: int = 0,
        n_ctx: int = 4096,
        n_threads: int = 1,
        startup_timeout: float = 120.0,
        registry: Any = None,
    ) -> None:
        _check_loopback(host, "host")
        if n_ctx < 256 or n_threads < 1 or startup_timeout <= 0:
            raise ConfigError("n_ctx must be >= 256, n_threads >= 1 and startup_timeout > 0")
        self.model = model
        self.alias = alias
        self.host = host
        self.port = int(port) or _free_port(host)
        self.n_ctx = int(n_ctx)
        self.n_threads = int(n_threads)
        self.startup_timeout = float(startup_timeout)
        self.registry = registry
        self.starts = 0
        self._process: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        self._logdir = tempfile.TemporaryDirectory(prefix="deeppersona-llama-server-")
        self.log_path = Path(self._logdir.name) / "server.log"

    @staticmethod
    def available() -> bool:
        """Whether ``llama_cpp.server`` and its dependencies are installed."""
        return all(importlib.util.find_spec(name) is not None for name in _SERVER_MODULES)

    @property
    def pid(self) -> int | None:
        """The server process id while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None

    def model_path(self) -> Path:
        """The GGUF file the server loads."""
        if isinstance(self.model, Path) or (isinstance(self.model, str) and self.model.endswith(".gguf")):
            return Path(self.model)
        from ..llm._registry import ModelRegistry

        registry = self.registry if self.registry is not None else ModelRegistry()
        return Path(registry.path(str(self.model)))

    def start(self) -> LlamaCppServer:
        """Start the server and wait until it answers; returns the server. Idempotent while it runs."""
        if self.pid is not None:
            return self
        if not self.available():
            raise MissingDependencyError(
                "the llama.cpp server needs the extra: pip install 'llama-cpp-python[server]'"
            )
        path = self.model_path()
        command = [
            sys.executable, "-m", "llama_cpp.server", "--model", str(path), "--model_alias", self.alias,
            "--host", self.host, "--port", str(self.port), "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads), "--n_threads_batch", str(self.n_threads), "--verbose", "False",
        ]  # fmt: skip
        with open(self.log_path, "ab") as log:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self._finalizer = weakref.finalize(self, _kill, self._process)
        self.starts += 1
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                tail = self._log_tail()
                self._process = None
                raise RuntimeError(f"the llama.cpp server exited at start-up:\n{tail}")
            if self._answers():
                logger.debug("llama.cpp server %s up (pid %d)", self.url, self._process.pid)
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"the llama.cpp server did not answer within {self.startup_timeout:.0f}s")

    def kill(self) -> None:
        """``kill -9`` the server (as a crash would), and wait for it to be gone."""
        process, self._process = self._process, None
        if process is not None:
            _kill(process)
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None

    def restart(self) -> LlamaCppServer:
        """Kill the server and start it again on the same port."""
        self.kill()
        return self.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (``SIGTERM``, then ``SIGKILL`` after ``timeout``). Idempotent."""
        process = self._process
        if process is not None and process.poll() is None:
            with contextlib.suppress(OSError):
                os.killpg(process.pid, signal.SIGTERM)
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout)
        self.kill()

    def close(self) -> None:
        """Stop the server and remove its log directory."""
        self.stop()
        self._logdir.cleanup()

    def __enter__(self) -> LlamaCppServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LlamaCppServer({self.model!s}, {self.url}, pid={self.pid})"

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base_url}/models", timeout=2.0) as reply:
                return bool(reply.status == 200)
        except (urllib.error.URLError, OSError, ValueError):
            return False

    def _log_tail(self, lines: int = 20) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"


def stored_texts(persona: Persona) -> set[str]:
    """Every text a persona stores (core chain, attribute values, narrative), stripped: to check that no
    fragment of a cut-off reply (see :attr:`ChaosStats`) was stored."""
    out: set[str] = set()

    def walk(value: Any) -> None:
        if isinstance(value, str):
            out.add(value.strip())
        elif isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, (list, tuple)):
            for item in value:
                walk(item)

    walk(persona.model_dump(include={"core", "attributes", "narrative"}))
    return out


def wrongly_ok(persona: Persona, k: int) -> bool:
    """Whether ``persona`` says ``ok`` while it is not complete (missing parts, fewer than ``k`` selected
    attributes, or an empty core field): what a fault suite must never see."""
    if not persona.ok:
        return False
    core = persona.core.model_dump() if persona.core is not None else {}
    return bool(persona.missing) or len(persona.selected) < k or not all(core.values())


FIXED_CORE: dict[str, Any] = {
    "values": "honesty, hard work and loyalty to family",
    "attitude": "Life is hard but worth the effort.",
    "attitude_details": "She gets up early, keeps a strict budget and helps her sister with rent every month.",
    "coping": "She walks for an hour when things go wrong.",
    "life_stories": ["She lost her job at the mill in 2015 and retrained as a bookkeeper at night school."],
    "interests": ["long evening walks", "crossword puzzles"],
}
"""Anchors for a whole core chain that passes its checks: for fault tests on a tiny model (smollm2-135m)
that cannot write one, so that what is measured is the fault handling."""
