"""Dossiers of real journeys on SQLite and PostgreSQL: both verifiers agree it is intact, every
sampled change breaks it for both, and `ledger export` / `ledger verify --dossier` / the
standalone tool work as processes."""

from __future__ import annotations

import copy
import importlib.util
import json
import os
import random
import subprocess
import sys

import pytest

from api.container import build_container
from api.routes.dossier import dossier_for
from ledger.keys.keystore import KeyStore
from ledger.services.executor import Context
from ledger.services.journeys import HOSPITAL, run_allogeneic_journey, run_autologous_journey, seed_identities
from ledger.settings import Settings
from ledger.streams import case_stream
from ledger.verification.dossier import verify_dossier
from tests.unit.test_dossier import ROOT, mutations, tool

PASSPHRASE = "dossier sealing passphrase"
MRN = "MRN-0042-7781"


@pytest.fixture
def env(database, tmp_path) -> dict[str, str]:
    KeyStore(tmp_path / "keys").create(PASSPHRASE)
    return {"LEDGER_ENV": "test", "LEDGER_DATABASE_URL": database.url, "LEDGER_KEYS_DIR": str(tmp_path / "keys"),
            "LEDGER_KEY_PASSPHRASE": PASSPHRASE, "LEDGER_SITE_SECRET": "dossier site secret, long enough",
            "LEDGER_TOKEN_SECRET": "dossier token secret, long enough", "LEDGER_INSECURE_FAST_HASHING": "1"}


@pytest.fixture
def container(env):
    settings = Settings(env="test", database_url=env["LEDGER_DATABASE_URL"], keys_dir=env["LEDGER_KEYS_DIR"],
                        key_passphrase=PASSPHRASE, site_secret=env["LEDGER_SITE_SECRET"],
                        token_secret=env["LEDGER_TOKEN_SECRET"], insecure_fast_hashing=True, pool_size=4,
                        run_projections=False, checkpoint_every_events=100_000, checkpoint_every_seconds=3600)
    built = build_container(settings)
    seed_identities(built.services)
    yield built
    built.close()


@pytest.fixture
def journeys(container):
    auto = run_autologous_journey(container.services, mrn=MRN)
    bag = auto.units["apheresis_bag"]
    labelled = container.ledger.read_stream(bag)[0]
    container.services.quality.correct(
        Context(actor="nurse", site=HOSPITAL), stream=bag, event_id=labelled.envelope["event_id"],
        reason="volume misread from the scale", changes={"volume_ml": 245.5})
    allo = run_allogeneic_journey(container.services)
    return auto, allo


def events(bundle):
    return [e for s in bundle["streams"] for e in s["events"]]


@pytest.mark.req("URS-P11-10b")
def test_autologous_dossier_is_complete_and_verifies(container, journeys):
    auto, _ = journeys
    bundle = dossier_for(container, auto.coi)
    assert verify_dossier(bundle) == [] and tool.verify(bundle) == []
    roles = [s["role"] for s in bundle["streams"]]
    assert roles[0] == "case" and bundle["streams"][0]["stream"] == str(case_stream(auto.coi))
    assert {str(u) for u in auto.units.values()} <= {s["stream"] for s in bundle["streams"]}
    assert roles.count("user") == 2  # qa and clinician signed
    assert [s["stream"] for s in bundle["streams"] if s["role"] == "lot"] == [str(auto.units["lot"])]
    for s in bundle["streams"]:
        if s["role"] in ("case", "unit", "lot"):
            assert [e["envelope"]["seq"] for e in s["events"]] == list(range(1, len(s["events"]) + 1))
        else:
            assert {e["envelope"]["type"] for e in s["events"]} <= {"UserSigningKeyIssued", "UserSigningKeyRevoked"}
    assert all(e["proof"] is not None for e in events(bundle))
    assert max(e["leaf_index"] for e in events(bundle)) < bundle["checkpoint"]["tree_size"]
    # every event and signature is in the copy (11.10(b)); the trail shows the correction
    trail = bundle["summary"]["audit_trail"]
    meanings = {r["signature"]["meaning"] for r in trail if r["signature"]}
    assert meanings == {"assessed", "reviewed", "released", "administered"}
    assert any(r["type"] == "EventCorrected" and r["changes"][0]["new"] == 245.5 for r in trail)
    summary = json.dumps(bundle["summary"])
    assert "patient_ref" not in summary and MRN not in json.dumps(bundle)
    assert any("patient_ref" in e["envelope"]["data"] for e in events(bundle))  # byte-exact events


@pytest.mark.req("URS-GEN-1")
def test_allogeneic_patient_dossier_reaches_the_donor(container, journeys):
    _, allo = journeys
    patient = allo.extra["patients"][0]
    bundle = dossier_for(container, patient)
    assert verify_dossier(bundle) == [] and tool.verify(bundle) == []
    cases = [e["envelope"]["data"]["coi"] for s in bundle["streams"] if s["role"] == "case"
             for e in s["events"][:1]]
    assert cases[0] == patient and allo.coi in cases
    assert allo.extra["patients"][1] not in json.dumps(bundle["summary"]["case"])


def test_a_second_dossier_reuses_the_covering_checkpoint(container, journeys):
    auto, _ = journeys
    first = dossier_for(container, auto.coi)
    second = dossier_for(container, auto.coi)
    assert first["checkpoint"] == second["checkpoint"]


@pytest.mark.req("URS-P11-30")
def test_sampled_tampering_fails_with_both_verifiers(container, journeys):
    auto, _ = journeys
    bundle = dossier_for(container, auto.coi)
    rng = random.Random(3)
    paths = []

    def walk(value, path):
        if isinstance(value, dict | list):
            for key, item in (value.items() if isinstance(value, dict) else enumerate(value)):
                walk(item, (*path, key))
        else:
            paths.append(path)

    walk({k: v for k, v in bundle.items() if k != "summary"}, ())
    sample = rng.sample(paths, 60) + [p for p in paths if p[0] in ("checkpoint", "keys", "coi")]
    sample += [("summary", "case", "status"), ("summary", "audit_trail", 3, "what")]
    for path in sample:
        value = bundle
        for step in path:
            value = value[step]
        for new in mutations(value):
            variant = copy.deepcopy(bundle)
            target = variant
            for step in path[:-1]:
                target = target[step]
            target[path[-1]] = new
            assert verify_dossier(variant) and tool.verify(variant), path
    for index in range(len(bundle["streams"])):
        variant = copy.deepcopy(bundle)
        del variant["streams"][index]
        assert verify_dossier(variant, attestation=False) and tool.verify(variant), index


def cli(args, env, *, tool_script=False):
    command = [sys.executable, str(ROOT / "tools" / "verify_dossier.py")] if tool_script else \
        [sys.executable, "-m", "ledger_cli.main"]
    return subprocess.run([*command, *args], env={**os.environ, **env}, capture_output=True, text=True,
                          timeout=180, cwd=ROOT)


@pytest.mark.req("URS-OFF-1")
def test_export_and_verify_as_processes(container, journeys, env, tmp_path):
    auto, _ = journeys
    container.catch_up()
    out = tmp_path / "dossier.json"
    exported = cli(["export", "--coi", auto.coi, "--format", "json", "--output", str(out)], env)
    assert exported.returncode == 0, exported.stderr
    keys = tmp_path / "ring.json"
    keys.write_text(json.dumps(KeyStore(tmp_path / "keys").key_ring().to_json()))
    bundle = json.loads(out.read_text())
    variants = {"intact": bundle}
    broken = copy.deepcopy(bundle)
    broken["streams"][1]["events"][0]["envelope"]["data"]["label"] = "X"
    variants["label"] = broken
    broken = copy.deepcopy(bundle)
    broken["summary"]["case"]["status"] = "released"
    variants["summary"] = broken
    for name, variant in variants.items():
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(variant, ensure_ascii=False))
        ours = cli(["verify", "--dossier", str(path), "--keys", str(keys)], {})
        theirs = cli([str(path), "--keys", str(keys)], {}, tool_script=True)
        expected = 0 if name == "intact" else 1
        assert (ours.returncode, theirs.returncode) == (expected, expected), (name, ours, theirs)
        verdict = "intact:" if name == "intact" else "NOT intact:"
        for result in (ours, theirs):  # findings and the verdict on stdout, nothing of them on stderr
            assert result.stdout.splitlines()[-1].startswith(verdict), (name, result.stdout)
            assert "intact" not in result.stderr
    pdf = cli(["export", "--coi", auto.coi, "--format", "pdf", "--output", str(tmp_path / "d.pdf")], env)
    assert pdf.returncode == 0, pdf.stderr
    assert (tmp_path / "d.pdf").read_bytes().startswith(b"%PDF")
    epcis = cli(["export", "--coi", auto.coi, "--format", "epcis"], env)
    if importlib.util.find_spec("ledger_cli.export_epcis") is None:
        assert epcis.returncode == 2 and "EPCIS" in epcis.stderr
    assert cli(["export", "--coi", auto.coi, "--format", "xml"], env).returncode == 2


def test_the_standalone_tool_has_a_help_and_refuses_bad_usage(tmp_path):
    helped = cli(["--help"], {}, tool_script=True)
    assert helped.returncode == 0 and "usage: verify_dossier.py" in helped.stdout and "--keys" in helped.stdout
    assert cli([], {}, tool_script=True).returncode == 2
    missing = cli([str(tmp_path / "none.json")], {}, tool_script=True)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_unknown_case(container):
    from ledger.errors import StreamNotFound

    with pytest.raises(StreamNotFound):
        dossier_for(container, "COI-NOPE")
