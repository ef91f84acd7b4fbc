"""gepad's GEPA engine: storage-agnostic, async, steppable, exactly resumable."""

from .budget import Budget, Ledger, Reservation, Spend
from .config import EngineConfig, FrontierKind, ValScoring
from .dataset import Dataset
from .frontier import FrontierEntry, best_by_val, frontier_of, frontier_report
from .memory import (
    FunctionEvaluator,
    FunctionRunner,
    MemoryEvaluationStore,
    ScriptedReflectionLM,
)
from .merge import MergePlan, eligible_pairs, plan_merge
from .model import (
    CallFailure,
    Candidate,
    ChatMessage,
    EvalKey,
    Evaluation,
    Example,
    Origin,
    Split,
    Usage,
    candidate_id,
    content_hash,
)
from .pareto import Frontier, compute_frontier
from .promotion import PromotionDecision, PromotionResult, choose_promotion
from .reflection import Proposal, Record, build_reflection_prompt, parse_proposal
from .sampler import SamplerState, next_minibatch
from .scores import ScoreMatrix
from .seams import (
    EvaluationError,
    EvaluationStore,
    Evaluator,
    ReflectionLM,
    Reply,
    RunnerOutput,
    Seams,
    TaskRunner,
    Verdict,
)
from .state import EngineState, MergeState, add_candidates, new_round
from .step import Action, Event, StepResult, catch_up, step
from .strategies import (
    AtLeastBestParent,
    BeatsParent,
    ComponentChoice,
    ComponentsInTurn,
    MergeAcceptance,
    ParentChoice,
    ParetoWeighted,
    ReflectionAcceptance,
    Strategies,
)

__all__ = [
    "Action",
    "AtLeastBestParent",
    "BeatsParent",
    "Budget",
    "CallFailure",
    "Candidate",
    "ChatMessage",
    "ComponentChoice",
    "ComponentsInTurn",
    "Dataset",
    "EngineConfig",
    "EngineState",
    "EvalKey",
    "Evaluation",
    "EvaluationError",
    "EvaluationStore",
    "Evaluator",
    "Event",
    "Example",
    "Frontier",
    "FrontierEntry",
    "FrontierKind",
    "FunctionEvaluator",
    "FunctionRunner",
    "Ledger",
    "MemoryEvaluationStore",
    "MergeAcceptance",
    "MergePlan",
    "MergeState",
    "Origin",
    "ParentChoice",
    "ParetoWeighted",
    "PromotionDecision",
    "PromotionResult",
    "Proposal",
    "Record",
    "ReflectionAcceptance",
    "ReflectionLM",
    "Reply",
    "Reservation",
    "RunnerOutput",
    "SamplerState",
    "ScoreMatrix",
    "ScriptedReflectionLM",
    "Seams",
    "Spend",
    "Split",
    "StepResult",
    "Strategies",
    "TaskRunner",
    "Usage",
    "ValScoring",
    "Verdict",
    "add_candidates",
    "best_by_val",
    "build_reflection_prompt",
    "candidate_id",
    "catch_up",
    "choose_promotion",
    "compute_frontier",
    "content_hash",
    "eligible_pairs",
    "frontier_of",
    "frontier_report",
    "new_round",
    "next_minibatch",
    "parse_proposal",
    "plan_merge",
    "step",
]
