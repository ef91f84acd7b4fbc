from gepad.evolution.dataset import build_dataset
from gepad.evolution.rounds import RoundManager, SeamsFactory
from gepad.evolution.schedule import EvolutionScheduler
from gepad.evolution.seams import LiteLLMSeams

__all__ = ["EvolutionScheduler", "LiteLLMSeams", "RoundManager", "SeamsFactory", "build_dataset"]
