"""Simulated storage arrays: real REST (HTTP) and SSH servers on loopback, one process.

``python -m drivers.simulator --arrays N`` serves N arrays; see README "Simulated arrays".
The arrays keep sessions the way real ones do (tokens with idle expiry, a per-user session
cap, logout, password rotation) and count logins so tests can prove what the runtime does.
"""
from .array import ArrayConfig, SimArray

__all__ = ["ArrayConfig", "SimArray"]
