"""Precision and recall of reading DXA scores from report text, on the dev and the frozen held-out corpus.

    .venv/bin/python bench/dxa_text.py [--errors]     (or: make bench-dxa-text)

Unit: one (report, score type, site, side, value, date) tuple (FRAX: site mof / hip). Corpus: tests/dxa_reports/
(dev.json and dev2.json tuned on; heldout.json from other templates and phrasings, never used while tuning).
Prints counts only.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from screening.reports.evaluate import score_corpus  # noqa: E402

TARGET_PRECISION, TARGET_RECALL = 0.99, 0.97


def main(argv: list[str]) -> int:
    print(f"{'corpus':<9}{'reports':>8}{'tuples':>8}{'TP':>6}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}"
          f"{'unattributed flagged':>22}{'false warnings':>16}")
    ok = True
    for name in ("dev", "dev2", "heldout"):
        s = score_corpus(ROOT / "tests" / "dxa_reports" / f"{name}.json")
        print(f"{name:<9}{s.reports:>8}{s.tp + s.fn:>8}{s.tp:>6}{s.fp:>5}{s.fn:>5}{s.precision:>11.4f}"
              f"{s.recall:>8.4f}{f'{s.unattributed_flagged}/{s.unattributed_expected}':>22}{s.false_warnings:>16}")
        ok &= s.precision >= TARGET_PRECISION and s.recall >= TARGET_RECALL
        if "--errors" in argv:
            for e in s.errors:
                print("   ", e)
    print(f"target: precision >= {TARGET_PRECISION}, recall >= {TARGET_RECALL}: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
