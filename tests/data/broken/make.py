"""Write the private set of broken and hostile scenario files, and expected.json: file -> [exit codes, text].

Each file attacks one defect class of issue 9 (the prefix names it). ``planner run FILE --replications 1`` must
exit with one of the codes (2 bad input, nothing fitting included; 0 or 1 for a valid but hopeless plan that finishes
unfinished), print one line of at most 2,000 bytes that holds the text, and no traceback.

    python3 tests/data/broken/make.py
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
BASE = {
    "name": "broken",
    "start": "2025-01-01",
    "horizon_days": 60,
    "workload": {"model": "llama3-8b", "tokens": 1.0e11, "seq_len": 8192},
    "fleet": [{"name": "h100", "chip": "h100-sxm", "units": 64}],
    "reliability": {"enabled": False},
    "simulation": {"seed": 3, "replications": 1},
}
BASE_YAML = yaml.safe_dump(BASE, sort_keys=False)
CHIP = {"id": "my-chip", "bf16_tflops": 500, "hbm_gib": 80, "hbm_tbps": 3, "scale_up_domain": 8,
        "scale_up_gbyteps": 450, "scale_out_gbps": 400, "tdp_w": 700}
STORM = {"enabled": True, "mtbf_chip_days": 1e-6, "restart_base_minutes": 0, "restart_minutes_per_1000_chips": 0,
         "repair_days": 0, "checkpoint_write_s": 0}


def merged(**fields) -> dict:
    """BASE with top-level fields replaced (a None value drops the field)."""
    out = {**BASE, **fields}
    return {k: v for k, v in out.items() if v is not None}


def pool(**fields) -> list[dict]:
    """One pool of 64 H100 with fields added."""
    return [{"name": "h100", "chip": "h100-sxm", "units": 64, **fields}]


def sub(old: str, new: str) -> str:
    """BASE as YAML with one piece of text replaced."""
    assert old in BASE_YAML, old
    return BASE_YAML.replace(old, new, 1)


BOMB = "".join(f"{c}: &{c} [{', '.join([f'*{p}'] * 9 if p else ['lol'] * 9)}]\n"
               for p, c in zip(["", *"abcdefgh"], "abcdefghi", strict=True)) + "name: *i\n"

# file name -> (content: a mapping written as YAML/JSON, or raw text/bytes; exit codes; text the line must hold)
FILES: dict[str, tuple[object, list[int], str]] = {
    # 1. unbounded reading, long messages
    "c1-alias-bomb.yaml": (BOMB, [2], "aliases expand"),
    "c1-alias-bomb-in-fleet.yaml": (BOMB.replace("name: *i\n", "") + sub("fleet:\n", "fleet: *i\nx:\n"), [2],
                                    "aliases expand"),
    "c1-long-value.yaml": (merged(workload={**BASE["workload"], "model": "x" * 20_000}), [2], "workload.model"),
    "c1-long-cjk-key.yaml": ({**BASE, "名" * 5_000: 1}, [2], "unknown key"),
    "c1-long-markup-value.yaml": (merged(fleet=pool(chip="[/x]" * 2_000)), [2], "fleet[0].chip"),
    # 2. bounded work
    "c2-failure-storm.yaml": (merged(reliability=STORM), [2], "reliability.mtbf_chip_days"),
    "c2-failure-storm-pool.yaml": (merged(reliability={"enabled": True}, fleet=pool(mtbf_chip_days=1e-6)), [2],
                                   "fleet[0].mtbf_chip_days"),
    "c2-maintenance-storm.yaml": (merged(reliability={"enabled": True, "maintenance_every_days": 1e-9,
                                                      "maintenance_minutes": 0}), [2],
                                  "reliability.maintenance_every_days"),
    "c2-century-maintenance.yaml": (merged(horizon_days=36_500, reliability={"enabled": True,
                                                                              "maintenance_every_days": 1e-3}), [2],
                                    "reliability.maintenance_every_days"),
    "c2-century-hourly.yaml": (merged(horizon_days=36_500, reliability={"enabled": True,
                                                                         "maintenance_every_days": 0.05}), [2],
                               "reliability.maintenance_every_days"),
    "c2-never-progress.yaml": (merged(reliability={"enabled": True, "mtbf_chip_days": 0.001}), [2],
                               "reliability.mtbf_chip_days"),
    "c2-maintenance-longer-than-interval.yaml": (merged(reliability={"enabled": True, "maintenance_every_days": 0.05,
                                                                     "maintenance_minutes": 80}), [2],
                                                 "reliability.maintenance_minutes"),
    "c2-hopeless-but-valid.yaml": (merged(workload={**BASE["workload"], "tokens": 1e16}, horizon_days=30,
                                          expect=[{"metric": "finish_probability", "min": 0.5}]), [1],
                                   "Finish probability"),
    # 4. YAML oddities and years
    "c4-feb-30.yaml": (sub("start: '2025-01-01'", "start: 2025-02-30"), [2], "2025-02-30"),
    "c4-month-13.yaml": (sub("start: '2025-01-01'", "start: 2025-13-01"), [2], "2025-13-01"),
    "c4-float-abc.yaml": (sub("horizon_days: 60", "horizon_days: !!float abc"), [2], "float"),
    "c4-int-abc.yaml": (sub("horizon_days: 60", "horizon_days: !!int abc"), [2], "int"),
    "c4-bool-maybe.yaml": (sub("enabled: false", "enabled: !!bool maybe"), [2], "boolean"),
    "c4-timestamp-garbage.yaml": (sub("start: '2025-01-01'", "start: !!timestamp garbage"), [2], "timestamp"),
    "c4-digits-100k.yaml": (sub("horizon_days: 60", "horizon_days: " + "9" * 100_000), [2], "digits"),
    "c4-nesting-1000.yaml": (BASE_YAML + "extra: " + "[" * 1_000 + "]" * 1_000 + "\n", [2], "nested"),
    "c4-nesting-1000.json": ('{"name": ' + "[" * 1_000 + "]" * 1_000 + "}", [2], "nested"),
    "c4-json-digits.json": (json.dumps(BASE).replace('"horizon_days": 60', '"horizon_days": ' + "9" * 5_000), [2],
                            "digits"),
    "c4-year-9999.yaml": (sub("start: '2025-01-01'", "start: 9999-11-01").replace("horizon_days: 60",
                                                                                  "horizon_days: 30"), [2],
                          "start: must not be after"),
    "c4-markup-in-value.yaml": (merged(fleet=pool(chip="[/x][red]")), [2], "[/x][red]"),
    "c4-python-tag.yaml": ("name: !!python/object/apply:os.system ['echo pwned']\n", [2], "python/object"),
    "c4-nul-bytes.yaml": (b"name: a\x00b\n", [2], "not valid YAML"),
    "c4-not-utf8.yaml": (b"name: \xff\xfe\n", [2], "UTF-8"),
    "c4-empty.yaml": ("", [2], "mapping"),
    "c4-list-at-top.yaml": ("- a\n- b\n", [2], "mapping"),
    "c4-tabs.yaml": ("name: x\n\tworkload: 3\n", [2], "not valid YAML"),
    # 5. silent acceptance
    "c5-duplicate-key.yaml": (BASE_YAML + "horizon_days: 90\n", [2], "appears twice"),
    "c5-duplicate-key.json": (json.dumps(BASE)[:-1] + ', "horizon_days": 90}', [2], "appears twice"),
    "c5-units-yes.yaml": (sub("units: 64", "units: yes"), [2], "fleet[0].units"),
    "c5-base-60.yaml": (sub("units: 64", "units: 17:04"), [2], "fleet[0].units"),
    "c5-price-negative.yaml": (merged(costs={"unit_price_usd": {"h100-sxm": -1}}), [2],
                               "costs.unit_price_usd.h100-sxm"),
    "c5-price-nan.yaml": (sub("simulation:", "costs: {unit_price_usd: {h100-sxm: .nan}}\nsimulation:"), [2],
                          "costs.unit_price_usd.h100-sxm"),
    "c5-price-inf.yaml": (sub("simulation:", "costs: {unit_price_usd: {h100-sxm: .inf}}\nsimulation:"), [2],
                          "costs.unit_price_usd.h100-sxm"),
    "c5-price-unknown-chip.yaml": (merged(costs={"unit_price_usd": {"no-such-chip": 1000}}), [2],
                                   "costs.unit_price_usd.no-such-chip"),
    "c5-tp-not-dividing-heads.yaml": (merged(fleet=pool(parallelism={"tp": 3})), [2], "fleet[0].parallelism.tp"),
    "c5-pp-over-layers.yaml": (merged(fleet=pool(parallelism={"pp": 64})), [2], "fleet[0].parallelism.pp"),
    "c5-cp-not-dividing-seq.yaml": (merged(fleet=pool(parallelism={"cp": 3})), [2], "fleet[0].parallelism.cp"),
    "c5-ep-on-dense.yaml": (merged(fleet=pool(parallelism={"ep": 2})), [2], "fleet[0].parallelism.ep"),
    "c5-ep-not-dividing-experts.yaml": (merged(workload={**BASE["workload"], "model": "deepseek-v3"},
                                               fleet=pool(units=2048, parallelism={"ep": 3})), [2],
                                        "fleet[0].parallelism.ep"),
    "c5-chip-reuses-builtin-id.yaml": (merged(chips=[{**CHIP, "id": "h100-sxm"}]), [2], "chips[0]"),
    "c5-two-chips-one-id.yaml": (merged(chips=[CHIP, CHIP]), [2], "chips[1]"),
    "c5-min-units-unreachable.yaml": (merged(strategy={"min_units_to_start": 65}), [2],
                                      "strategy.min_units_to_start"),
    "c5-fp8-on-a100.yaml": (merged(workload={**BASE["workload"], "precision": "fp8"},
                                   fleet=[{"name": "a", "chip": "a100-80gb", "units": 64}]), [2], "fleet[0].chip"),
    "c5-link-to-unused-site.yaml": (merged(links=[{"sites": ["default", "mars"], "gbps": 100}]), [2],
                                    "links[0].sites"),
    # 10. small things
    "c10-nothing-fits.yaml": (merged(workload={**BASE["workload"], "model": "llama3-405b"},
                                     fleet=pool(units=8)), [2], "GiB"),  # run has no 3 in the contract
    "c10-unknown-key.yaml": (merged(fleeet=[]), [2], "fleeet"),
    "c10-seed-too-big.yaml": (merged(simulation={"seed": 2**64, "replications": 1}), [2], "simulation.seed"),
    "c10-replications-too-many.yaml": (merged(simulation={"seed": 1, "replications": 10**6}), [2],
                                       "simulation.replications"),
    "c10-deliveries-decrease.yaml": (merged(fleet=pool(ordered_units=128, deliveries=[
        {"date": "2025-01-10", "units": 128}, {"date": "2025-01-20", "units": 100}])), [2], "deliveries[1]"),
    "c10-cloud-ends-before-start.yaml": (merged(fleet=[{"name": "c", "chip": "h100-sxm", "cloud": {
        "units": 8, "from": "2025-03-01", "until": "2025-02-01", "price_per_chip_hour_usd": 2}}]), [2],
        "fleet[0].cloud"),
}


def main() -> None:
    """Write every file and expected.json next to this script."""
    for old in HERE.glob("c*-*"):
        old.unlink()
    expected = {}
    for name, (content, codes, text) in FILES.items():
        path = HERE / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif isinstance(content, str):
            path.write_text(content, encoding="utf-8")
        elif name.endswith(".json"):
            path.write_text(json.dumps(content, ensure_ascii=False), encoding="utf-8")
        else:
            path.write_text(yaml.safe_dump(content, sort_keys=False, allow_unicode=True, width=10**9),
                            encoding="utf-8")
        expected[name] = [codes, text]
    (HERE / "expected.json").write_text(json.dumps(expected, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"{len(FILES)} files in {HERE}")


if __name__ == "__main__":
    main()
