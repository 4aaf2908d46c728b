# A fake OpenAI-compatible HTTP server for the LLM interop tests (stdlib only).
#
# POST /v1/chat/completions (plain JSON, or SSE with `stream: true`, the usage
# in a last chunk when `stream_options.include_usage` is set) and
# POST /v1/embeddings. Answers are scripted from the request, so every
# instrumentation sees the same conversation:
#   - tools offered and no tool result yet        -> tool call get_weather
#   - one tool result (get_weather) in the history -> tool call get_stock
#   - otherwise                                    -> the final text answer
# Token counts are fixed per step (USAGE below) so the tests can assert exact
# sums, with cached prompt tokens and reasoning tokens non-zero.
#
# Use: `with FakeOpenAI() as srv: srv.base_url` (http://127.0.0.1:PORT/v1), or
# run it alone: `python3 fake_openai.py [PORT]`.

import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

MODEL_ANSWERED = "gpt-4o-mini-2024-07-18"
EMBEDDING_MODEL_ANSWERED = "text-embedding-3-small"
USER_QUESTION = "What is the weather in Paris, and how is ACME stock doing?"
FINAL_ANSWER = "It is 18 degrees and sunny in Paris. I could not get the ACME stock price."
WEATHER_ARGS = '{"city": "Paris"}'
STOCK_ARGS = '{"symbol": "ACME"}'
WEATHER_CALL_ID = "call_weather_1"
STOCK_CALL_ID = "call_stock_1"

# step -> (prompt_tokens, cached_tokens, completion_tokens, reasoning_tokens)
USAGE = {
    "weather": (120, 64, 20, 0),
    "stock": (160, 128, 22, 0),
    "final": (210, 128, 30, 12),
}
EMBEDDING_TOKENS = 9


def expected_totals():
    """Sums over the three chat calls of one agent run, as the server reports them."""
    return {
        "input": sum(u[0] for u in USAGE.values()),
        "cache_read": sum(u[1] for u in USAGE.values()),
        "output": sum(u[2] for u in USAGE.values()),
        "reasoning": sum(u[3] for u in USAGE.values()),
        "embedding_input": EMBEDDING_TOKENS,
    }


def step_of(request):
    """Which scripted answer a chat request gets."""
    messages = request.get("messages") or []
    tool_results = [m for m in messages if m.get("role") == "tool"]
    if request.get("tools") and not tool_results:
        return "weather"
    if request.get("tools") and len(tool_results) == 1:
        return "stock"
    return "final"


def usage_of(step):
    prompt, cached, completion, reasoning = USAGE[step]
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
        "prompt_tokens_details": {"cached_tokens": cached, "audio_tokens": 0},
        "completion_tokens_details": {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        },
    }


def message_of(step):
    if step == "final":
        return {"role": "assistant", "content": FINAL_ANSWER, "refusal": None}, "stop"
    name, args, call_id = (
        ("get_weather", WEATHER_ARGS, WEATHER_CALL_ID)
        if step == "weather"
        else ("get_stock", STOCK_ARGS, STOCK_CALL_ID)
    )
    return {
        "role": "assistant",
        "content": None,
        "refusal": None,
        "tool_calls": [
            {"id": call_id, "type": "function", "function": {"name": name, "arguments": args}}
        ],
    }, "tool_calls"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "fake-openai/1"

    def log_message(self, fmt, *args):  # quiet
        pass

    def _json(self, status, body):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("x-request-id", "req_fake")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        if self.path.rstrip("/") == "/v1/models":
            return self._json(200, {"object": "list", "data": [{"id": MODEL_ANSWERED, "object": "model"}]})
        self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        try:
            request = json.loads(self.rfile.read(length) or b"{}")
        except ValueError:
            return self._json(400, {"error": {"message": "bad json", "type": "invalid_request_error"}})
        self.server.requests.append((self.path, request))
        path = self.path.split("?")[0].rstrip("/")
        if path.endswith("/chat/completions"):
            return self.chat(request)
        if path.endswith("/embeddings"):
            return self.embeddings(request)
        self._json(404, {"error": {"message": f"no route {self.path}", "type": "invalid_request_error"}})

    def embeddings(self, request):
        inputs = request.get("input")
        inputs = inputs if isinstance(inputs, list) else [inputs]
        data = [
            {"object": "embedding", "index": i, "embedding": [0.125, -0.25, 0.5, 0.0625]}
            for i in range(len(inputs))
        ]
        self._json(200, {
            "object": "list",
            "data": data,
            "model": EMBEDDING_MODEL_ANSWERED,
            "usage": {"prompt_tokens": EMBEDDING_TOKENS, "total_tokens": EMBEDDING_TOKENS},
        })

    def chat(self, request):
        step = step_of(request)
        message, finish = message_of(step)
        completion_id = f"chatcmpl-fake-{step}"
        created = int(time.time())
        if not request.get("stream"):
            return self._json(200, {
                "id": completion_id,
                "object": "chat.completion",
                "created": created,
                "model": MODEL_ANSWERED,
                "system_fingerprint": "fp_fake",
                "service_tier": "default",
                "choices": [{"index": 0, "message": message, "logprobs": None, "finish_reason": finish}],
                "usage": usage_of(step),
            })
        include_usage = bool((request.get("stream_options") or {}).get("include_usage"))
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.send_header("x-request-id", "req_fake")
        self.end_headers()
        self.close_connection = True

        def chunk(delta, finish_reason=None, usage=None, choices=True):
            body = {
                "id": completion_id,
                "object": "chat.completion.chunk",
                "created": created,
                "model": MODEL_ANSWERED,
                "system_fingerprint": "fp_fake",
                "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish_reason}]
                if choices
                else [],
            }
            if include_usage:
                body["usage"] = usage
            self.wfile.write(b"data: " + json.dumps(body).encode() + b"\n\n")
            self.wfile.flush()

        chunk({"role": "assistant", "content": ""})
        if step == "final":
            words = FINAL_ANSWER.split(" ")
            for i, word in enumerate(words):
                chunk({"content": word if i == 0 else " " + word})
        else:
            call = message["tool_calls"][0]
            chunk({"tool_calls": [{"index": 0, "id": call["id"], "type": "function",
                                   "function": {"name": call["function"]["name"], "arguments": ""}}]})
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": call["function"]["arguments"]}}]})
        chunk({}, finish_reason=finish)
        if include_usage:
            chunk(None, usage=usage_of(step), choices=False)
        self.wfile.write(b"data: [DONE]\n\n")
        self.wfile.flush()


class FakeOpenAI:
    """The server on 127.0.0.1 in a daemon thread; port 0 picks a free one."""

    def __init__(self, port=0):
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        self.httpd.requests = []
        self.port = self.httpd.server_address[1]
        self.base_url = f"http://127.0.0.1:{self.port}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    @property
    def requests(self):
        return self.httpd.requests

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


if __name__ == "__main__":
    srv = FakeOpenAI(int(sys.argv[1]) if len(sys.argv) > 1 else 0).start()
    print(srv.base_url, flush=True)
    try:
        srv.thread.join()
    except KeyboardInterrupt:
        srv.stop()
