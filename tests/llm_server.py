"""A loopback HTTP server that speaks the OpenAI chat-completions protocol (plain JSON and SSE
streaming), for testing the real `openai` client against each way a server can fail.

    with FakeChatServer() as server:
        server.mode = "stream"; server.reply = "..."
        base_url = server.base_url          # http://127.0.0.1:<port>/v1

Modes: "ok" (answers as asked: JSON, or SSE when the request says stream), "slow" (waits
`delay` seconds before answering), "stall" (sends one chunk, then waits `delay` seconds),
"401", "429", "500", "503", "malformed" (a body that is not JSON / not valid SSE), "empty"
(an answer with no text), "truncated_stream" (closes the connection mid-stream).
Every request body is kept in `requests` so tests can check what was sent.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class FakeChatServer:
    def __init__(self) -> None:
        self.mode = "ok"
        self.reply = "Hello."
        self.delay = 5.0
        self.requests: list[dict[str, Any]] = []
        self.headers: list[dict[str, str]] = []
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def __enter__(self) -> FakeChatServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:  # keep test output clean
                pass

            def _send(self, status: int, body: bytes, content_type: str = "application/json") -> None:
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def _error(self, status: int, message: str, kind: str) -> None:
                body = json.dumps({"error": {"message": message, "type": kind, "code": kind}}).encode()
                self._send(status, body)

            def do_GET(self) -> None:
                if self.path.endswith("/models"):
                    self._send(200, json.dumps({"object": "list", "data": [{"id": "fake", "object": "model"}]}).encode())
                else:
                    self._error(404, "not found", "not_found")

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw or b"{}")
                except ValueError:
                    body = {"_raw": raw.decode("utf-8", "replace")}
                server.requests.append(body)
                server.headers.append({k.lower(): v for k, v in self.headers.items()})
                mode = server.mode
                if mode in ("401", "429", "500", "503"):
                    kinds = {"401": "invalid_api_key", "429": "rate_limit_exceeded", "500": "server_error",
                             "503": "overloaded"}
                    self._error(int(mode), f"fake {mode}", kinds[mode])
                    return
                if mode == "slow":
                    time.sleep(server.delay)
                if mode == "malformed":
                    if body.get("stream"):
                        self.send_response(200)
                        self.send_header("Content-Type", "text/event-stream")
                        self.end_headers()
                        self.wfile.write(b"data: {not json at all\n\n")
                        self.wfile.flush()
                        self.close_connection = True
                    else:
                        self._send(200, b"<html>this is not json</html>")
                    return
                text = "" if mode == "empty" else server.reply
                if body.get("stream"):
                    self._stream(text, mode)
                else:
                    self._send(200, json.dumps(_completion(text)).encode())

            def _stream(self, text: str, mode: str) -> None:
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.send_header("Cache-Control", "no-cache")
                self.end_headers()
                self.close_connection = True
                words = [w + " " for w in text.split(" ")] if text else []
                if words:
                    words[-1] = words[-1].rstrip(" ")
                try:
                    self._event(_chunk({"role": "assistant", "content": ""}))
                    for i, word in enumerate(words):
                        self._event(_chunk({"content": word}))
                        if mode == "stall" and i == 0:
                            time.sleep(server.delay)
                        if mode == "truncated_stream" and i == len(words) // 2:
                            return  # the connection drops mid-answer
                    self._event(_chunk({}, finish="stop"))
                    self.wfile.write(b"data: [DONE]\n\n")
                    self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _event(self, data: dict[str, Any]) -> None:
                self.wfile.write(b"data: " + json.dumps(data).encode() + b"\n\n")
                self.wfile.flush()

        return Handler


def _completion(text: str) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "fake",
        "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
    }


def _chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-fake",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": "fake",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }
