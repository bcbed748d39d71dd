"""Shared fixtures: one simulator process and (in tests/rayactors) one Ray cluster per session."""
from __future__ import annotations

import pytest

from drivers.simulator.control import SimulatorProcess


@pytest.fixture(scope="session")
def simulator():
    sim = SimulatorProcess(arrays=0)
    yield sim
    sim.stop()
