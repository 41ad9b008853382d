"""Background population: realistic data that must never put anyone on the worklist.

Invariants every profile keeps (so each noise patient is certainly NOT listed):
- no section-3 cause: no cause condition codes, no aromatase inhibitor / ADT, no systemic glucocorticoid
  course reaching 90 days (bursts are <= 10 days, once), levothyroxine only with TSH >= 0.6,
  25(OH)D >= 22 ng/mL, no PTH, no albumin, calcium 8.9-10.1 mg/dL, ALP / phosphate in range;
- no zoledronic acid or denosumab (so no safety condition);
- Z-scores >= -1.5 (so no low_z_score and no `unexplained`); FRAX MOF < 15 %,
  hip 1.0-2.4 % (never a fraction);
- markers only in the `osteoporosis_no_cause` (T <= -2.5) and `fracture_no_cause` profiles, which have
  no cause.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from screening.synth.chart import Chart
from screening.synth.codes import PROCEDURES

SHAPES = ("inline", "inline", "ref", "contained")


def _r(rng: random.Random, lo: float, hi: float, nd: int = 1) -> float:
    return round(rng.uniform(lo, hi), nd)


def _shape(rng: random.Random) -> str:
    return rng.choice(SHAPES)


def _age(rng: random.Random, lo: int = 0, hi: int = 95) -> int:
    return rng.randint(lo, hi)


def _sex(rng: random.Random, p_female: float = 0.52) -> str:
    return "female" if rng.random() < p_female else "male"


def _visits(c: Chart, n: int) -> None:
    for _ in range(n):
        c.visit(c.rng.randint(5, 1500))


def _basic_labs(c: Chart, ago: int) -> None:
    rng = c.rng
    c.lab("glucose", _r(rng, 72, 125, 0), ago)
    if rng.random() < 0.6:
        c.lab("cholesterol", _r(rng, 140, 260, 0), ago)
        c.lab("hdl", _r(rng, 35, 80, 0), ago)
        c.lab("ldl", _r(rng, 60, 180, 0), ago)
        c.lab("triglycerides", _r(rng, 60, 300, 0), ago)
    if rng.random() < 0.5:
        c.lab("hemoglobin", _r(rng, 11.5, 16.5), ago)
        c.lab("wbc", _r(rng, 4.2, 10.5), ago)
        c.lab("platelets", _r(rng, 160, 390, 0), ago)
    if rng.random() < 0.4:
        c.lab("creatinine", _r(rng, 0.6, 1.3, 2), ago)
        c.lab("egfr", _r(rng, 55, 115, 0), ago)
    if rng.random() < 0.3:
        c.lab("sodium", _r(rng, 136, 144, 0), ago)
        c.lab("potassium", _r(rng, 3.6, 5.0), ago)
    if rng.random() < 0.15:
        c.lab("calcium", _r(rng, 8.9, 10.1), ago)
    if rng.random() < 0.1:
        c.lab("vitd", _r(rng, 22, 55), ago)
    if rng.random() < 0.2:
        c.lab("bmi", _r(rng, 19, 38), ago, ref_range=False)


def _procedures(c: Chart, age: int) -> None:
    rng = c.rng
    if rng.random() < 0.3:
        c.procedure(PROCEDURES["vaccination"], rng.randint(10, 700))
    if rng.random() < 0.2:
        c.procedure(PROCEDURES["dental_cleaning"], rng.randint(10, 700))
    if age >= 45 and rng.random() < 0.15:
        c.procedure(PROCEDURES["colonoscopy"], rng.randint(30, 3000))
    if age >= 40 and c.sex == "female" and rng.random() < 0.3:
        c.procedure(PROCEDURES["mammogram"], rng.randint(30, 700))
    if age >= 60 and rng.random() < 0.08:
        c.procedure(PROCEDURES["cataract"], rng.randint(30, 3000))


def _burst(c: Chart) -> None:
    """One short oral prednisone burst (5-10 days) somewhere in the last two years."""
    start = c.rng.randint(15, 700)
    days = c.rng.randint(5, 10)
    if c.rng.random() < 0.5:
        c.statement("prednisone_20", start, start - days + 1, dose=2, shape=_shape(c.rng))
    else:
        c.request(
            "prednisone_10",
            start,
            supply_days=days,
            repeats=0,
            quantity_n=days * 4,
            dose=4,
            shape=_shape(c.rng),
            status="completed",
        )


# ---------------------------------------------------------------------------------------------------------
def empty(c: Chart) -> tuple[str, ...]:
    c.patient(_sex(c.rng), _age(c.rng))
    return ()


def wellness(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 2, 90)
    c.patient(_sex(rng), age)
    _visits(c, rng.randint(1, 3))
    _basic_labs(c, rng.randint(20, 600))
    _procedures(c, age)
    if rng.random() < 0.2:
        c.condition("allergic_rhinitis", rng.randint(100, 4000))
    return ()


def chronic(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 40, 92)
    c.patient(_sex(rng), age)
    _visits(c, rng.randint(1, 4))
    conds = rng.sample(
        ["hypertension", "t2dm", "hyperlipidemia", "obesity", "gerd", "knee_oa", "depression"],
        rng.randint(1, 3),
    )
    drug_for = {
        "hypertension": ["lisinopril", "amlodipine", "hctz"],
        "t2dm": ["metformin"],
        "hyperlipidemia": ["atorvastatin", "simvastatin"],
        "gerd": ["omeprazole"],
        "knee_oa": ["ibuprofen", "acetaminophen"],
        "depression": ["sertraline"],
        "obesity": [],
    }
    for name in conds:
        onset = rng.randint(200, 5000)
        c.condition(name, onset)
        for drug in drug_for[name][: rng.randint(0, 2)]:
            start = min(onset, rng.randint(100, 3000))
            if rng.random() < 0.5:
                c.statement(
                    drug,
                    start,
                    None if rng.random() < 0.7 else rng.randint(1, start - 1),
                    shape=_shape(rng),
                    per_day=rng.choice([1, 1, 2]),
                )
            else:
                c.request(
                    drug,
                    rng.randint(10, 300),
                    supply_days=90,
                    repeats=rng.randint(0, 3),
                    quantity_n=90,
                    shape=_shape(rng),
                    validity_days=365 if rng.random() < 0.5 else None,
                )
    ago = rng.randint(10, 400)
    _basic_labs(c, ago)
    if "t2dm" in conds:
        c.lab("hba1c", _r(rng, 6.0, 9.5), ago)
        c.lab("creatinine", _r(rng, 0.7, 1.4, 2), ago)
        c.lab("egfr", _r(rng, 50, 105, 0), ago)
    _procedures(c, age)
    return ()


def acute(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 1, 90)
    c.patient(_sex(rng), age)
    ago = rng.randint(10, 900)
    c.visit(ago, "Acute care visit")
    c.condition(
        rng.choice(["pharyngitis", "bronchitis", "sinusitis"]),
        ago,
        clinical="resolved",
        abated_ago=max(ago - 14, 0),
    )
    c.request(
        "amoxicillin",
        ago,
        supply_days=10,
        repeats=0,
        quantity_n=30,
        per_day=3,
        shape=_shape(rng),
        status="completed",
    )
    if age >= 12 and rng.random() < 0.35:
        _burst(c)
    return ()


def asthma(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 6, 85)
    c.patient(_sex(rng), age)
    onset = rng.randint(400, 8000)
    c.condition("asthma", onset)
    c.statement("fluticasone_inh", min(onset, 1500), None, dose=2, per_day=2, shape=_shape(rng))
    c.statement(
        "albuterol",
        min(onset, 1500),
        None,
        dose=2,
        per_day=4,
        shape=_shape(rng),
        text="2 puffs every 4-6 hours as needed",
    )
    if rng.random() < 0.4:
        _burst(c)
    _basic_labs(c, rng.randint(30, 500))
    return ()


def dermatology(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 1, 90)
    c.patient(_sex(rng), age)
    c.condition("dermatitis", rng.randint(100, 3000))
    key = rng.choice(["hydrocortisone_crm", "triamcinolone_crm"])
    c.statement(
        key,
        rng.randint(100, 600),
        None,
        dose=None,
        per_day=2,
        shape=_shape(rng),
        text="apply to affected area twice daily",
    )
    return ()


def normal_dxa(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 52, 88)
    c.patient(_sex(rng, 0.8), age)
    ago = rng.randint(30, 1000)
    c.dxa(
        ago,
        bmd=rng.random() < 0.5,
        unit_style=rng.randint(0, 2),
        spine_t=_r(rng, -2.2, 1.0),
        hip_t=_r(rng, -2.2, 0.8),
        spine_z=_r(rng, -1.4, 1.2),
        hip_z=_r(rng, -1.4, 1.0),
    )
    if rng.random() < 0.5:
        c.frax(_r(rng, 3.0, 14.5), _r(rng, 1.0, 2.4), ago)
    if rng.random() < 0.4:
        c.statement("cholecalciferol_1000", rng.randint(100, 900), None, shape=_shape(rng))
    if rng.random() < 0.3:
        c.lab("vitd", _r(rng, 24, 60), rng.randint(20, 300))
        c.lab("calcium", _r(rng, 8.9, 10.1), rng.randint(20, 300))
    _procedures(c, age)
    return ()


def osteoporosis_no_cause(c: Chart) -> tuple[str, ...]:
    """Osteoporotic T-score with no secondary cause: marker without cause, never listed."""
    rng = c.rng
    age = _age(rng, 60, 92)
    c.patient(_sex(rng, 0.8), age)
    ago = rng.randint(30, 900)
    c.dxa(
        ago,
        unit_style=rng.randint(0, 2),
        spine_t=_r(rng, -3.4, -1.0),
        hip_t=_r(rng, -3.4, -2.5),
        hip_z=_r(rng, -1.5, -0.3),
    )
    if rng.random() < 0.5:
        c.alendronate(
            rng.randint(100, 1500), None if rng.random() < 0.6 else rng.randint(1, 90), shape=_shape(rng)
        )
    if rng.random() < 0.3:
        c.frax(_r(rng, 8.0, 14.5), _r(rng, 1.0, 2.4), ago)
    if rng.random() < 0.3:
        _burst(c)
    if rng.random() < 0.2:
        c.condition("asthma", rng.randint(400, 8000))
        c.statement("fluticasone_inh", 1000, None, dose=2, per_day=2, shape=_shape(rng))
    if rng.random() < 0.3:
        c.lab("vitd", _r(rng, 24, 60), rng.randint(20, 300))
    return ("osteoporosis_t_score",)


def fracture_no_cause(c: Chart) -> tuple[str, ...]:
    """Hip or wrist fracture at >= 55 with no secondary cause: marker without cause, never listed."""
    rng = c.rng
    age = _age(rng, 62, 95)
    c.patient(_sex(rng, 0.7), age)
    ago = rng.randint(30, (age - 56) * 365)
    c.condition(
        rng.choice(["fx_hip", "fx_distal_radius"]),
        ago,
        category="encounter-diagnosis",
        clinical=rng.choice(["active", "resolved"]),
        abated_ago=None,
    )
    c.visit(ago, "Emergency department visit")
    if rng.random() < 0.4:
        c.condition("knee_oa", rng.randint(100, 5000))
    return ("fragility_fracture",)


def minor_fracture(c: Chart) -> tuple[str, ...]:
    """Finger, toe, ankle or nasal fractures at any age: never fragility fractures."""
    rng = c.rng
    age = _age(rng, 5, 90)
    c.patient(_sex(rng), age)
    ago = rng.randint(10, 2000)
    c.condition(
        rng.choice(["fx_finger", "fx_toe", "fx_ankle", "fx_nasal"]),
        ago,
        category="encounter-diagnosis",
        clinical="resolved",
    )
    c.request(
        "ibuprofen",
        ago,
        supply_days=7,
        repeats=0,
        quantity_n=21,
        per_day=3,
        shape=_shape(rng),
        status="completed",
    )
    return ()


def hypothyroid_treated(c: Chart) -> tuple[str, ...]:
    rng = c.rng
    age = _age(rng, 25, 85)
    c.patient(_sex(rng, 0.75), age)
    onset = rng.randint(400, 6000)
    c.condition("hypothyroidism", onset)
    c.statement("levothyroxine", min(onset, 2000), None, shape=_shape(rng))
    ago = rng.randint(20, 300)
    c.lab("tsh", _r(rng, 0.6, 3.8, 2), ago)
    if rng.random() < 0.5:
        c.lab("ft4", _r(rng, 0.9, 1.6, 2), ago)
    _basic_labs(c, ago)
    return ()


def record_status(c: Chart) -> tuple[str, ...]:
    """Resolved, refuted and entered-in-error records of unrelated things."""
    rng = c.rng
    age = _age(rng, 18, 90)
    c.patient(_sex(rng), age)
    c.condition("hypertension", rng.randint(100, 2000), verification="refuted")
    c.condition("bronchitis", rng.randint(200, 2000), clinical="resolved", abated_ago=100)
    c.condition("t2dm", rng.randint(100, 2000), verification="entered-in-error")
    c.lab("glucose", _r(rng, 80, 110, 0), rng.randint(10, 300), status="entered-in-error")
    c.lab("glucose", _r(rng, 80, 110, 0), rng.randint(10, 300))
    c.request(
        "amoxicillin", rng.randint(10, 300), supply_days=10, repeats=0, status="cancelled", shape=_shape(rng)
    )
    c.request("lisinopril", rng.randint(10, 300), supply_days=30, repeats=0, status="entered-in-error")
    return ()


PROFILES: list[tuple[str, Callable[[Chart], tuple[str, ...]], int]] = [
    ("empty", empty, 8),
    ("wellness", wellness, 22),
    ("chronic", chronic, 22),
    ("acute", acute, 10),
    ("asthma", asthma, 6),
    ("dermatology", dermatology, 4),
    ("normal_dxa", normal_dxa, 9),
    ("osteoporosis_no_cause", osteoporosis_no_cause, 5),
    ("fracture_no_cause", fracture_no_cause, 3),
    ("minor_fracture", minor_fracture, 4),
    ("hypothyroid_treated", hypothyroid_treated, 4),
    ("record_status", record_status, 3),
]
_NAMES = [p[0] for p in PROFILES]
_WEIGHTS = [p[2] for p in PROFILES]
_FUNCS = {p[0]: p[1] for p in PROFILES}


def build_noise(c: Chart) -> tuple[str, tuple[str, ...]]:
    """Fill `c` with one background patient; returns (profile name, risk markers it has)."""
    name = c.rng.choices(_NAMES, _WEIGHTS)[0]
    return name, _FUNCS[name](c)
