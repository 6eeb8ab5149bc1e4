"""A local Ongage API simulator for tests and the demo: real HTTP on loopback, injectable faults.

For example::

    with OngageSimulator(SimulatorConfig(export_bytes=1024)) as sim:
        requests.post(f"{sim.url}/api/export", json=..., headers=Credentials.demo().headers())
"""

from ongage_simulator.config import Credentials, ServedAccount, SimulatorConfig
from ongage_simulator.export_body import ExportBody
from ongage_simulator.faults import ActiveFault, Fault, FaultSpec
from ongage_simulator.limits import AccountStats, SimulatorStats
from ongage_simulator.records import ExportRecord, ServedRecord
from ongage_simulator.simulator import OngageSimulator

__all__ = [
    "AccountStats",
    "ActiveFault",
    "Credentials",
    "ExportBody",
    "ExportRecord",
    "Fault",
    "FaultSpec",
    "OngageSimulator",
    "ServedAccount",
    "ServedRecord",
    "SimulatorConfig",
    "SimulatorStats",
]
