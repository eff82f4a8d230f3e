"""A small OpenAI-compatible chat completion server for the tests (aiohttp, 127.0.0.1, port 0).

It runs on a thread of its own so the blocking client under test can call it from the test's
thread. It checks the bearer token and the request body, records every body it accepts, and
answers a fixed completion. The requested ``model`` picks a misbehaviour: ``"broken"`` answers
500, ``"garbled"`` answers a body without choices, ``"slow"`` answers after a second.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from aiohttp import web

API_KEY = "sk-test-secret-0123"
REPLY = "42 (from the chat model)"


class ChatServer:
    """The server; use it as a context manager. ``base_url`` ends in ``/v1``."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.base_url = ""
        self._loop = asyncio.new_event_loop()
        self._runner: web.AppRunner | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)

    async def _completions(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "")
        if given != f"Bearer {API_KEY}":
            # Quotes the refused key, as some servers do: the client must not pass it on.
            message = f"invalid api key {given.removeprefix('Bearer ')}"
            return web.json_response({"error": {"message": message}}, status=401)
        body = await request.json()
        if set(body) != {"model", "messages", "temperature", "max_tokens"} or not all(
            set(message) == {"role", "content"} for message in body["messages"]
        ):
            return web.json_response({"error": {"message": f"bad body {body}"}}, status=400)
        if body["model"] == "broken":
            return web.json_response({"error": {"message": "upstream exploded"}}, status=500)
        if body["model"] == "garbled":
            return web.json_response({"choices": []})
        if body["model"] == "slow":
            await asyncio.sleep(1)
        self.requests.append(body)
        return web.json_response(
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "model": body["model"],
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": REPLY},
                        "finish_reason": "stop",
                    }
                ],
            }
        )

    async def _start(self) -> str:
        app = web.Application()
        app.router.add_post("/v1/chat/completions", self._completions)
        self._runner = web.AppRunner(app, shutdown_timeout=0.1)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        return f"http://127.0.0.1:{port}/v1"

    def __enter__(self) -> ChatServer:
        self._thread.start()
        self.base_url = asyncio.run_coroutine_threadsafe(self._start(), self._loop).result(10)
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def config(self, **overrides: Any) -> dict[str, Any]:
        """A complete chat client configuration pointing here."""
        config: dict[str, Any] = {
            "model": "gpt-test",
            "api_key": API_KEY,
            "base_url": self.base_url,
            "temperature": 0.2,
            "max_tokens": 64,
        }
        config.update(overrides)
        return config
