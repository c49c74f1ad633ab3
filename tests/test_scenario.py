"""Bad scenario files give exit code 2 and one clear message naming the file and the field; catalogs are complete."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

from planner.catalog import sources
from planner.loader import load_scenario

GOOD_WORKLOAD = "workload: {model: llama3-8b, tokens: 1.0e12, seq_len: 8192}\n"
GOOD_FLEET = "fleet:\n  - {name: a, chip: h100-sxm, units: 64}\n"


def doc(body: str) -> str:
    return textwrap.dedent(body).lstrip()


# (case id, file name, file text, expected text in stderr: the field path, or None for file-level errors)
BAD = [
    ("yaml-syntax", "syntax.yaml", "name: x\nworkload: {model: llama3-8b, tokens: 1e12\nfleet: [\n", None),
    ("unknown-chip", "chip.yaml", "name: x\n" + GOOD_WORKLOAD + "fleet:\n  - {name: a, chip: h999, units: 8}\n",
     "fleet[0].chip"),
    ("negative-units", "neg.yaml", "name: x\n" + GOOD_WORKLOAD + "fleet:\n  - {name: a, chip: h100-sxm, units: -8}\n",
     "fleet[0].units"),
    ("unknown-workload-key", "colour.yaml",
     "name: x\nworkload: {model: llama3-8b, tokens: 1.0e12, seq_len: 8192, colour: blue}\n" + GOOD_FLEET,
     "workload.colour"),
    ("heads-not-dividing-hidden", "heads.yaml", doc("""
        name: x
        workload:
          tokens: 1.0e12
          seq_len: 4096
          model: {layers: 4, hidden: 1000, heads: 3, vocab: 32000}
        """) + GOOD_FLEET, "workload.model.heads"),
    ("kv-heads-not-dividing-heads", "kv.yaml", doc("""
        name: x
        workload:
          tokens: 1.0e12
          seq_len: 4096
          model: {layers: 4, hidden: 1024, heads: 16, kv_heads: 3, vocab: 32000}
        """) + GOOD_FLEET, "workload.model.kv_heads"),
    ("moe-top-k-above-experts", "moe.yaml", doc("""
        name: x
        workload:
          tokens: 1.0e12
          seq_len: 4096
          model:
            layers: 4
            hidden: 1024
            heads: 16
            vocab: 32000
            moe: {experts: 4, top_k: 8, expert_ffn_hidden: 512}
        """) + GOOD_FLEET, "workload.model.moe.top_k"),
    ("deliveries-decreasing", "deliv.yaml", "name: x\n" + GOOD_WORKLOAD + doc("""
        fleet:
          - name: a
            chip: h100-sxm
            deliveries:
              - {date: 2025-03-01, units: 512}
              - {date: 2025-06-01, units: 256}
        """), "fleet[0].deliveries[1].units"),
    ("delivery-dates-out-of-order", "dates.yaml", "name: x\n" + GOOD_WORKLOAD + doc("""
        fleet:
          - name: a
            chip: h100-sxm
            deliveries:
              - {date: 2025-06-01, units: 256}
              - {date: 2025-03-01, units: 512}
        """), "fleet[0].deliveries[1].date"),
    ("cloud-until-before-from", "cloud.yaml", "name: x\n" + GOOD_WORKLOAD + doc("""
        fleet:
          - name: a
            chip: h100-sxm
            cloud: {units: 256, from: 2025-06-01, until: 2025-03-01}
        """), "fleet[0].cloud.until"),
    ("reserved-fraction", "reserved.yaml", "name: x\n" + GOOD_WORKLOAD
     + "fleet:\n  - {name: a, chip: h100-sxm, units: 64, reserved_fraction: 1.5}\n", "fleet[0].reserved_fraction"),
    ("tokens-inf", "inf.yaml", "name: x\nworkload: {model: llama3-8b, tokens: .inf, seq_len: 8192}\n" + GOOD_FLEET,
     "workload.tokens"),
    ("units-too-many", "many.yaml", "name: x\n" + GOOD_WORKLOAD
     + "fleet:\n  - {name: a, chip: h100-sxm, units: 10000001}\n", "fleet[0].units"),
    ("missing-workload", "noworkload.yaml", "name: x\n" + GOOD_FLEET, "workload"),
    ("unknown-model", "model.yaml", "name: x\nworkload: {model: gpt-17, tokens: 1.0e12, seq_len: 8192}\n" + GOOD_FLEET,
     "workload.model"),
    ("yaml-list", "list.yaml", "- name: x\n- fleet: []\n", None),
    ("duplicate-pool-names", "dup.yaml", "name: x\n" + GOOD_WORKLOAD
     + "fleet:\n  - {name: a, chip: h100-sxm, units: 64}\n  - {name: a, chip: a100-80gb, units: 64}\n",
     "fleet[1].name"),
    ("expect-without-bound", "expect.yaml", "name: x\n" + GOOD_WORKLOAD + GOOD_FLEET
     + "expect:\n  - {metric: time_to_train_days}\n", "expect[0]"),
    ("json-bad-field", "scenario.json", json.dumps({
        "name": "x",
        "workload": {"model": "llama3-8b", "tokens": 1e12, "seq_len": 8192},
        "fleet": [{"name": "a", "chip": "h100-sxm", "units": -1}],
    }), "fleet[0].units"),
    ("python-object-tag", "evil.yaml", 'name: !!python/object/apply:os.system ["echo hi"]\n'
     + GOOD_WORKLOAD + GOOD_FLEET, None),
]


@pytest.mark.parametrize("command", [["validate"], ["estimate", "--json"]], ids=["validate", "estimate"])
@pytest.mark.parametrize("case,fname,text,field", BAD, ids=[b[0] for b in BAD])
def test_bad_input_exit_2(cli, make_scenario, command, case, fname, text, field):
    p = make_scenario.text(text, fname)
    r = cli(command[0], p, *command[1:])
    assert r.exit_code == 2, r
    assert r.stderr.strip(), "no message on stderr"
    assert len(r.stderr.strip().splitlines()) == 1, r  # one line
    assert r.stderr.startswith("error: "), r
    assert "Traceback" not in r.stderr + r.stdout
    assert fname in r.stderr
    if field is not None:
        assert field in r.stderr, r.stderr
    assert "hi\n" not in r.stdout  # the python tag never ran a shell command
    if command[0] == "estimate":
        assert not r.stdout.strip(), "estimate printed a result for a bad file"


def test_yaml_syntax_error_names_a_line(cli, make_scenario):
    p = make_scenario.text(BAD[0][2], "syntax.yaml")
    r = cli("validate", p)
    assert r.exit_code == 2, r
    assert re.search(r"line \d+, column \d+", r.stderr), r


def test_python_tag_does_not_execute(cli, make_scenario, tmp_path):
    marker = tmp_path / "pwned"
    p = make_scenario.text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n' + GOOD_WORKLOAD + GOOD_FLEET,
                           "evil.yaml")
    r = cli("validate", p)
    assert r.exit_code == 2, r
    assert not marker.exists()


def test_exponent_numbers_accepted(cli, make_scenario):
    p = make_scenario.text(
        "name: exponents\nworkload: {model: llama3-8b, tokens: 15.6e12, seq_len: 8192}\n"
        "fleet:\n  - {name: a, chip: h100-sxm, units: 1e4}\n",
        "ok.yaml",
    )
    r = cli("validate", p)
    assert r.exit_code == 0, r
    assert "Traceback" not in r.stderr
    assert f"ok {p}: exponents (1 pools)" in r.stdout, r

    s = load_scenario(p)
    assert s.workload.tokens == 15.6e12
    assert s.fleet[0].units == 10_000 and isinstance(s.fleet[0].units, int)


def test_schema_is_json(cli):
    r = cli("schema")
    assert r.exit_code == 0, r
    schema = json.loads(r.stdout)
    assert "workload" in schema["properties"]
    assert "fleet" in schema["properties"]


REQUIRED_CHIPS = (
    "ascend-910 ascend-910b ascend-910c a100-40gb a100-80gb a800 h100-sxm h800 h20 h200 b200 mi300x tpu-v4".split()
)
REQUIRED_MODELS = "gpt3-175b llama2-70b llama3-8b llama3-70b llama3-405b deepseek-v3 pangu-ultra-135b".split()


def test_catalog_chips_complete_and_sourced(cli):
    r = cli("catalog", "chips", "--json")
    assert r.exit_code == 0, r
    data = json.loads(r.stdout)
    missing = [c for c in REQUIRED_CHIPS if c not in data]
    assert not missing, missing
    known = set(sources())
    for cid, chip in data.items():
        assert isinstance(chip["sources"], list) and chip["sources"], f"{cid} has no sources"
        unknown = [s for s in chip["sources"] if s not in known]
        assert not unknown, f"{cid} cites unknown sources {unknown}"


def test_catalog_models_complete(cli):
    r = cli("catalog", "models", "--json")
    assert r.exit_code == 0, r
    data = json.loads(r.stdout)
    missing = [m for m in REQUIRED_MODELS if m not in data]
    assert not missing, missing


def test_estimate_infeasible_exit_3(cli, make_scenario):
    p = make_scenario.text(
        "name: too-small\nworkload: {model: llama3-405b, tokens: 15.6e12, seq_len: 8192}\n"
        "fleet:\n  - {name: h100, chip: h100-sxm, units: 8}\n",
        "tiny.yaml",
    )
    r = cli("estimate", p)
    assert r.exit_code == 3, r
    assert r.stderr.strip()
    assert "GiB" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_validate_stops_at_the_first_invalid_file(cli, make_scenario):
    good = make_scenario(filename="good.yaml")
    bad = make_scenario.text("name: x\n" + GOOD_WORKLOAD + "fleet:\n  - {name: a, chip: h999, units: 8}\n", "bad.yaml")
    later = make_scenario(filename="later.yaml")
    r = cli("validate", good, bad, later)
    assert r.exit_code == 2, r
    assert f"ok {good}" in r.stdout and "later.yaml" not in r.stdout + r.stderr
    assert "bad.yaml" in r.stderr and "fleet[0].chip" in r.stderr
    r = cli("validate", good, later)
    assert r.exit_code == 0, r
    assert r.stdout.count("ok ") == 2


def test_missing_file_exit_2(cli, tmp_path):
    r = cli("estimate", tmp_path / "nowhere.yaml", "--json")
    assert r.exit_code == 2, r
    assert "nowhere.yaml" in r.stderr and "no such file" in r.stderr
    assert not r.stdout.strip()


def test_schema_matches_the_model(cli):
    from planner.scenario import Scenario

    r = cli("schema")
    assert r.exit_code == 0, r
    assert r.json() == json.loads(json.dumps(Scenario.model_json_schema(by_alias=True), default=str))
    assert "from" in json.dumps(r.json())  # the alias users write, not the python name from_


def test_catalog_tables_list_every_entry(cli):
    from planner.catalog import chips, models

    r = cli("catalog", "chips")
    assert r.exit_code == 0, r
    assert all(cid in r.stdout for cid in chips())
    r = cli("catalog", "models")
    assert r.exit_code == 0, r
    assert all(mid in r.stdout for mid in models())


def test_no_command_prints_help(cli):
    r = cli()  # the exit code is click's business (2 since click 8.2, 0 before)
    assert "Usage" in r.stdout and "estimate" in r.stdout and "validate" in r.stdout


def test_zero_rented_units_is_a_pool_with_nothing_rented(cli, make_scenario, tmp_path):
    rent = {"name": "rent", "chip": "h100-sxm",
            "cloud": {"units": 0, "from": "2025-01-01", "until": "2025-03-01", "price_per_chip_hour_usd": 2.0}}
    path = make_scenario(fleet=[{"name": "h100", "chip": "h100-sxm", "units": 64}, rent])
    assert cli("validate", str(path)).exit_code == 0
    r = cli("run", str(path), "--out", str(tmp_path / "out"))
    assert r.exit_code == 0, r
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["strategy"]["pools"] == ["h100"]
    assert {c["pool"]: c["committed_usd"] for c in summary["costs"]["pools"]}["rent"] == 0
    empty = make_scenario(fleet=[rent])
    bad = cli("validate", str(empty))
    assert bad.exit_code == 2 and "fleet: no pool has chips" in bad.stderr and "Traceback" not in bad.stderr


def test_the_contract_minimal_pool_is_chip_and_units():
    """"A minimal scenario is `name`, `workload` and a `fleet` of one pool with `chip` and `units`" (contract).

    A pool without a name is named after its chip; a taken name gets a number. Found by review: `name` was required.
    """
    from planner.loader import from_dict

    w = {"model": "llama3-8b", "tokens": 1e11, "seq_len": 4096}
    s = from_dict({"name": "minimal", "workload": w, "fleet": [{"chip": "h100-sxm", "units": 64}]})
    assert [p.name for p in s.fleet] == ["h100-sxm"]
    s = from_dict({"name": "m", "workload": w, "fleet": [
        {"chip": "h100-sxm", "units": 64}, {"chip": "h100-sxm", "units": 8, "site": "b"},
        {"name": "h100-sxm-2", "chip": "a100-80gb", "units": 8}]})
    assert [p.name for p in s.fleet] == ["h100-sxm", "h100-sxm-3", "h100-sxm-2"]
