"""Adapter plugins: the API they implement, how they are found, and the host that delivers every
served-prompt change to them."""

from gepad.adapters.config import TargetConfig, parse_targets
from gepad.adapters.edits import EditIntake, EditOutcome
from gepad.adapters.host import DeliveryHost, TargetStatus
from gepad.adapters.protocols import (
    API_VERSION,
    AdapterFactory,
    AdapterSetup,
    Delivery,
    DeliveryTarget,
    EditChannel,
    EditWatch,
    RolloutRunner,
)
from gepad.adapters.registry import GROUP, LoadedTarget, load_targets

__all__ = [
    "API_VERSION",
    "GROUP",
    "AdapterFactory",
    "AdapterSetup",
    "Delivery",
    "DeliveryHost",
    "DeliveryTarget",
    "EditChannel",
    "EditIntake",
    "EditOutcome",
    "EditWatch",
    "LoadedTarget",
    "RolloutRunner",
    "TargetConfig",
    "TargetStatus",
    "load_targets",
    "parse_targets",
]
