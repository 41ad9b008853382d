"""Synthetic FHIR R4 population with planted ground truth (`osteoscreen synth`).

- `generate(out_dir, patients, seed, as_of)` writes Bulk-style NDJSON (one file per resource type),
  `ground_truth.csv` and `ground_truth.md`; returns a `SynthSummary`.
- `write_case_resources(resources, out_dir)` writes arbitrary resources to a Bulk-style folder (for tests).
- `SCENARIOS` / `scenario` (screening.synth.scenarios) is the registry of planted cases.
"""

from screening.synth.chart import Chart
from screening.synth.generate import GT_COLUMNS, SynthSummary, build_scenario, generate, patient_id
from screening.synth.scenarios import SCENARIOS, Scenario, Truth, scenario
from screening.synth.writer import BulkWriter, write_case_resources

__all__ = [
    "GT_COLUMNS",
    "SCENARIOS",
    "BulkWriter",
    "Chart",
    "Scenario",
    "SynthSummary",
    "Truth",
    "build_scenario",
    "generate",
    "patient_id",
    "scenario",
    "write_case_resources",
]
