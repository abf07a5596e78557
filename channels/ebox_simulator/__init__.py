"""A loopback stand-in for the eBox Message Registry (v2 or v3), its token service and federation.

A test and demo tool, never on the production path (domain/ebox.md, "What the simulator must do").
"""

from channels.ebox_simulator.app import FEDERATION_PATH, OAUTH_PATHS, REGISTRY_PATHS, create_app
from channels.ebox_simulator.keys import generate_key_pair, public_key_of
from channels.ebox_simulator.server import SimulatorServer

__all__ = [
    "FEDERATION_PATH",
    "OAUTH_PATHS",
    "REGISTRY_PATHS",
    "SimulatorServer",
    "create_app",
    "generate_key_pair",
    "public_key_of",
]
