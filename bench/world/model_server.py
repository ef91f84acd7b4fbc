"""The world behind an OpenAI-compatible chat endpoint on loopback, so that the real daemon
reaches the simulated models through litellm exactly as it would reach a provider.

It dispatches on the model name:

* ``world-task``: the world's task LM, with the request's system message as its instruction;
* ``world-reflection``: the world's reflection LM on the (single) user message, a cut-off reply
  reported with ``finish_reason="length"`` as a real API does;
* ``world-judge-oracle``: the world's judge, grading against the user's true preferences;
* ``world-judge-realistic``: a judge that knows only the comments and rubric items its prompt
  quotes (``realistic_judge``);
* either judge, asked to update a rubric (gepad's contract), answers as ``rubric`` does, and
  asked for a failure mode's rule, says the mode needs judgement.

Requests reach the world as text, so the server keeps a registry from each request's text to the
user's world and the example it is; request texts are made unique per user by the caller.
"""

from __future__ import annotations

import json
import re
import threading
from collections import Counter
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from bench.world.dataset import WorldExample
from bench.world.judge import Judgement
from bench.world.realistic_judge import read_grading_request
from bench.world.rubric import EXTRACTION_MARK, answer_extraction, quoted_blocks
from bench.world.world import World

TASK_MODEL = "world-task"
REFLECTION_MODEL = "world-reflection"
ORACLE_JUDGE = "world-judge-oracle"
REALISTIC_JUDGE = "world-judge-realistic"
JUDGE_MODELS = {"oracle": ORACLE_JUDGE, "realistic": REALISTIC_JUDGE}

RULE_MARK = "You turn one failure mode"  # gepad's request for a failure mode's rule
_DIMENSION_NAMES = re.compile(r'Grade each dimension \(([^)]*)\)')


class UnknownRequest(LookupError):
    """A request text the registry does not hold: the harness forgot to register it."""


@dataclass(frozen=True)
class Entry:
    world: World
    example: WorldExample


@dataclass(frozen=True)
class Answer:
    text: str
    finish_reason: str = "stop"


def _last_user_line(conversation: str) -> str:
    lines = [ln.removeprefix("user: ") for ln in conversation.splitlines()
             if ln.startswith("user: ")]
    return lines[-1] if lines else ""


def _verdict_json(verdict: Judgement, prompt: str) -> str:
    """gepad's judge contract: one score, or one per dimension when the prompt asks for them."""
    m = _DIMENSION_NAMES.search(prompt)
    if m is None:
        return json.dumps({"score": round(verdict.aggregate, 6), "feedback": verdict.feedback})
    names = re.findall(r'"([^"]+)"', m.group(1))
    return json.dumps({"dimensions": {
        n: {"score": round(verdict.scores.get(n, verdict.aggregate), 6),
            "feedback": verdict.feedback} for n in names
    }})


class WorldModelServer:
    """Use as a context manager; ``api_base`` is what a program's model settings point at."""

    def __init__(self) -> None:
        self._registry: dict[str, Entry] = {}
        self._lock = threading.Lock()
        self.calls: Counter[str] = Counter()  # per role: task, grading, rubric, reflection
        self.errors: Counter[str] = Counter()
        server = self

        class Handler(BaseHTTPRequestHandler):
            # Keep-alive: litellm's client reuses connections, as it would with a provider.
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                try:
                    answer = server.answer(str(body["model"]), body["messages"])
                except (UnknownRequest, KeyError) as exc:
                    server.errors[type(exc).__name__] += 1
                    self._send(400, {"error": {"message": f"world: {exc}", "type": "bench"}})
                    return
                self._send(200, {
                    "id": "chatcmpl-world", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": answer.finish_reason,
                                 "message": {"role": "assistant", "content": answer.text}}],
                    "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                })

            def _send(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    # ------------------------------------------------------------------ registry

    def register(self, text: str, world: World, example: WorldExample) -> None:
        with self._lock:
            known = self._registry.get(text)
            if known is not None and (known.world is not world or known.example != example):
                raise ValueError(f"request text registered twice for different examples: {text!r}")
            self._registry[text] = Entry(world, example)

    def lookup(self, text: str) -> Entry:
        entry = self._registry.get(text)
        if entry is None:
            raise UnknownRequest(f"unregistered request {text[:80]!r}")
        return entry

    # ------------------------------------------------------------------ answers

    def answer(self, model: str, messages: list[dict[str, str]]) -> Answer:
        system = next((m["content"] for m in messages if m["role"] == "system"), "")
        last_user = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
        if model == TASK_MODEL:
            self._count("task")
            entry = self.lookup(last_user)
            return Answer(entry.world.run_task(system, entry.example).text)
        if model == REFLECTION_MODEL:
            self._count("reflection")
            reply = self._reflection_world(last_user).reflect(last_user)
            return Answer(reply.text, "length" if reply.truncated else "stop")
        if model in (ORACLE_JUDGE, REALISTIC_JUDGE):
            if system.startswith(EXTRACTION_MARK):
                self._count("rubric")
                return Answer(answer_extraction(last_user))
            if system.startswith(RULE_MARK):
                # This world's preferences take judgement (no regex tells them): as a careful
                # model would, the judge says so, and gepad grades the mode with a judge item.
                self._count("rule")
                return Answer(json.dumps({"kind": "judge"}))
            self._count("grading")
            # The grading prompt is the first user message; retries append more after it.
            prompt = next(m["content"] for m in messages if m["role"] == "user")
            conversation, output, told = read_grading_request(prompt)
            entry = self.lookup(_last_user_line(conversation))
            if model == ORACLE_JUDGE:
                verdict = entry.world.judge(entry.example, output)
            else:
                verdict = entry.world.judge_told(told, entry.example, output)
            return Answer(_verdict_json(verdict, prompt))
        raise KeyError(f"unknown model {model!r}")

    def _reflection_world(self, prompt: str) -> World:
        """The world whose seed drives a reflection: that of the first quoted conversation (a
        merge prompt quotes none; any registered world's reflection LM behaves the same)."""
        for label, body in quoted_blocks(prompt):
            if label == "conversation":
                entry = self._registry.get(_last_user_line(body))
                if entry is not None:
                    return entry.world
        with self._lock:
            return next(iter(self._registry.values())).world

    def _count(self, role: str) -> None:
        with self._lock:
            self.calls[role] += 1

    # ------------------------------------------------------------------ lifecycle

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def __enter__(self) -> WorldModelServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
