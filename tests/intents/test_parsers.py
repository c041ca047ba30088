"""The code and VIN readers, by property (hypothesis), and the needs catalogue's refusals."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certifications.catalogue import CatalogueError
from certifications.codes import CodeError, parse_code, parse_range
from certifications.needs import FILE, load_needs
from certifications.vin import VinError, check_digit, decode_vin

HEX = "0123456789ABCDEF"
codes = st.tuples(
    st.sampled_from("PBCU"), st.sampled_from("0123"), st.text(HEX, min_size=3, max_size=3)
).map("".join)


@given(codes, st.booleans(), st.sampled_from(["", " ", "  "]), st.one_of(st.none(), st.text(HEX, min_size=2, max_size=2)), st.booleans())  # fmt: skip
def test_every_j2012_code_reads_whatever_its_case_and_spacing(
    code: str, lower: bool, pad: str, failure: str | None, dash: bool
) -> None:
    text = code + ("" if failure is None else ("-" if dash else "") + failure)
    parsed = parse_code(pad + (text.lower() if lower else text) + pad)
    assert parsed.code == code and parsed.failure_type == failure
    assert (
        parsed.system == {"P": "powertrain", "B": "body", "C": "chassis", "U": "network"}[code[0]]
    )
    if code[0] == "P":  # P0, P2, P34–P3F are SAE's
        generic = code[1] in "02" or (code[1] == "3" and code[2] in "456789ABCDEF")
    else:  # B0, B3, C0, C3, U0, U3 are SAE's
        generic = code[1] in "03"
    assert parsed.scope == ("generic" if generic else "manufacturer")


@given(codes, codes)
def test_code_values_order_codes_as_ranges_are_written(a: str, b: str) -> None:
    va, vb = parse_code(a).value, parse_code(b).value
    if a[0] == b[0]:
        assert (va < vb) == (int(a[1:], 16) < int(b[1:], 16))
    else:
        assert va != vb


@given(st.text(max_size=12))
def test_anything_else_is_refused_with_the_form_a_code_takes(text: str) -> None:
    try:
        parsed = parse_code(text)
    except CodeError as err:
        assert "SAE J2012" in str(err)
    else:  # only text that is a code (spaces, case and a failure type forgiven) reads
        assert parsed.code == text.strip().upper()[:5]


def test_ranges_are_one_system_and_in_order() -> None:
    assert parse_range("P0A00-P0AFF")[1] - parse_range("P0A00-P0AFF")[0] == 0xFF
    for bad in ("P0AFF-P0A00", "P0A00-B0AFF", "P0A00-P0A", "P0AA6-1C"):
        with pytest.raises(CodeError):
            parse_range(bad)


ALPHABET = "ABCDEFGHJKLMNPRSTUVWXYZ0123456789"
bodies = st.text(ALPHABET, min_size=14, max_size=14)  # all but the WMI's first letter, 9 and 10


def _vin(first: str, body: str, year: str, digit: str | None = None) -> str:
    draft = first + body[:7] + "0" + year + body[7:]
    return draft[:8] + (digit or check_digit(draft)) + draft[9:]


@given(st.sampled_from("12345L"), bodies, st.sampled_from("ABCDEFGHJKLMNPRSTVWXY123456789"))
def test_where_the_check_digit_applies_it_must_check(first: str, body: str, year: str) -> None:
    vin = _vin(first, body, year)
    decoded = decode_vin(vin.lower())
    assert decoded.vin == vin and decoded.check_digit == "valid"
    wrong = next(d for d in "0123456789X" if d != vin[8])
    with pytest.raises(VinError, match="check digit"):
        decode_vin(vin[:8] + wrong + vin[9:])


@given(st.sampled_from("STUVWXYZ"), bodies, st.sampled_from("0123456789X"))
def test_in_europe_position_nine_is_the_makers(first: str, body: str, digit: str) -> None:
    vin = _vin(first, body, "A", digit)
    decoded = decode_vin(vin)
    assert decoded.check_digit == ("valid" if check_digit(vin) == digit else "not used")
    assert decoded.region == "Europe" and not decoded.model_year_certain


@given(st.sampled_from("12345"), bodies, st.sampled_from("ABCDEFGHJKLMNPRSTVWXY123456789"))
def test_north_american_model_years_follow_position_seven(first: str, body: str, year: str) -> None:
    vin = _vin(first, body, year)
    decoded = decode_vin(vin)
    assert decoded.model_year_certain
    assert (decoded.model_year >= 2010) == vin[6].isalpha()  # type: ignore[operator]
    assert decoded.model_year is not None and 1980 <= decoded.model_year <= 2039


@given(st.text(max_size=25))
def test_any_text_is_a_vin_or_a_readable_refusal(text: str) -> None:
    try:
        decode_vin(text, today=datetime(2026, 11, 24, tzinfo=UTC))
    except VinError as err:
        assert "VIN" in str(err) or "check digit" in str(err)


def test_known_vins_decode_to_their_maker() -> None:
    honda = decode_vin("1HGCM82633A004352")  # the check-digit example of many references
    assert (honda.brand, honda.model_year, honda.check_digit) == ("honda", 2003, "valid")
    renault = decode_vin("VF1RFB00X56123456")
    assert (renault.brand, renault.region, renault.check_digit) == ("renault", "Europe", "not used")
    assert decode_vin("VR3UPHNKSKT101603").brand == "peugeot"
    assert decode_vin("KMHXX81CBAU123456").brand == "hyundai"
    assert decode_vin("ZZZ00000000000000").brand is None
    for bad in ("VF1RFB00X5612345", "VF1RFB00X56I23456", "VF1RFB00X56123456789"):
        with pytest.raises(VinError, match="not a VIN"):
            decode_vin(bad)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('id = "hv-isolation"', 'id = "hv-isolation"\ncolour = "red"'), "colour"),
        (('requires = ["ev-battery-pack"]', 'requires = ["ev-batery-pack"]'), "unknown job"),
        (('prefers = ["diag.oem-tools"]', 'prefers = ["diag.oem-toolz"]'), "unknown scheme"),
        (('codes = ["C0035-C0050"]', 'codes = ["C0035-C0050", "C0045-C0060"]'), "names overlapping"),
        (('codes = ["U0001-U00FF"]', 'codes = ["U0001-U0150"]'), "without one range holding"),
        (('codes = ["P0530-P0534", "P0645-P0647"]', 'codes = ["P0530-P0534", "P0645-P0647", "P0AA6"]'), "could both decide"),
        (('codes = ["P0513", "P0633"]', 'codes = ["P0513", "P0633", "P05"]'), "a code"),
        (('job = "air-conditioning"', 'job = "diagnostics"'), "could both apply"),
        (('renault = { ev = ["oem.renault.ev"]', 'renault = { ev = ["oem.renault.evv"]'), "unknown scheme"),
    ],
)  # fmt: skip
def test_the_needs_catalogue_refuses_what_would_mislead(tmp_path: Path, change, message) -> None:  # type: ignore[no-untyped-def]
    old, new = change
    text = FILE.read_text()
    assert old in text
    broken = tmp_path / "needs.toml"
    broken.write_text(text.replace(old, new, 1))
    with pytest.raises(CatalogueError, match=message):
        load_needs(broken)
    load_needs(FILE)  # the real one loads
