"""What ``gepad demo`` plays: a user's story and a SIMULATED LLM standing in for real models."""

from .simulated_llm import SimulatedLLM
from .story import ANSWERS, EDIT_SENTENCE, FEEDBACK, SEED

__all__ = ["ANSWERS", "EDIT_SENTENCE", "FEEDBACK", "SEED", "SimulatedLLM"]
