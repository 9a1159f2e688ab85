"""A backend of your own in about 30 lines: any OpenAI-compatible chat endpoint, standard library only.

A backend implements one method, ``send(request) -> RawReply``; deeppersona's LLM base class does the
rest (JSON validation against the response model, re-asks quoting the error, retries with backoff on
TransientFailure, cut-off replies never stored, usage per call site).

Run: python examples/custom_backend.py
     (talks to $CHAT_URL, e.g. http://127.0.0.1:8000/v1 of a vLLM or llama.cpp server, model $CHAT_MODEL;
     without CHAT_URL, or with DEEPPERSONA_EXAMPLES_FAST=1, to deeppersona.testing.FakeChatServer)
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import urllib.error
import urllib.request
from typing import Any

from deeppersona.errors import LLMRequestError
from deeppersona.llm import LLM, RawReply, Request, TransientFailure, with_schema_instructions


class ChatEndpoint(LLM):
    """Any OpenAI-compatible ``/chat/completions`` endpoint, through urllib."""

    def __init__(self, base_url: str, model: str) -> None:
        super().__init__()
        self.url, self.model = base_url.rstrip("/") + "/chat/completions", model

    async def prepare(self, request: Request) -> Request:  # optional: show the model the JSON schema
        if request.response_model in (None, str):
            return request
        return dataclasses.replace(
            request, messages=with_schema_instructions(request.messages, request.response_model)
        )

    async def send(self, request: Request) -> RawReply:
        body: dict[str, Any] = {"model": self.model, "messages": request.messages}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        return await asyncio.to_thread(self._post, body)

    def _post(self, body: dict[str, Any]) -> RawReply:
        req = urllib.request.Request(
            self.url, json.dumps(body).encode(), {"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(req, timeout=120) as response:
                data = json.load(response)
        except urllib.error.HTTPError as exc:
            if exc.code == 429 or exc.code >= 500:  # worth retrying: the base class backs off and retries
                raise TransientFailure(f"HTTP {exc.code}") from exc
            raise LLMRequestError(f"HTTP {exc.code} from {self.url}", model=self.model) from exc
        except (urllib.error.URLError, TimeoutError) as exc:
            raise TransientFailure(f"{self.url}: {exc}") from exc
        choice, usage = data["choices"][0], data.get("usage") or {}
        return RawReply(
            text=choice["message"]["content"] or "",
            finish_reason=choice.get("finish_reason"),
            prompt_tokens=int(usage.get("prompt_tokens") or 0),
            completion_tokens=int(usage.get("completion_tokens") or 0),
        )


def main() -> None:
    import deeppersona as dp
    from deeppersona.testing import FakeChatServer

    url = os.environ.get("CHAT_URL")
    if url and os.environ.get("DEEPPERSONA_EXAMPLES_FAST") != "1":
        run(dp, ChatEndpoint(url, os.environ.get("CHAT_MODEL", "default")))
        return
    with FakeChatServer(script=[(429, "", "stop")]) as server:  # one rate limit first: it is retried
        run(dp, ChatEndpoint(server.url, "fake"))
        print("requests the server saw:", len(server.requests))


def run(dp: Any, llm: ChatEndpoint) -> None:
    engine = dp.PersonaEngine.from_taxonomy("default", model=llm, embedder="hash").with_options(
        progress=False
    )
    persona = engine.cohort(country="Kenya").with_seed(3).generate(k=12)
    print(persona)
    print("status:", persona.status, "| calls:", llm.usage.total.calls, "| retries:", llm.usage.total.retries)


if __name__ == "__main__":
    main()
