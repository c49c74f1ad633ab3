"""Costs and energy: the one place prices, amortization, power and PUE turn into dollars and MWh.

- Cloud chips cost their hourly price while rented; their price includes power.
- Owned chips cost their purchase price straight-line over ``costs.amortization_years`` while in
  service, plus the energy of the chips in training at TDP x PUE x the price per kWh.
- Energy counts every chip the job holds (owned or rented): TDP x PUE x hours.
"""

from __future__ import annotations

from .catalog import Chip
from .scenario import Pool, Scenario
from .units import HOURS_PER_YEAR


def unit_price_usd(scenario: Scenario, pool: Pool) -> float:
    """Purchase price of one of the pool's chips: the pool's, the scenario's for the chip id, the catalog's."""
    chip = scenario.chip(pool.chip)
    return pool.unit_price_usd or scenario.costs.unit_price_usd.get(pool.chip) or chip.unit_price_usd or 0.0


def capex_usd_per_chip_hour(scenario: Scenario, pool: Pool) -> float:
    """Straight-line amortization of one owned chip [USD/h]."""
    return unit_price_usd(scenario, pool) / (scenario.costs.amortization_years * HOURS_PER_YEAR)


def chip_kw(scenario: Scenario, chip: Chip) -> float:
    """Power one chip draws at the meter in training [kW]: TDP x PUE."""
    return chip.tdp_w / 1000.0 * scenario.costs.pue


def energy_kwh(scenario: Scenario, chip: Chip, chip_hours: float) -> float:
    """Energy of ``chip_hours`` of training at TDP x PUE [kWh]."""
    return chip_hours * (chip.tdp_w / 1000.0) * scenario.costs.pue


def energy_usd_per_chip_hour(scenario: Scenario, chip: Chip) -> float:
    """Electricity cost of one owned chip in training [USD/h]."""
    return chip_kw(scenario, chip) * scenario.costs.energy_usd_per_kwh
