"""Decisions on top of the simulation: sweeps, sensitivity (tornado) and goal seek.

Every point is a scenario edited by field path (planner/edits.py) and simulated by the same
``run_scenario`` as ``planner run``, with the same root seed, so points share their random numbers.
"""
