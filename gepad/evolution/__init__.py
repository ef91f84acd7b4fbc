from gepad.evolution.dataset import build_dataset
from gepad.evolution.rounds import RoundManager, SeamsFactory
from gepad.evolution.seams import LiteLLMSeams

__all__ = ["LiteLLMSeams", "RoundManager", "SeamsFactory", "build_dataset"]
