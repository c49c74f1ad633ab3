"""Bad scenario files give exit code 2 and one clear message naming the file and the field; catalogs are complete."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from planner.catalog import sources

GOOD_WORKLOAD = "workload: {model: llama3-8b, tokens: 1.0e12, seq_len: 8192}\n"
GOOD_FLEET = "fleet:\n  - {name: a, chip: h100-sxm, units: 64}\n"


def cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "planner.cli", *args], capture_output=True, text=True, timeout=120)


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
def test_bad_input_exit_2(tmp_path, command, case, fname, text, field):
    p = tmp_path / fname
    p.write_text(text, encoding="utf-8")
    r = cli(command[0], str(p), *command[1:])
    assert r.returncode == 2, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip(), "no message on stderr"
    assert "Traceback" not in r.stderr + r.stdout
    assert fname in r.stderr
    if field is not None:
        assert field in r.stderr, r.stderr
    assert "hi\n" not in r.stdout  # the python tag never ran a shell command
    if command[0] == "estimate":
        assert not r.stdout.strip(), "estimate printed a result for a bad file"


def test_yaml_syntax_error_names_a_line(tmp_path):
    p = tmp_path / "syntax.yaml"
    p.write_text(BAD[0][2], encoding="utf-8")
    r = cli("validate", str(p))
    assert r.returncode == 2
    assert "line" in r.stderr


def test_python_tag_does_not_execute(tmp_path):
    marker = tmp_path / "pwned"
    p = tmp_path / "evil.yaml"
    p.write_text(f'name: !!python/object/apply:os.system ["touch {marker}"]\n' + GOOD_WORKLOAD + GOOD_FLEET)
    r = cli("validate", str(p))
    assert r.returncode == 2
    assert not marker.exists()


def test_exponent_numbers_accepted(tmp_path):
    p = tmp_path / "ok.yaml"
    p.write_text(
        "name: exponents\nworkload: {model: llama3-8b, tokens: 15.6e12, seq_len: 8192}\n"
        "fleet:\n  - {name: a, chip: h100-sxm, units: 1e4}\n",
        encoding="utf-8",
    )
    r = cli("validate", str(p))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr

    from planner.loader import load_scenario

    s = load_scenario(p)
    assert s.workload.tokens == 15.6e12
    assert s.fleet[0].units == 10_000 and isinstance(s.fleet[0].units, int)


def test_schema_is_json():
    r = cli("schema")
    assert r.returncode == 0, r.stderr
    schema = json.loads(r.stdout)
    assert "workload" in schema["properties"]
    assert "fleet" in schema["properties"]


REQUIRED_CHIPS = (
    "ascend-910 ascend-910b ascend-910c a100-40gb a100-80gb a800 h100-sxm h800 h20 h200 b200 mi300x tpu-v4".split()
)
REQUIRED_MODELS = "gpt3-175b llama2-70b llama3-8b llama3-70b llama3-405b deepseek-v3 pangu-ultra-135b".split()


def test_catalog_chips_complete_and_sourced():
    r = cli("catalog", "chips", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    missing = [c for c in REQUIRED_CHIPS if c not in data]
    assert not missing, missing
    known = set(sources())
    for cid, chip in data.items():
        assert isinstance(chip["sources"], list) and chip["sources"], f"{cid} has no sources"
        unknown = [s for s in chip["sources"] if s not in known]
        assert not unknown, f"{cid} cites unknown sources {unknown}"


def test_catalog_models_complete():
    r = cli("catalog", "models", "--json")
    assert r.returncode == 0, r.stderr
    data = json.loads(r.stdout)
    missing = [m for m in REQUIRED_MODELS if m not in data]
    assert not missing, missing


def test_estimate_infeasible_exit_3(tmp_path):
    p = tmp_path / "tiny.yaml"
    p.write_text(
        "name: too-small\nworkload: {model: llama3-405b, tokens: 15.6e12, seq_len: 8192}\n"
        "fleet:\n  - {name: h100, chip: h100-sxm, units: 8}\n",
        encoding="utf-8",
    )
    r = cli("estimate", str(p))
    assert r.returncode == 3, (r.returncode, r.stdout, r.stderr)
    assert r.stderr.strip()
    assert "GiB" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
