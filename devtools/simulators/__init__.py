"""Stateful HTTPS simulators of TD SYNNEX StreamOne Stellr, Microsoft Entra and Microsoft Graph.

Development and test tools only: never imported by `shared/`, never deployed. See
`devtools/README.md`. Typical use in a test::

    with start_simulators(tmp_path / "pki", provisioning_delay=0.2) as sims:
        env = sims.env()  # SYNNEX_API_BASE_URL, ..., SSL_CERT_FILE
        sims.stellr.subscription_quantity("100234", "411833_1")
"""

from .faults import FaultRule
from .graph import GraphSimulator
from .graph_state import SkuUnits
from .pki import PkiFiles, ensure_pki
from .seed import World, build_world
from .server import Simulators, SimulatorUrls, start_simulators
from .stellr import StellrSimulator

__all__ = [
    "FaultRule",
    "GraphSimulator",
    "PkiFiles",
    "SimulatorUrls",
    "Simulators",
    "SkuUnits",
    "StellrSimulator",
    "World",
    "build_world",
    "ensure_pki",
    "start_simulators",
]
