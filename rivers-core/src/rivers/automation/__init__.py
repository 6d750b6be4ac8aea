"""Automation: schedules, sensors, declarative automation conditions and the daemon that runs them.

Layered above definitions and the graph, beside the application layer: the
daemon (:mod:`rivers.automation.daemon`) evaluates what the definitions
declare and launches runs through :mod:`rivers.automation.launching`.
"""
