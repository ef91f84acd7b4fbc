from gepad.rpc.auth import Authenticator, Principal
from gepad.rpc.server import GrpcServer
from gepad.rpc.servicer import EvolutionService, GepadServicer

__all__ = ["Authenticator", "EvolutionService", "GepadServicer", "GrpcServer", "Principal"]
