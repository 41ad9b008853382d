"""De-identified worklist for analysts (worklist-deidentified.csv).

Pseudonyms are HMAC-SHA256(salt, id): stable across runs with the same salt, not reversible without it. No names,
MRNs, birth dates or free text (evidence, actions, notes, care team names); age in whole years with 90 and over as
"90+"; every date shifted per patient by a stable offset (-180..+180 days from the same HMAC), so intervals within
a patient survive. The salt is a secret: read from a file or an environment variable, never logged or stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import date, timedelta
from pathlib import Path

from screening.errors import ConfigError
from screening.export.worklist_csv import write_csv

COLUMNS = ["pseudo_id", "age", "sex", "priority", "risk_markers", "causes", "unaddressed", "evidence_ids", "status",
           "safety", "first_listed"]
SALT_ENV = "OSTEOSCREEN_DEID_SALT"


def read_salt(salt_file: Path | None) -> bytes:
    """The salt from --salt-file, else $OSTEOSCREEN_DEID_SALT; at least 16 bytes."""
    if salt_file is not None:
        try:
            salt = Path(salt_file).read_bytes().strip()
        except OSError as exc:
            raise ConfigError(f"{salt_file}: cannot read the de-identification salt: {exc.strerror}") from None
    else:
        salt = os.environ.get(SALT_ENV, "").encode()
    if len(salt) < 16:
        raise ConfigError(f"--deidentify needs a salt of at least 16 bytes (--salt-file or ${SALT_ENV})")
    return salt


def pseudonym(salt: bytes, kind: str, value: str) -> str:
    return hmac.new(salt, f"{kind}\x00{value}".encode(), hashlib.sha256).hexdigest()[:20]


def shift_days(salt: bytes, patient_id: str) -> int:
    digest = hmac.new(salt, f"shift\x00{patient_id}".encode(), hashlib.sha256).digest()
    return int.from_bytes(digest[:4], "big") % 361 - 180


def age(birth: date | None, as_of: date) -> str:
    if birth is None:
        return ""
    years = as_of.year - birth.year - ((as_of.month, as_of.day) < (birth.month, birth.day))
    return "90+" if years >= 90 else str(max(years, 0))


def _ref(salt: bytes, ref: str) -> str:
    rtype, _, rid = ref.partition("/")
    return f"{rtype}/{pseudonym(salt, rtype, rid)}" if rid else pseudonym(salt, "ref", ref)


def deidentified_rows(patients: list[dict], salt: bytes, as_of: date) -> list[tuple]:
    rows = []
    for p in patients:
        pid = p["patient_id"]
        offset = timedelta(days=shift_days(salt, pid))
        first = p["first_listed"] + offset if p["first_listed"] else None
        rows.append((pseudonym(salt, "Patient", pid), age(p["birth_date"], as_of), p["gender"] or "", p["priority"],
                     ";".join(p["markers"] or []), ";".join(p["causes"] or []), ";".join(p["unaddressed"] or []),
                     ";".join(_ref(salt, r) for r in p["evidence_ids"] or []), p["status"], p["safety"], first))
    return rows


def write_deidentified(out_dir: Path, patients: list[dict], salt: bytes, as_of: date) -> Path:
    return write_csv(Path(out_dir) / "worklist-deidentified.csv", COLUMNS, deidentified_rows(patients, salt, as_of))
