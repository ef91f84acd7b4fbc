"""A deterministic simulated world for optimizer benchmarks: users with hidden preferences, a task
LM that follows the rules its prompt states (with noise), a judge that explains violations, and a
reflection LM that turns those explanations into rules (imperfectly). No real LLM is involved."""

from bench.world.dataset import Day, Splits, WorldExample, generate, make_splits, make_stream
from bench.world.judge import Judgement, judge, observe
from bench.world.reflection import ReflectionNoise, ReflectionReply, lessons, reflect
from bench.world.task_lm import TaskReply, respond
from bench.world.users import CATALOG, User, make_user
from bench.world.vocab import KINDS, Directive, Kind, parse_directive, parse_directives
from bench.world.world import COMPONENT, SEED_PROMPT, Counters, World

__all__ = [
    "CATALOG",
    "COMPONENT",
    "KINDS",
    "SEED_PROMPT",
    "Counters",
    "Day",
    "Directive",
    "Judgement",
    "Kind",
    "ReflectionNoise",
    "ReflectionReply",
    "Splits",
    "TaskReply",
    "User",
    "World",
    "WorldExample",
    "generate",
    "judge",
    "lessons",
    "make_splits",
    "make_stream",
    "make_user",
    "observe",
    "parse_directive",
    "parse_directives",
    "reflect",
    "respond",
]
