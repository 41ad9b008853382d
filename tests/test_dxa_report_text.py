"""DXA results read from report text: text decoding, the extractor's rules and traps, and the corpus figures."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from screening.reports.evaluate import score_corpus
from screening.reports.extract import extract, load_grammar
from screening.reports.text import html_to_text, report_text, rtf_to_text

CORPUS = Path(__file__).parent / "dxa_reports"
LIMIT = 1 << 20


def scores(text: str) -> set[tuple]:
    return {(f.kind, f.site, f.side, f.value) for f in extract(text).findings}


def b64(s: str | bytes) -> str:
    return base64.b64encode(s.encode() if isinstance(s, str) else s).decode()


def pdf_with_text(line: str) -> bytes:
    """A one-page PDF with a real text layer (Helvetica), built by hand so the test needs no PDF writer."""
    stream = f"BT /F1 12 Tf 72 720 Td ({line}) Tj ET".encode()
    objs = [b"<< /Type /Catalog /Pages 2 0 R >>", b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /Font << /F1 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
            b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>"]
    out, offsets = bytearray(b"%PDF-1.4\n"), []
    for i, o in enumerate(objs, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % i + o + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, xref)
    return bytes(out)


# ------------------------------------------------------------------------------------------------ corpus
def test_corpus_shape_and_held_out_share():
    dev = json.loads((CORPUS / "dev.json").read_text())["items"]
    held = json.loads((CORPUS / "heldout.json").read_text())["items"]
    assert len(dev) + len(held) >= 120
    assert len(held) >= (len(dev) + len(held)) / 3
    layouts = {i["layout"] for i in dev} & {i["layout"] for i in held}
    assert {"hologic_table", "lunar_table", "narrative", "bulleted", "html", "rtf", "base64"} <= layouts
    # held-out templates are never dev templates
    assert not {i["template"] for i in dev} & {i["template"] for i in held}


def test_corpus_precision_and_recall():
    dev = score_corpus(CORPUS / "dev.json")
    dev2 = score_corpus(CORPUS / "dev2.json")
    assert dev2.precision >= 0.99 and dev2.recall >= 0.97, dev2.errors[:10]
    held = score_corpus(CORPUS / "heldout.json")
    assert dev.precision >= 0.99 and dev.recall >= 0.97, dev.errors[:10]
    assert held.precision >= 0.99, [e for e in held.errors if e.startswith("FP")][:10]
    # targets of the issue on the held-out part (docs/dxa-report-text.md has the measurement history)
    assert held.recall >= 0.97, (held.tp, held.fn)
    assert dev.unattributed_flagged == dev.unattributed_expected and dev.false_warnings == 0
    assert held.unattributed_flagged == held.unattributed_expected and held.false_warnings == 0


# ------------------------------------------------------------------------------------------------ text
def test_html_table_and_entities():
    text = html_to_text("<html><head><style>p{}</style></head><body><p>Scan date: 2026-03-01</p><table>"
                        "<tr><th>Region</th><th>T-score</th></tr><tr><td>Neck Left</td><td>&minus;2.7</td></tr>"
                        "</table></body></html>")
    assert "p{}" not in text and "Neck Left | \u22122.7" in text
    assert scores(text) == {("T", "femoral_neck", "left", -2.7)}


def test_rtf_controls_unicode_and_escapes():
    text = rtf_to_text("{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0\\fs20 Total hip T-score \\u8722?2.6\\par "
                       "Z-score \\'96 none \\{x\\}}")
    assert "Arial" not in text and "Total hip T-score \u22122.6" in text and "{x}" in text
    assert ("T", "total_hip", None, -2.6) in scores(text)


def test_attachment_statuses():
    assert report_text("text/plain", None, b64("Femoral neck T-score -2.7"), LIMIT)[0] == "read"
    assert report_text("text/plain", None, "not base64!!", LIMIT)[0] == "bad_base64"
    assert report_text("text/plain", None, b64("x" * 4000), 1000)[0] == "too_large"
    assert report_text("image/png", None, b64(b"\x89PNG"), LIMIT)[0] == "unsupported_type"
    assert report_text("application/pdf", None, b64(b"%PDF-1.4 scanned"), LIMIT)[0] == "pdf_unreadable"
    assert report_text("text/plain", None, None, LIMIT)[0] == "no_content"
    status, text = report_text("application/pdf", None, b64(pdf_with_text("Femoral neck T-score -2.7")), LIMIT)
    assert status == "read" and scores(text) == {("T", "femoral_neck", None, -2.7)}


# ------------------------------------------------------------------------------------------------ rules
@pytest.mark.parametrize("text,want", [
    ("The lowest T-score is -2.7 at the left femoral neck.", {("T", "femoral_neck", "left", -2.7)}),
    ("Total hip T-score minus 2.6.", {("T", "total_hip", None, -2.6)}),
    ("Femoral neck T-score \u22122.6 SD, Z-score +0.4.", {("T", "femoral_neck", None, -2.6),
                                                            ("Z", "femoral_neck", None, 0.4)}),
    ("T-scores: L1-L4 -1.2, total hip -2.1, 1/3 radius -2.9.", {("T", "lumbar_l1_l4", None, -1.2),
                                                                ("T", "total_hip", None, -2.1),
                                                                ("T", "radius_33", None, -2.9)}),
    ("Lumbar spine (L2-L4) T-score -2.0; L3 T-score -2.8.", {("T", "lumbar_l2_l4", None, -2.0),
                                                              ("T", "L3", None, -2.8)}),
    ("Greater trochanter T-score -3.0.", {("T", "trochanter", None, -3.0)}),
])
def test_reads_scores(text, want):
    assert scores(text) == want


@pytest.mark.parametrize("text", [
    "Compared with the prior study of 2019, when the femoral neck T-score was -2.9, BMD is stable.",
    "Prior study 2019: femoral neck T-score -2.9.",
    "The femoral neck BMD changed by -3.1% since 2021.",
    "Femoral neck BMD 0.612 g/cm2.",
    "A T-score of -2.5 or below is osteoporosis (WHO); NHANES III young adult reference population.",
    "No T-score below -2.5 was found at the femoral neck.",
    "If the femoral neck T-score were -2.5, treatment would be indicated.",
    "Osteopenia: T-score between -1.0 and -2.5 at the total hip.",
    "FRAX treatment threshold: 20% major osteoporotic, 3% hip.",
])
def test_traps_give_nothing(text):
    assert scores(text) == set()


def test_current_value_kept_beside_a_prior_one():
    assert scores("The femoral neck T-score is -2.7, compared with -2.9 in 2019.") == {
        ("T", "femoral_neck", None, -2.7)}


def test_frax_labelled_probabilities_are_read():
    got = scores("FRAX 10-year probability: major osteoporotic fracture 21.5%, hip fracture 3.4%.")
    assert got == {("FRAX", "mof", None, 21.5), ("FRAX", "hip", None, 3.4)}


def test_unattributed_numbers_are_counted_not_guessed():
    res = extract("IMPRESSION: Osteopenia. T-score -1.8.")
    assert res.findings == [] and res.unattributed == 1


def test_scan_date_labelled_first_prior_excluded():
    g = load_grammar()
    assert extract("Prior exam 01/02/2020. Report signed 2026-03-09. Exam date: March 1, 2026.", g).scan_date \
        .isoformat() == "2026-03-01"
    assert extract("Previous DXA on 2021-05-03: T-score -2.0 at the hip.", g).scan_date is None
    assert extract("Bone densitometry 14-Feb-2026", g).scan_date.isoformat() == "2026-02-14"


def test_grammar_is_configuration(tmp_path):
    """A site spelling added to a copy of the grammar is read; the shipped grammar does not know it."""
    text = "Capitis femoris T-score -2.9."
    assert scores(text) == set()
    src = (Path(__file__).resolve().parent.parent / "config" / "dxa_report" / "grammar.toml").read_text()
    head, tail = src.split('id = "femoral_neck"', 1)
    src = head + 'id = "femoral_neck"' + tail.replace("patterns = [", "patterns = ['\\bcapitis\\s+femoris\\b', ", 1)
    (tmp_path / "dxa_report").mkdir()
    (tmp_path / "dxa_report" / "grammar.toml").write_text(src)
    g = load_grammar(tmp_path / "dxa_report" / "grammar.toml")
    assert {(f.kind, f.site, f.value) for f in extract(text, g).findings} == {("T", "femoral_neck", -2.9)}


def test_case_and_line_endings_do_not_change_what_is_read():
    """Every plain-text dev report reads the same upper-cased and with CRLF line ends."""
    items = [i for i in json.loads((CORPUS / "dev.json").read_text())["items"]
             if i["content_type"] == "text/plain" and "text" in i]
    assert len(items) > 40
    for it in items:
        want = {(f.kind, f.site, f.side, f.value) for f in extract(it["text"]).findings}
        got = {(f.kind, f.site, f.side, f.value) for f in extract(it["text"].upper().replace("\n", "\r\n")).findings}
        assert got == want, it["id"]
