"""SIMULATED LLM, for ``gepad demo`` only: an OpenAI-compatible chat server on loopback that
plays the task model, the judge (and rubric keeper) and the reflection model with fixed rules,
so that a newcomer sees a whole round without an API key. Nothing in it is a model; the demo
says so wherever it shows its answers.

The rules of its little world:
* the task model pads every answer with small talk unless its system prompt asks for one
  sentence;
* the judge gives 1.0 to a one-sentence answer without small talk, 0.2 otherwise;
* the rubric keeper turns every comment about length or small talk, and a person's rewrite of
  the prompt, into one wish: one-sentence answers;
* the reflection model, shown feedback about length, adds "Answer in one sentence" to the text.

The daemon reaches it through litellm (``hosted_vllm/<model>`` at ``api_base``) exactly as it
would reach a local model server.
"""

from __future__ import annotations

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from .story import ANSWERS, chatty

__all__ = ["MODELS", "SimulatedLLM"]

TASK, JUDGE, REFLECTION = "simulated-task", "simulated-judge", "simulated-reflection"
MODELS = (TASK, JUDGE, REFLECTION)
RULE = "Answer in one sentence, without small talk."

_QUOTED = re.compile(r"\[(DATA-\w+) ([^\]\n]*)\]\n(.*?)\n\[/\1\]", re.S)
_ABOUT_LENGTH = re.compile(r"long|short|sentence|one line|chatty|filler|small talk|great question",
                           re.I)


def _quoted(text: str) -> list[tuple[str, str]]:
    """The (label, body) of each fenced data block of a gepad prompt."""
    return [(label, body) for _, label, body in _QUOTED.findall(text)]


def _one_sentence(text: str) -> bool:
    return text.count(". ") + text.count("! ") + text.count("? ") == 0 and \
        "great question" not in text.lower()


def task(messages: list[dict[str, str]]) -> str:
    system = next((m["content"] for m in messages if m["role"] == "system"), "")
    question = next((m["content"] for m in reversed(messages) if m["role"] == "user"), "")
    if "one sentence" in system.lower():
        return ANSWERS.get(question, "Here is the answer.")
    return chatty(question)


def judge(messages: list[dict[str, str]]) -> str:
    if messages[0]["content"].startswith("You maintain one user's rubric"):
        return rubric(messages[-1]["content"])
    prompt = messages[-1]["content"]
    output = next((body for label, body in _quoted(prompt) if label == "output to grade"), "")
    good = _one_sentence(output)
    score, feedback = (1.0, "One plain sentence, as this user wants.") if good else (
        0.2, "Padded with small talk and several sentences; this user wants one sentence.")
    dimensions = re.search(r"Grade each dimension \((.*?)\)", prompt)
    if dimensions:
        names = re.findall(r'"([^"]+)"', dimensions.group(1))
        return json.dumps({"dimensions": {n: {"score": score, "feedback": feedback}
                                          for n in names}})
    return json.dumps({"score": score, "feedback": feedback})


def rubric(prompt: str) -> str:
    blocks = _quoted(prompt)
    current = json.loads(next(body for label, body in blocks if label == "current rubric"))
    evidence = [e for item in current["items"] for e in item["evidence"]]
    for label, body in blocks:
        match = re.fullmatch(r"feedback (\S+) \((\w+)\)", label)
        if match and (match.group(2) == "prompt_edit" or _ABOUT_LENGTH.search(body)):
            evidence.append(match.group(1))
    if not evidence:
        return json.dumps({"items": []})
    return json.dumps({"items": [{
        "name": "one_sentence_answers", "scope": "all requests", "evidence": evidence,
        "description": "This user wants every answer in one plain sentence, without small talk.",
    }]})


def reflection(messages: list[dict[str, str]]) -> str:
    prompt = messages[-1]["content"]
    blocks = _quoted(prompt)
    current = next(body for label, body in blocks if label == "current text")
    said = " ".join(body for label, body in blocks if label != "current text")
    if RULE in current or not _ABOUT_LENGTH.search(said):
        new, why = current + " Put the answer first.", "The answers could lead with the point."
    else:
        new, why = f"{current} {RULE}", ("The user rejected padded answers and corrected them "
                                         "to a single sentence.")
    return f"{why}\n<<<BEGIN NEW TEXT>>>\n{new}\n<<<END NEW TEXT>>>"


_ROLES = {TASK: task, JUDGE: judge, REFLECTION: reflection}


class SimulatedLLM:
    """The server, on a free loopback port, in a daemon thread; a context manager."""

    def __init__(self) -> None:
        self.calls = 0

        llm = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                answer = _ROLES.get(body.get("model", ""))
                if answer is None:
                    self.send_error(404, f"the simulated LLM plays only {', '.join(MODELS)}")
                    return
                llm.calls += 1
                text = answer(body["messages"])
                data = json.dumps({
                    "id": f"simulated-{llm.calls}", "object": "chat.completion", "created": 0,
                    "model": body["model"],
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": text}}],
                    "usage": {"prompt_tokens": len(json.dumps(body["messages"])) // 4,
                              "completion_tokens": len(text) // 4,
                              "total_tokens": (len(json.dumps(body["messages"])) + len(text))
                              // 4},
                }).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True,
                                        name="gepad-demo-simulated-llm")

    @property
    def api_base(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def model(self, role: str) -> str:
        """The litellm model name of one role, for a program's model settings."""
        return f"hosted_vllm/{role}"

    def __enter__(self) -> SimulatedLLM:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
