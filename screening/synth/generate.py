"""`generate()`: planted scenarios first, then background noise, streamed patient by patient to disk."""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from screening.export.cells import neutralise
from screening.synth.chart import Chart
from screening.synth.noise import build_noise
from screening.synth.scenarios import SCENARIOS, Scenario, Truth
from screening.synth.writer import BulkWriter, ensure_dir, open_private

GT_COLUMNS = [
    "patient_id",
    "scenario",
    "expect_listed",
    "expect_priority",
    "expect_risk_markers",
    "expect_causes",
    "expect_unaddressed",
    "note",
    "unchecked",
]
_TRUTH_FIELDS = {
    "expect_priority": "priority",
    "expect_risk_markers": "markers",
    "expect_causes": "causes",
    "expect_unaddressed": "unaddressed",
}
# every file this generator may write; stale ones from an earlier run in the same folder are removed
OWNED_TYPES = [
    "Patient",
    "Observation",
    "Condition",
    "MedicationStatement",
    "MedicationRequest",
    "MedicationAdministration",
    "Medication",
    "Procedure",
    "Encounter",
    "ServiceRequest",
    "DiagnosticReport",
    "DocumentReference",
    "Binary",
]


@dataclass
class SynthSummary:
    out_dir: Path
    patients: int
    planted: int
    noise: int
    resources: dict[str, int] = field(default_factory=dict)
    ground_truth_rows: int = 0
    seed: int = 42
    as_of: date = date(2026, 6, 30)

    @property
    def total_resources(self) -> int:
        return sum(self.resources.values())

    def __str__(self) -> str:
        per_type = ", ".join(f"{k}={v}" for k, v in sorted(self.resources.items()))
        return (
            f"{self.patients} patients ({self.planted} planted, {self.noise} background), "
            f"{self.total_resources} resources [{per_type}], {self.ground_truth_rows} ground-truth rows"
        )


def patient_id(index: int) -> str:
    return f"syn-{index:06d}"


def _mrn(index: int, seed: int) -> str:
    return f"M{(index * 7919 + (seed % 99991) * 104729 + 13) % 10**8:08d}"


def _chart(index: int, seed: int, as_of: date) -> Chart:
    rng = random.Random(f"osteoscreen-synth:{seed}:{index}")
    return Chart(patient_id(index), as_of, rng, _mrn(index, seed))


def _gt_row(pid: str, name: str, truth: Truth) -> list[str]:
    row = {
        "patient_id": pid,
        "scenario": name,
        "expect_listed": "true" if truth.listed else "false",
        "note": truth.note,
        "unchecked": ";".join(truth.unchecked),
    }
    for col, attr in _TRUTH_FIELDS.items():
        value = getattr(truth, attr)
        row[col] = "" if col in truth.unchecked else (value if isinstance(value, str) else ";".join(value))
    return [row[c] for c in GT_COLUMNS]


def build_scenario(
    sc: Scenario, index: int, seed: int = 42, as_of: date = date(2026, 6, 30)
) -> tuple[Chart, Truth]:
    """Build one planted scenario's resources (for tests or ad-hoc cases)."""
    chart = _chart(index, seed, as_of)
    return chart, sc.build(chart)


def generate(
    out_dir: Path, patients: int = 1000, seed: int = 42, as_of: date = date(2026, 6, 30)
) -> SynthSummary:
    """Write a synthetic FHIR R4 population with planted cases and their ground truth to `out_dir`.

    Every planted scenario is always generated first (so the population has at least len(SCENARIOS)
    patients); background patients fill the rest up to `patients`. Same seed and as-of -> same bytes.
    """
    out_dir = ensure_dir(Path(out_dir))
    for rtype in OWNED_TYPES:
        (out_dir / f"{rtype}.ndjson").unlink(missing_ok=True)
    total = max(int(patients), len(SCENARIOS))
    planted_rows: list[tuple[str, Scenario, Truth]] = []
    gt_rows = 0
    with (
        BulkWriter(out_dir) as writer,
        open_private(
            out_dir / "ground_truth.csv", "w", newline="", encoding="utf-8", buffering=1 << 20
        ) as gt_fh,
    ):
        gt = csv.writer(gt_fh, lineterminator="\n")
        gt.writerow(GT_COLUMNS)
        for index in range(1, total + 1):
            chart = _chart(index, seed, as_of)
            if index <= len(SCENARIOS):
                sc = SCENARIOS[index - 1]
                truth = sc.build(chart)
                name = sc.name
                planted_rows.append((chart.pid, sc, truth))
            else:
                profile, markers = build_noise(chart)
                name = f"noise:{profile}"
                truth = Truth(False, "", markers, (), (), "background patient (no cause, no safety trigger)")
            writer.write_all(chart.resources)
            gt.writerow([neutralise(v) for v in _gt_row(chart.pid, name, truth)])  # spreadsheet-safe
            gt_rows += 1
        counts = dict(writer.counts)
    _write_ground_truth_md(out_dir, planted_rows, total, seed, as_of)
    return SynthSummary(
        out_dir=out_dir,
        patients=total,
        planted=len(SCENARIOS),
        noise=total - len(SCENARIOS),
        resources=counts,
        ground_truth_rows=gt_rows,
        seed=seed,
        as_of=as_of,
    )


GT_DOC = """# Ground truth of the synthetic population

Generated by `osteoscreen synth` (screening/synth). Reference date (as-of): **{as_of}**, seed {seed},
{total} patients, of which {planted} are planted scenarios (the first {planted} patient ids) and the rest are
background patients. Every date in the data is relative to the as-of date, so screen with the same `--as-of`.

`ground_truth.csv` has one row per planted patient and one per background patient:

| column | meaning |
|---|---|
| `patient_id` | FHIR Patient.id (`syn-000001`...); `no_patient_resource_low_z` has data but no Patient |
| `scenario` | planted scenario name (below), or `noise:<profile>` for background patients |
| `expect_listed` | `true` / `false`: must the patient be on `worklist.csv`? Always filled. |
| `expect_priority` | `high`, `medium` or `low` when listed; empty when not listed |
| `expect_risk_markers` | `;`-separated sorted marker codes (section 2) the patient has, listed or not |
| `expect_causes` | `;`-separated sorted cause codes (section 3, plus `unexplained`), every cause found |
| `expect_unaddressed` | `;`-separated sorted causes that are not addressed |
| `note` | why, in a few words |
| `unchecked` | `;`-separated names of the columns above whose expectation is deliberately NOT asserted |

An empty value in a column named in `unchecked` means "not checked" (the clinical rules leave it open, see
`note`). An empty value in any other column is an assertion: nothing is expected there. For patients that are
not listed, markers / causes / unaddressed describe what a per-patient evaluation should find; the worklist
itself has no row for them. Background patients are built so that they can never be listed: no secondary
cause, no zoledronic acid / denosumab, Z-scores >= -1.5, FRAX below the thresholds; two profiles carry a
marker without a cause (`noise:osteoporosis_no_cause`, `noise:fracture_no_cause`) and some carry short
prednisone bursts, inhaled or topical steroids and resolved / refuted / entered-in-error records.

## Planted scenarios

| patient | scenario | listed | priority | markers | causes | unaddressed | description |
|---|---|---|---|---|---|---|---|
"""


def _write_ground_truth_md(
    out_dir: Path, rows: list[tuple[str, Scenario, Truth]], total: int, seed: int, as_of: date
) -> None:
    lines = [GT_DOC.format(as_of=as_of.isoformat(), seed=seed, total=total, planted=len(rows))]

    def show(t: Truth, col: str, value: tuple[str, ...] | str) -> str:
        if col in t.unchecked:
            return "(unchecked)"
        return (value if isinstance(value, str) else "; ".join(value)) or "-"

    for pid, sc, t in rows:
        desc = sc.description + (f" ({t.note})" if t.note else "")
        lines.append(
            f"| {pid} | `{sc.name}` | {'yes' if t.listed else 'no'} | {t.priority or '-'} | "
            f"{show(t, 'expect_risk_markers', t.markers)} | {show(t, 'expect_causes', t.causes)} | "
            f"{show(t, 'expect_unaddressed', t.unaddressed)} | {desc.replace('|', '/')} |\n"
        )
    with open_private(out_dir / "ground_truth.md", "w", encoding="utf-8") as fh:
        fh.write("".join(lines))
