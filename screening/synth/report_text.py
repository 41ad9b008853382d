"""Planted scenarios whose DXA result exists only as report text (clinical-rules.md section 8).

Registered after scenarios.py's own (imported at its end), so they are generated last among the planted
patients. Each writes a DiagnosticReport or DocumentReference (conclusion, presentedForm, base64 attachment, or
an attachment url to a Binary) in one of the layouts real reports use, and no discrete DXA Observation; the
expected worklist row is exactly what the Observation would have produced. Traps must not list the patient.
"""

from __future__ import annotations

import base64

from screening.synth import codes as k
from screening.synth.chart import Chart, cc
from screening.synth.scenarios import HFR, LZ, OTS, no, scenario, yes

DXA_REPORT_LOINC = ("38268-9", "DXA Skeletal system Study report")


def _b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _mdy(c: Chart, ago: int) -> str:
    d = c.day(ago)
    return f"{d.month:02d}/{d.day:02d}/{d.year}"


def diagnostic_report(c: Chart, ago: int, *, conclusion: str | None = None, forms: list[dict] | None = None,
                      status: str = "final") -> dict:
    res: dict = {
        "resourceType": "DiagnosticReport",
        "id": c.rid("dxarep"),
        "status": status,
        "category": [cc("http://terminology.hl7.org/CodeSystem/v2-0074", "RAD", "Radiology")],
        "code": cc(k.LOINC, *DXA_REPORT_LOINC, "DXA bone density"),
        "subject": c.subject,
        "effectiveDateTime": c.ds(ago),
        "issued": f"{c.ds(ago - 1)}T09:00:00Z",
    }
    if conclusion is not None:
        res["conclusion"] = conclusion
    if forms:
        res["presentedForm"] = forms
    return c.add(res)


def document_reference(c: Chart, ago: int, attachment: dict, title: str = "Bone densitometry (DXA) report") -> dict:
    return c.add({
        "resourceType": "DocumentReference",
        "id": c.rid("dxadoc"),
        "status": "current",
        "type": {"text": title},
        "subject": c.subject,
        "date": f"{c.ds(ago - 2)}T10:00:00Z",
        "context": {"period": {"start": c.ds(ago)}},
        "content": [{"attachment": attachment}],
    })


@scenario("report_text_t_score_conclusion",
          "T-score only in a DiagnosticReport conclusion (narrative, Unicode minus), rheumatoid arthritis")
def _(c):
    c.patient("female", 67)
    diagnostic_report(c, 120, conclusion=(
        "Lumbar spine (L1-L4) T-score -1.6, Z-score -0.4. The lowest T-score is \u22122.8 at the left femoral "
        "neck. Compared with the prior study of 2021, when the femoral neck T-score was -2.4, BMD has declined."))
    c.condition("ra", 1500)
    return yes("high", OTS, "inflammatory_disease", note="score read from report text")


@scenario("report_text_lowz_html_document", "Z-score only in a DocumentReference HTML table (GE Lunar style)")
def _(c):
    c.patient("male", 37)
    html = ("<html><body><h3>Bone Densitometry</h3><table><tr><th>Region</th><th>BMD (g/cm&sup2;)</th>"
            "<th>T-score</th><th>Z-score</th></tr><tr><td>L1-L4</td><td>0.861</td><td>-2.1</td>"
            "<td>&minus;2.2</td></tr><tr><td>Neck Left</td><td>0.78</td><td>-1.5</td><td>-1.3</td></tr>"
            "</table></body></html>")
    document_reference(c, 100, {"contentType": "text/html", "data": _b64(html)})
    return yes("low", LZ, "unexplained", note="score read from report text")


@scenario("report_text_hologic_presented_form",
          "Hologic table as a base64 presentedForm, total hip T -2.6, scan date in the text, on anastrozole")
def _(c):
    c.patient("female", 63)
    text = "\n".join([
        "DUAL ENERGY X-RAY ABSORPTIOMETRY", f"Scan Date: {_mdy(c, 150)}", "",
        "DXA Results Summary: Left Hip",
        "Region      BMD(g/cm2)  T-Score  PR(%)  Z-Score  AM(%)",
        "Neck             0.641     -2.3     72     -1.1     86",
        "Troch            0.552     -2.9     70     -1.9     80",
        "Total            0.689     -2.6     71     -1.4     84",
    ])
    diagnostic_report(c, 148, forms=[{"contentType": "text/plain", "data": _b64(text)}])
    c.statement("anastrozole", 400, None)
    return yes("high", OTS, "aromatase_inhibitor", note="trochanter extracted, never screened")


@scenario("report_text_binary_rtf", "RTF report in a Binary resource referenced from a DocumentReference")
def _(c):
    c.patient("female", 71)
    rtf = ("{\\rtf1\\ansi{\\fonttbl{\\f0 Arial;}}\\f0 BONE DENSITY REPORT\\par Right total hip: T-score "
           "\\u8722?2.9, Z-score -1.2\\par Right femoral neck: T-score -2.4\\par}")
    bid = c.rid("bin")
    c.add({"resourceType": "Binary", "id": bid, "contentType": "text/rtf", "data": _b64(rtf)})
    document_reference(c, 200, {"contentType": "text/rtf", "url": f"Binary/{bid}"})
    c.condition("ra", 2000)
    return yes("high", OTS, "inflammatory_disease", note="attachment url resolved to a Binary of the same load")


@scenario("report_text_frax", "FRAX MOF 24% written in a DXA report counts as recorded FRAX; T-scores osteopenic")
def _(c):
    c.patient("female", 74)
    diagnostic_report(c, 90, conclusion=(
        "Femoral neck T-score -2.1. Total hip T-score -1.8. FRAX 10-year probability: major osteoporotic "
        "fracture 24%, hip fracture 2.6%."))
    c.condition("ra", 2500)
    return yes("medium", HFR, "inflammatory_disease")


@scenario("report_text_trap_prior_and_threshold",
          "Only historical and threshold values reach -2.5 in the text; current T -1.7: not listed")
def _(c):
    c.patient("female", 69)
    diagnostic_report(c, 80, conclusion=(
        "Prior study 2019: femoral neck T-score -2.9. WHO criteria: osteoporosis is a T-score of -2.5 or below. "
        "Current femoral neck T-score -1.7; total hip T-score -1.2. Change since 2019: -2.1%."))
    c.condition("ra", 2500)
    return no(causes="inflammatory_disease")


@scenario("report_text_discrete_wins", "Report text T -2.9 and a discrete femur T -2.1 of the same date: discrete wins")
def _(c):
    c.patient("female", 66)
    c.dxa(110, femur_t=-2.1, procedure=False)
    diagnostic_report(c, 110, conclusion="Left femoral neck T-score -2.9.")
    c.condition("ra", 2500)
    return no(causes="inflammatory_disease", note="the discrete Observation wins (data-quality: none)")


@scenario("report_text_unreadable_pdf", "DXA report only as a PDF without a text layer: warned, never guessed")
def _(c):
    c.patient("female", 70)
    diagnostic_report(c, 60, forms=[{"contentType": "application/pdf", "data": _b64("%PDF-1.4\n%scanned image\n")}])
    c.condition("ra", 2500)
    return no(causes="inflammatory_disease", note="data-quality warning dxa_report_unread")
