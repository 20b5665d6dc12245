"""derlink.sim: device simulators for demos, tests and benchmarks.

The IEEE 2030.5 fleet: :class:`FleetSim` runs N :class:`SimulatedDer` (a
:class:`~derlink.sim.physics.Household` with PV, battery and load physics) in one process,
each a :class:`~derlink.sep2.client.DerClient` with its own certificate;
:func:`enrol_fleet` issues, sites and enrols them through the fleet service.
"""

from derlink.sim.der import SimulatedDer, nameplate_of
from derlink.sim.fleet import SimRecord, enrol_fleet, pin_of, site_spec
from derlink.sim.physics import Flows, Household, SiteSpec
from derlink.sim.runner import FleetSim, Summary, rss_bytes, sim_options

__all__ = [
    "FleetSim",
    "Flows",
    "Household",
    "SimRecord",
    "SimulatedDer",
    "SiteSpec",
    "Summary",
    "enrol_fleet",
    "nameplate_of",
    "pin_of",
    "rss_bytes",
    "sim_options",
    "site_spec",
]
