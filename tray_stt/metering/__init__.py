"""Metering (settings layer, docs/architecture.md, "Layers"): the usage ledger, prices and budget
caps.

May import the base, the pure cores and the other settings modules; third-party: platformdirs.
"""
