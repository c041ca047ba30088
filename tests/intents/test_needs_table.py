"""The needs catalogue over real codes and jobs: for each, the jobs it requires, the rule that
decided it (None: no rule covers it, the fallback) and the schemes it prefers. Codes across P, B,
C and U, generic and manufacturer ranges, with the vehicle conditions that change the answer."""

from __future__ import annotations

import pytest

from certifications.codes import parse_code
from certifications.needs import Vehicle, default_needs

HV = ("hev", "phev", "bev", "fcev")

# (code, brand, powertrain, required jobs, rule, preferred schemes)
CODES = [
    # P generic: hybrid / EV propulsion
    ("P0AA6", None, "phev", {"ev-battery"}, "hv-isolation", set()),
    ("P0AA6", "renault", "bev", {"ev-battery"}, "hv-isolation", {"oem.renault.ev"}),
    ("p0aa6", "peugeot", "phev", {"ev-battery"}, "hv-isolation", {"oem.stellantis.ev"}),
    ("P0A80", None, "hev", {"ev-battery-pack"}, "hv-pack-replace", set()),
    ("P0A7F", "volkswagen", "bev", {"ev-battery-pack"}, "hv-pack-replace", {"oem.volkswagen.ev"}),
    ("P0A0F", None, "hev", {"ev-battery"}, "hybrid-ev-propulsion", set()),
    ("P0A94", None, "phev", {"ev-battery"}, "hybrid-ev-propulsion", set()),
    ("P0B24", None, "bev", {"ev-battery"}, "hybrid-ev-propulsion", set()),
    ("P0C73", None, "hev", {"ev-battery"}, "hybrid-ev-propulsion", set()),
    ("P0D27", None, "bev", {"ev-battery"}, "hybrid-ev-propulsion", set()),
    # P generic: 12 V system voltage, conditioned on the powertrain
    ("P0562", None, "ice", {"diagnostics"}, "system-voltage", set()),
    ("P0562", None, None, {"diagnostics"}, "system-voltage", set()),
    ("P0562", None, "bev", {"diagnostics", "ev-service"}, "system-voltage-hv", set()),
    ("P0563", None, "phev", {"diagnostics", "ev-service"}, "system-voltage-hv", set()),
    ("P0560", None, "fcev", {"diagnostics", "ev-service"}, "system-voltage-hv", set()),
    # P generic: refrigerant circuit
    ("P0530", None, "ice", {"air-conditioning"}, "ac-refrigerant", set()),
    ("P0534", None, None, {"air-conditioning"}, "ac-refrigerant", set()),
    ("P0532", None, "bev", {"air-conditioning", "ev-service"}, "ac-refrigerant-hv", set()),
    ("P0645", None, "ice", {"air-conditioning"}, "ac-refrigerant", set()),
    ("P0646", None, "bev", {"air-conditioning"}, "ac-refrigerant", set()),
    # P generic: immobiliser
    ("P0513", None, None, {"keys-immobiliser"}, "immobiliser", set()),
    ("P0633", "renault", "ice", {"keys-immobiliser"}, "immobiliser", set()),
    # P generic, no rule: the fallback
    ("P0300", None, "ice", {"diagnostics"}, None, set()),
    ("P0420", "renault", "ice", {"diagnostics"}, None, set()),
    # P manufacturer
    ("P1447", "honda", "hev", {"ev-battery"}, "honda-ima", set()),
    ("P1433", "honda", None, {"ev-battery"}, "honda-ima", set()),
    ("P1447", None, "hev", {"diagnostics"}, None, set()),
    ("P1447", "renault", "hev", {"diagnostics"}, None, {"oem.renault.authorised", "oem.renault.ev"}),
    ("P1260", "ford", "ice", {"keys-immobiliser"}, "ford-pats-theft", set()),
    ("P3000", "toyota", "hev", {"ev-battery"}, "toyota-hybrid-control", set()),
    ("P3190", "lexus", "hev", {"ev-battery"}, "toyota-hybrid-control", set()),
    ("P3000", None, "hev", {"diagnostics"}, None, set()),
    ("P3400", "toyota", "ice", {"diagnostics"}, None, set()),  # P34: SAE's, no rule
    # B
    ("B0001", None, None, {"diagnostics"}, "restraints", {"diag.oem-tools"}),
    ("B0028", "peugeot", "ice", {"diagnostics"}, "restraints", {"diag.oem-tools"}),
    ("B1600", "ford", "ice", {"keys-immobiliser"}, "ford-pats", set()),
    ("B1681", "ford", None, {"keys-immobiliser"}, "ford-pats", set()),
    ("B1600", None, "ice", {"diagnostics"}, None, set()),
    ("B2799", "opel", "ice", {"keys-immobiliser"}, "gm-immobiliser", set()),
    ("B2799", "tesla", "bev", {"diagnostics"}, None, {"oem.tesla.approved-body"}),
    # C
    ("C0035", None, None, {"diagnostics"}, "wheel-speed", set()),
    ("C0040", None, "bev", {"diagnostics"}, "wheel-speed", set()),
    ("C0050", "fiat", "ice", {"diagnostics"}, "wheel-speed", set()),
    ("C0300", None, "ice", {"diagnostics"}, None, set()),
    ("C1201", "toyota", "hev", {"diagnostics"}, None, set()),
    # U
    ("U0001", None, None, {"diagnostics"}, "network-bus", {"diag.oem-tools"}),
    ("U0100", None, "ice", {"diagnostics"}, "lost-communication", {"diag.oem-tools"}),
    ("U0155", None, None, {"diagnostics"}, "lost-communication", {"diag.oem-tools"}),
    ("U0111", None, "bev", {"diagnostics", "ev-service"}, "lost-communication-hv", set()),
    ("U0293", "renault", "phev", {"diagnostics", "ev-service"}, "lost-communication-hv", {"oem.renault.ev"}),
    ("U0167", None, "ice", {"diagnostics", "keys-immobiliser"}, "lost-communication-immobiliser", set()),
    ("U0235", None, "ice", {"diagnostics", "bumper-radar"}, "lost-communication-radar", set()),
    ("U1000", "volkswagen", "ice", {"diagnostics"}, None, {"oem.volkswagen.authorised", "oem.volkswagen.ev"}),
    ("U3000", None, None, {"diagnostics"}, None, set()),
]  # fmt: skip

# (job, brand, powertrain, required jobs, preferred schemes)
JOBS = [
    ("air-conditioning", None, "ice", {"air-conditioning"}, set()),
    ("air-conditioning", None, "bev", {"air-conditioning", "ev-service"}, set()),
    ("diagnostics", None, "ice", {"diagnostics"}, set()),
    ("diagnostics", None, "phev", {"diagnostics"}, {"fr.nfc18550.b1vl", "uk.imi.ev.level2", "us.ase.xev"}),
    ("ev-battery-pack", "renault", "bev", {"ev-battery-pack"}, {"oem.renault.ev"}),
    ("ev-battery", "tesla", "bev", {"ev-battery"}, set()),  # Tesla has no EV programme here
    ("windscreen-adas", "peugeot", "ice", {"windscreen-adas"}, set()),
    ("bumper-radar", None, None, {"bumper-radar"}, set()),
    ("keys-immobiliser", "ford", "ice", {"keys-immobiliser"}, set()),
]  # fmt: skip


def test_the_table_covers_every_system_and_both_scopes() -> None:
    assert len(CODES) + len(JOBS) >= 40
    parsed = [parse_code(c) for c, *_ in CODES]
    assert {c.system for c in parsed} == {"powertrain", "body", "chassis", "network"}
    assert {c.scope for c in parsed} == {"generic", "manufacturer"}


@pytest.mark.parametrize(("code", "brand", "powertrain", "required", "rule", "preferred"), CODES)
def test_a_code_needs_what_its_rule_says(
    code, brand, powertrain, required, rule, preferred
) -> None:  # type: ignore[no-untyped-def]
    parsed = parse_code(code)
    answer = default_needs().resolve(Vehicle(brand=brand, powertrain=powertrain), [parsed], [])
    assert {n.job for n in answer.required} == required
    assert answer.rules == {parsed.code: rule}
    assert {s for n in answer.preferred for s in n.competences} == preferred
    for need in answer.required:
        assert need.asked_by == (parsed.code,)
        assert need.fallback == (rule is None)
        assert need.reason.fr and need.reason.en and need.source


@pytest.mark.parametrize(("job", "brand", "powertrain", "required", "preferred"), JOBS)
def test_a_job_needs_itself_and_what_the_vehicle_adds(
    job, brand, powertrain, required, preferred
) -> None:  # type: ignore[no-untyped-def]
    answer = default_needs().resolve(Vehicle(brand=brand, powertrain=powertrain), [], [job])
    assert {n.job for n in answer.required} == required
    assert {s for n in answer.preferred for s in n.competences} == preferred


def test_needs_asked_by_several_codes_are_one_need_naming_them_all() -> None:
    codes = [parse_code(c) for c in ("P0AA6", "P0A0F", "P0562", "U0100", "P0300")]
    answer = default_needs().resolve(Vehicle(brand="renault", powertrain="phev"), codes, [])
    by_job = {n.job: n for n in answer.required}
    assert set(by_job) == {"ev-battery", "diagnostics", "ev-service"}
    assert by_job["ev-battery"].asked_by == ("P0AA6", "P0A0F")
    assert by_job["ev-battery"].rule == "hv-isolation"  # the first code's rule names it
    # diagnostics: asked by a rule (P0562) and by the fallback (P0300): the rule's reason wins
    assert by_job["diagnostics"].asked_by == ("P0562", "U0100", "P0300")
    assert not by_job["diagnostics"].fallback
