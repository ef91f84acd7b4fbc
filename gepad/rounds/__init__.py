from gepad.rounds.examples import build_dataset
from gepad.rounds.llm_seams import LiteLLMSeams
from gepad.rounds.manager import RoundManager, SeamsFactory
from gepad.rounds.schedule import EvolutionScheduler

__all__ = ["EvolutionScheduler", "LiteLLMSeams", "RoundManager", "SeamsFactory", "build_dataset"]
