"""A fake OpenAI-compatible chat server on 127.0.0.1: to test backends and served set-ups offline."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import numpy as np

from ._fake_llm import fake_text
from ._schema_faker import fake_from_schema

__all__ = ["FakeChatServer"]

_SCHEMA_IN_PROMPT = re.compile(r"JSON schema:\s*(\{.*\})\s*$", re.S)


class FakeChatServer:
    """An OpenAI-compatible ``/v1/chat/completions`` endpoint on a free loopback port.

    Each request is answered by the next entry of ``script`` when one is left: ``(status, text,
    finish_reason)``; a status other than 200 is returned as an error with that status (429 and 5xx are
    what clients retry). Otherwise a reply is made up: JSON valid for the request's schema (from its
    ``response_format`` or from schema instructions in its last message), else a short sentence.

    Use it as a context manager; :attr:`url` is the ``api_base`` (``http://127.0.0.1:PORT/v1``) and
    :attr:`requests` the request bodies received.

    Example:
        >>> with FakeChatServer(script=[(429, "", "stop"), (200, "Hello.", "stop")]) as server:  # doctest: +SKIP
        ...     llm = LiteLLMBackend("openai/fake", api_base=server.url, api_key="x")
    """

    def __init__(self, script: Sequence[tuple[int, str, str]] = (), *, seed: int = 0) -> None:
        self.script = list(script)
        self.seed = seed
        self.requests: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        where = self.url if self._server is not None else "not started"
        return (
            f"deeppersona.testing.FakeChatServer({where}, scripted={len(self.script)}, "
            f"requests={len(self.requests)})"
        )

    @property
    def url(self) -> str:
        """The base URL to give a client (``api_base``)."""
        if self._server is None:
            raise RuntimeError("FakeChatServer is not started; use it as a context manager")
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    def __enter__(self) -> FakeChatServer:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
                status, payload = outer._answer(body)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:  # quiet
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def _answer(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.requests.append(body)
            index = len(self.requests)
            step = self.script.pop(0) if self.script else None
        if step is not None and step[0] != 200:
            return step[0], {
                "error": {"message": f"scripted status {step[0]}", "type": "fake", "code": step[0]}
            }
        if step is not None:
            text, finish = step[1], step[2]
        else:
            text, finish = self._made_up(body, np.random.default_rng([self.seed, index])), "stop"
        tokens = max(1, len(text) // 4)
        return 200, {
            "id": f"fake-{index}",
            "object": "chat.completion",
            "created": 0,
            "model": str(body.get("model", "fake")),
            "choices": [
                {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
            ],
            "usage": {"prompt_tokens": 10, "completion_tokens": tokens, "total_tokens": 10 + tokens},
        }

    @staticmethod
    def _made_up(body: dict[str, Any], rng: np.random.Generator) -> str:
        schema = ((body.get("response_format") or {}).get("json_schema") or {}).get("schema")
        if schema is None:
            messages = body.get("messages") or [{}]
            found = _SCHEMA_IN_PROMPT.search(str(messages[-1].get("content", "")))
            schema = json.loads(found.group(1)) if found else None
        if schema is None:
            messages = body.get("messages") or [{}]
            return fake_text(str(messages[-1].get("content", "")), rng)
        return json.dumps(fake_from_schema(schema, rng), ensure_ascii=False)
