"""Planted patients: one small function per scenario, each returning its exact expectation.

Add a scenario by writing a function `def name(c: Chart) -> Truth` decorated with `@scenario(...)`. It builds
the patient's resources on `c` (dates in days before the reference date) and returns what the screening must
report for it per clinical-rules.md (section 7 decides). Columns that are not certain go in `unchecked`.

Conventions used below: a T-score marker is a female aged 60-75 with a hip T-score only (no Z-score, so no
`unexplained`); a low-Z marker is a 30-45 year old with a single Z-score. Everything else a scenario adds
is the thing under test.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from screening.synth.chart import Chart
from screening.synth.codes import DRUGS

OSTEO_DRUGS_NOTE = "osteoporosis pharmacotherapy"


@dataclass(frozen=True)
class Truth:
    listed: bool
    priority: str = ""  # high | medium | low | "" (not listed)
    markers: tuple[str, ...] = ()
    causes: tuple[str, ...] = ()
    unaddressed: tuple[str, ...] = ()
    note: str = ""
    unchecked: tuple[str, ...] = ()  # ground-truth columns whose expectation is deliberately not asserted


def _split(v: str | tuple[str, ...]) -> tuple[str, ...]:
    if isinstance(v, tuple):
        return tuple(sorted(v))
    return tuple(sorted(x for x in v.split(";") if x))


def yes(
    priority: str,
    markers: str,
    causes: str,
    unaddressed: str | None = None,
    note: str = "",
    unchecked: str = "",
) -> Truth:
    return Truth(
        True,
        priority,
        _split(markers),
        _split(causes),
        _split(causes if unaddressed is None else unaddressed),
        note,
        _split(unchecked),
    )


def no(
    markers: str = "", causes: str = "", unaddressed: str | None = None, note: str = "", unchecked: str = ""
) -> Truth:
    """Not listed. `unaddressed` defaults to every cause (pass "" when the causes are addressed)."""
    return Truth(
        False,
        "",
        _split(markers),
        _split(causes),
        _split(causes if unaddressed is None else unaddressed),
        note,
        _split(unchecked),
    )


@dataclass(frozen=True)
class Scenario:
    name: str
    build: Callable[[Chart], Truth]
    description: str
    tags: tuple[str, ...] = field(default_factory=tuple)
    has_patient_resource: bool = True


SCENARIOS: list[Scenario] = []


def scenario(name: str, description: str = "", *tags: str, patient_resource: bool = True):
    """Register a planted scenario (order of registration = order of generation)."""

    def deco(fn: Callable[[Chart], Truth]) -> Callable[[Chart], Truth]:
        if any(s.name == name for s in SCENARIOS):
            raise ValueError(f"duplicate scenario {name}")
        SCENARIOS.append(
            Scenario(name, fn, description or (fn.__doc__ or "").strip(), tags, patient_resource)
        )
        return fn

    return deco


# ---------------------------------------------------------------------------------------------------------
# Building blocks
OTS = "osteoporosis_t_score"
LZ = "low_z_score"
FF = "fragility_fracture"
HFR = "high_fracture_risk"


def osteo(
    c: Chart,
    *,
    age: int = 68,
    sex: str = "female",
    t: float = -2.7,
    site: str = "hip",
    ago: int = 90,
    unit_style: int = 0,
) -> None:
    """Patient with an osteoporosis-range T-score (marker osteoporosis_t_score)."""
    c.patient(sex, age)
    c.dxa(ago, unit_style=unit_style, **{f"{site}_t": t})


def lowz(
    c: Chart,
    *,
    age: int = 38,
    sex: str = "female",
    z: float = -2.2,
    site: str = "spine",
    ago: int = 90,
    unit_style: int = 0,
) -> None:
    """Young adult with a single low Z-score (marker low_z_score)."""
    c.patient(sex, age)
    c.dxa(ago, unit_style=unit_style, **{f"{site}_z": z})


def fracture(c: Chart, name: str, *, age: int = 72, sex: str = "female", ago: int = 200, **kw) -> None:
    c.patient(sex, age)
    c.condition(name, ago, category="encounter-diagnosis", **kw)


def pred(c: Chart, start: int, end: int | None, key: str = "prednisone_5", tabs: float = 1, **kw) -> dict:
    """Prednisone (or another oral GC) statement, `tabs` tablets once daily."""
    return c.statement(key, start, end, dose=tabs, **kw)


# =========================================================================================================
# Low Z-score and `unexplained`
@scenario(
    "lowz_exactly_minus_2_0", "Z = -2.0 exactly is low (inclusive); no cause -> unexplained, low priority"
)
def _(c):
    lowz(c, z=-2.0)
    return yes("low", LZ, "unexplained")


@scenario("lowz_minus_1_9", "Z = -1.9 is not low")
def _(c):
    lowz(c, z=-1.9)
    return no()


@scenario("lowz_under_18", "16-year-old with Z -2.8: adult rules exclude < 18")
def _(c):
    c.patient("male", 16)
    c.dxa(120, hip_z=-2.8)
    return no()


@scenario("lowz_scan_on_18th_birthday", "Scan on the 18th birthday: age 18 at the scan counts")
def _(c):
    c.patient("female", 18, at_ago=60, days_after_birthday=0)
    c.dxa(60, spine_z=-2.2)
    return yes("low", LZ, "unexplained")


@scenario("lowz_scan_day_before_18th_birthday", "Scan the day before the 18th birthday: age 17, excluded")
def _(c):
    c.patient("female", 17, at_ago=60, days_after_birthday=364)
    c.dxa(60, spine_z=-2.4)
    return no(note="age is 17 completed years at the scan (the patient is 18 at the reference date)")


@scenario(
    "lowz_minus_2_5_unexplained_high", "Z = -2.5 reaches the <= -2.5 high trigger; unexplained is unaddressed"
)
def _(c):
    lowz(c, sex="male", age=41, z=-2.5)
    return yes(
        "high", LZ, "unexplained", note="Z <= -2.5 with an unaddressed cause (unexplained), no therapy"
    )


@scenario("lowz_minus_2_7_unexplained_high", "Z -2.7 at the femur, nothing else")
def _(c):
    lowz(c, age=29, z=-2.7, site="femur", unit_style=1)
    return yes("high", LZ, "unexplained")


@scenario(
    "lowz_minus_2_7_on_alendronate", "Z -2.7, unexplained, but on alendronate: no high; not low (Z <= -2.5)"
)
def _(c):
    lowz(c, age=46, z=-2.7)
    c.alendronate(300, None)
    return yes(
        "medium",
        LZ,
        "unexplained",
        note="unexplained is not addressable by pharmacotherapy; high needs no therapy; low needs Z > -2.5",
    )


@scenario("lowz_minus_2_4_low", "Z -2.4 unexplained -> low")
def _(c):
    lowz(c, age=33, z=-2.4, site="hip", unit_style=2)
    return yes("low", LZ, "unexplained")


@scenario("unexplained_tier1_panel_female", "Low Z with a normal tier-1 panel in the window: no unexplained")
def _(c):
    lowz(c, age=41, z=-2.3)
    c.tier1_panel(60)
    return no(LZ, "", note="tier-1 panel (Ca, phosphate, ALP, creatinine/eGFR, 25(OH)D, TSH) resulted")


@scenario(
    "unexplained_male_panel_without_testosterone", "Man: tier-1 panel without testosterone is incomplete"
)
def _(c):
    lowz(c, sex="male", age=42, z=-2.3)
    c.tier1_panel(60)
    return yes("low", LZ, "unexplained")


@scenario("unexplained_male_panel_with_testosterone", "Man: complete tier-1 panel incl. testosterone")
def _(c):
    lowz(c, sex="male", age=42, z=-2.3)
    c.tier1_panel(60, testosterone=True)
    return no(LZ, "")


@scenario("unexplained_panel_outside_lab_window", "Tier-1 panel 14 months ago does not count")
def _(c):
    lowz(c, age=37, z=-2.3)
    c.tier1_panel(425)
    return yes("low", LZ, "unexplained")


@scenario("lowz_forearm_only_scan", "Forearm Z -2.3 on a scan with no spine/hip/femur value counts")
def _(c):
    lowz(c, age=34, z=-2.3, site="forearm")
    return yes("low", LZ, "unexplained")


@scenario(
    "lowz_older_adult", "Low Z has no upper age limit: 72-year-old man, Z -2.1, T -2.0 (T not osteoporotic)"
)
def _(c):
    c.patient("male", 72)
    c.dxa(100, spine_t=-2.0, spine_z=-2.1)
    return yes("low", LZ, "unexplained")


# =========================================================================================================
# DXA data selection
@scenario("dxa_latest_scan_wins", "Old scan Z -2.8, newer scan Z -1.6: the latest scan decides")
def _(c):
    c.patient("female", 36)
    c.dxa(700, spine_z=-2.8)
    c.dxa(60, spine_z=-1.6)
    return no()


@scenario("dxa_older_than_36_months", "Z -2.8 dated 37 months ago is outside the DXA look-back")
def _(c):
    c.patient("female", 36)
    c.dxa(1130, spine_z=-2.8)
    return no()


@scenario("dxa_35_months_old_counts", "Z -2.3 dated 35 months ago is inside the DXA look-back")
def _(c):
    c.patient("female", 39)
    c.dxa(1065, spine_z=-2.3)
    return yes("low", LZ, "unexplained")


@scenario(
    "dxa_value_out_of_range", "Z-score code with value -8.2 is not a score: quarantined, never screened"
)
def _(c):
    c.patient("female", 35)
    c.dxa(80, spine_z=-8.2)
    return no(note="value outside -7..+7 -> data-quality issue")


@scenario("dxa_entered_in_error", "Z -3.0 with status entered-in-error")
def _(c):
    c.patient("female", 34)
    c.dxa(80, status="entered-in-error", spine_z=-3.0)
    return no()


@scenario("dxa_preliminary", "Z -3.0 with status preliminary does not count")
def _(c):
    c.patient("female", 34)
    c.dxa(80, status="preliminary", spine_z=-3.0)
    return no()


@scenario("dxa_amended_counts", "Z -2.3 with status amended counts")
def _(c):
    c.patient("female", 31)
    c.dxa(80, status="amended", spine_z=-2.3)
    return yes("low", LZ, "unexplained")


@scenario("dxa_future_dated", "Z -3.0 dated 20 days after the reference date")
def _(c):
    c.patient("female", 34)
    c.dxa(-20, spine_z=-3.0)
    return no(note="dated after as-of")


@scenario(
    "dxa_version_corrected_to_normal", "Same Observation id: versionId 2 (Z -1.2) supersedes 1 (Z -3.0)"
)
def _(c):
    c.patient("female", 35)
    rid = c.rid("obs")
    c.score("spine", "Z", -1.2, 70, version=2, rid=rid)
    c.score("spine", "Z", -3.0, 70, version=1, rid=rid)
    return no(note="version 2 is written before version 1 so last-loaded would pick the wrong one")


@scenario("dxa_version_corrected_to_low", "Same Observation id: versionId 2 (Z -2.6) supersedes 1 (Z -1.1)")
def _(c):
    c.patient("female", 35)
    rid = c.rid("obs")
    c.score("spine", "Z", -2.6, 70, version=2, rid=rid)
    c.score("spine", "Z", -1.1, 70, version=1, rid=rid)
    return yes("high", LZ, "unexplained")


@scenario("no_birth_date_low_z", "No birthDate: the Z-score rule still runs")
def _(c):
    c.patient("female", None, birth_date=False)
    c.dxa(90, spine_z=-2.2)
    return yes("low", LZ, "unexplained", note="data-quality warning expected (no birth date)")


@scenario("no_birth_date_t_score", "No birthDate: the T-score rule does not run, so RA has no marker")
def _(c):
    c.patient("female", None, birth_date=False)
    c.dxa(90, hip_t=-3.0)
    c.condition("ra", 2000)
    return no("", "inflammatory_disease")


@scenario(
    "no_patient_resource_low_z",
    "Clinical data for a Patient id with no Patient resource",
    patient_resource=False,
)
def _(c):
    c.patient("female", None, resource=False)
    c.dxa(90, hip_z=-2.8)
    return yes("high", LZ, "unexplained", note="listed with empty demographics and a data-quality warning")


# =========================================================================================================
# T-score
@scenario("tscore_minus_2_5_at_50", "T -2.5 (inclusive) at exactly 50 with rheumatoid arthritis")
def _(c):
    c.patient("female", 50, at_ago=90, days_after_birthday=10)
    c.dxa(90, hip_t=-2.5)
    c.condition("ra", 1500)
    return yes("high", OTS, "inflammatory_disease")


@scenario("tscore_minus_2_5_at_49", "T -2.5 at 49 (no hypogonadism code): T-scores not used below 50")
def _(c):
    c.patient("female", 49, at_ago=90, days_after_birthday=200)
    c.dxa(90, hip_t=-2.5)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("tscore_49_at_scan_50_now", "49 at the scan, 50 at the reference date: age at the evidence decides")
def _(c):
    c.patient("female", 49, at_ago=120, days_after_birthday=300)
    c.dxa(120, spine_t=-2.9)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("tscore_minus_2_4", "T -2.4 with RA: osteopenia is not a marker")
def _(c):
    osteo(c, age=62, t=-2.4)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("tscore_man_adt", "Man 71, spine T -2.6, on leuprolide")
def _(c):
    osteo(c, sex="male", age=71, t=-2.6, site="spine", unit_style=2)
    c.condition("prostate_cancer", 900)
    c.statement(
        "leuprolide", 400, None, per_day=None, dose=22.5, dose_unit="mg", text="22.5 mg IM every 3 months"
    )
    return yes("high", OTS, "androgen_deprivation")


@scenario("tscore_under_50_with_hypogonadism", "Woman 45 with premature menopause: T-score rule applies")
def _(c):
    c.patient("female", 45)
    c.dxa(90, hip_t=-2.7)
    c.condition("premature_menopause", 2500)
    return yes("high", OTS, "hypogonadism")


@scenario("tscore_forearm_only_scan", "Forearm T -2.9 counts when the scan has no other site")
def _(c):
    osteo(c, age=66, t=-2.9, site="forearm")
    c.condition("ra", 1500)
    return yes("high", OTS, "inflammatory_disease")


@scenario("tscore_forearm_ignored", "Forearm T -3.0 ignored when the scan has spine and hip values")
def _(c):
    c.patient("female", 66)
    c.dxa(90, spine_t=-1.2, hip_t=-1.4, forearm_t=-3.0)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("tscore_left_femur_code", "Left-femur T-score LOINC 80948-3, T -2.8, with Crohn's")
def _(c):
    osteo(c, age=70, t=-2.8, site="left_femur", unit_style=1)
    c.condition("crohn", 3000)
    return yes("high", OTS, "inflammatory_disease")


@scenario("tscore_with_bmd_values", "Scan with BMD g/cm2 values next to T -2.6 (BMD is not a score)")
def _(c):
    c.patient("female", 74)
    c.dxa(100, bmd=True, spine_t=-1.9, hip_t=-2.6)
    c.condition("uc", 2000)
    return yes("high", OTS, "inflammatory_disease")


@scenario("discordance_spine_normal_hip_osteoporotic", "Spine T +0.4, hip -2.6, femur -2.7 on letrozole")
def _(c):
    c.patient("female", 72)
    c.dxa(80, spine_t=0.4, hip_t=-2.6, femur_t=-2.7)
    c.condition("breast_cancer", 800)
    c.statement("letrozole", 500, None, shape="ref")
    return yes("high", OTS, "aromatase_inhibitor", note="spine_hip_discordance in evidence")


@scenario("discordance_spondylosis", "Lumbar spondylosis, spine T -0.3, hip T -2.5, on goserelin")
def _(c):
    c.patient("male", 68)
    c.dxa(80, spine_t=-0.3, hip_t=-2.5)
    c.condition("spondylosis", 1200)
    c.condition("prostate_cancer", 900)
    c.statement(
        "goserelin", 300, None, per_day=None, dose=10.8, dose_unit="mg", text="10.8 mg SC every 12 weeks"
    )
    return yes("high", OTS, "androgen_deprivation", note="spine_hip_discordance in evidence")


@scenario("discordance_hip_osteopenic", "Spine T +0.8, hip -2.1 on anastrozole: hip not osteoporotic")
def _(c):
    c.patient("female", 70)
    c.dxa(80, spine_t=0.8, hip_t=-2.1)
    c.statement("anastrozole", 300, None)
    return no("", "aromatase_inhibitor", note="discordant but classified on the hip: T -2.1 is not a marker")


# =========================================================================================================
# Fragility fractures
@scenario("fracture_hip_with_lupus", "Hip fracture S72.001A at 70 with SLE")
def _(c):
    fracture(c, "fx_hip", age=70, ago=240)
    c.condition("sle", 3000)
    return yes("high", FF, "inflammatory_disease")


@scenario("fracture_vertebral_with_uc", "Lumbar vertebral fracture S32.000A at 60 with ulcerative colitis")
def _(c):
    fracture(c, "fx_vertebral_lumbar", age=60, sex="male", ago=365)
    c.condition("uc", 3000)
    return yes("high", FF, "inflammatory_disease")


@scenario(
    "fracture_distal_radius_with_as", "Distal radius fracture S52.501A at 55 with ankylosing spondylitis"
)
def _(c):
    fracture(c, "fx_distal_radius", age=55, ago=100)
    c.condition("as", 5000)
    return yes("high", FF, "inflammatory_disease")


@scenario(
    "fracture_proximal_humerus_with_psa", "Proximal humerus fracture S42.201A at 72, psoriatic arthritis"
)
def _(c):
    fracture(c, "fx_prox_humerus", age=72, ago=150)
    c.condition("psa", 2500)
    return yes("high", FF, "inflammatory_disease")


@scenario("fracture_pelvis_with_crohn", "Pubic ramus (pelvis) fracture S32.501A at 81 with Crohn's")
def _(c):
    fracture(c, "fx_pubis", age=81, ago=60)
    c.condition("crohn", 6000)
    return yes("high", FF, "inflammatory_disease")


@scenario("fracture_finger_not_fragility", "Finger fracture at 70 with RA: never a fragility fracture")
def _(c):
    fracture(c, "fx_finger", age=70, ago=100)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("fracture_toe_not_fragility", "Great-toe fracture at 68 with RA")
def _(c):
    fracture(c, "fx_toe", age=68, ago=100)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("fracture_face_skull_not_fragility", "Nasal bone and skull vault fractures at 75 with RA")
def _(c):
    fracture(c, "fx_nasal", age=75, ago=100)
    c.condition("fx_skull_vault", 100, category="encounter-diagnosis")
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario(
    "fracture_hip_at_49", "Hip fracture at 49 (now 51) with RA: site rule needs age >= 50 at the fracture"
)
def _(c):
    c.patient("female", 49, at_ago=730, days_after_birthday=100)
    c.condition("fx_hip", 730, category="encounter-diagnosis")
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario(
    "fracture_m80_at_40_with_celiac", "M80.08XA osteoporotic vertebral fracture at 40 counts at any age"
)
def _(c):
    fracture(c, "fx_m80_vertebra", age=40, ago=200)
    c.condition("celiac", 3000)
    return yes("high", FF, "malabsorption")


@scenario(
    "fracture_snomed_osteoporotic_at_45_graves", "SNOMED 443165006 osteoporotic fracture at 45 with Graves"
)
def _(c):
    fracture(c, "fx_osteoporotic_snomed", age=45, ago=200)
    c.condition("graves", 1000)
    return yes("high", FF, "hyperthyroidism")


@scenario("fracture_resolved_history_mgus", "Resolved hip fracture 9 years ago (history counts) with MGUS")
def _(c):
    c.patient("female", 79)
    c.condition("fx_hip", 3300, clinical="resolved", abated_ago=3200, category="encounter-diagnosis")
    c.condition("mgus", 700)
    return yes("high", FF, "myeloma")


@scenario("fracture_refuted", "Refuted hip fracture with RA")
def _(c):
    fracture(c, "fx_hip", age=70, ago=100, verification="refuted")
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("fracture_entered_in_error", "Hip fracture entered-in-error with RA")
def _(c):
    fracture(c, "fx_hip", age=70, ago=100, verification="entered-in-error")
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("fracture_future_dated", "Hip fracture with onset 15 days after the reference date, with RA")
def _(c):
    fracture(c, "fx_hip", age=70, ago=-15)
    c.condition("ra", 1500)
    return no("", "inflammatory_disease")


@scenario("fracture_repeated_codes_one_event", "Hip fracture coded twice 20 days apart, on anastrozole")
def _(c):
    fracture(c, "fx_hip", age=74, ago=100)
    c.condition("fx_hip_subsequent", 80, category="encounter-diagnosis")
    c.statement("anastrozole", 600, None, shape="contained")
    return yes("high", FF, "aromatase_inhibitor", note="one fracture event")


@scenario("fracture_recorded_date_only", "Distal radius fracture with only recordedDate (6 months ago), SLE")
def _(c):
    c.patient("female", 67)
    c.condition("fx_distal_radius", None, recorded_ago=180, category="encounter-diagnosis")
    c.condition("sle", 3000)
    return yes("high", FF, "inflammatory_disease")


# =========================================================================================================
# FRAX
@scenario("frax_mof_20_with_ai", "FRAX MOF 20.0% (inclusive) on anastrozole: marker, medium")
def _(c):
    c.patient("female", 62)
    c.frax(20.0, 1.8)
    c.request("anastrozole", 40, supply_days=90, repeats=3, quantity_n=90)
    return yes("medium", HFR, "aromatase_inhibitor", note="FRAX is not a high trigger")


@scenario("frax_mof_19_9_with_ai", "FRAX MOF 19.9% on anastrozole: below threshold")
def _(c):
    c.patient("female", 62)
    c.frax(19.9, 1.8)
    c.request("anastrozole", 40, supply_days=90, repeats=3, quantity_n=90)
    return no("", "aromatase_inhibitor")


@scenario("frax_hip_3_with_adt", "FRAX hip 3.0% on leuprolide")
def _(c):
    c.patient("male", 74)
    c.frax(12.0, 3.0)
    c.statement("leuprolide", 500, None, per_day=None, dose=22.5, dose_unit="mg")
    return yes("medium", HFR, "androgen_deprivation")


@scenario("frax_hip_2_9_with_adt", "FRAX hip 2.9% on leuprolide")
def _(c):
    c.patient("male", 74)
    c.frax(12.0, 2.9)
    c.statement("leuprolide", 500, None, per_day=None, dose=22.5, dose_unit="mg")
    return no("", "androgen_deprivation")


@scenario("frax_fraction_form", "FRAX MOF recorded as fraction 0.2 (= 20%) on exemestane")
def _(c):
    c.patient("female", 64)
    c.frax(0.2, 0.015, unit="1")
    c.statement("exemestane", 300, None)
    return yes("medium", HFR, "aromatase_inhibitor", note="0.2 -> 20%; hip 0.015 -> 1.5%")


@scenario("frax_older_than_24_months", "FRAX MOF 25% dated 25 months ago, on anastrozole")
def _(c):
    c.patient("female", 64)
    c.frax(25.0, 4.0, ago=765)
    c.statement("anastrozole", 900, None)
    return no("", "aromatase_inhibitor")


@scenario("frax_gc_multiplier_mof", "FRAX MOF 18% x 1.15 = 20.7% with prednisone 10 mg/day current")
def _(c):
    c.patient("female", 66)
    c.frax(18.0, 2.0)
    pred(c, 150, None, key="prednisone_10")
    c.condition("asthma", 4000)
    return yes("high", HFR, "glucocorticoid", note="GC mean 10 mg/day >= 7.5 and current: multiplier + high")


@scenario("frax_gc_multiplier_hip", "FRAX hip 2.6% x 1.20 = 3.12% with prednisolone 10 mg/day current")
def _(c):
    c.patient("male", 70)
    c.frax(10.0, 2.6)
    pred(c, 200, None, key="prednisolone_5", tabs=2, shape="ref")
    return yes("high", HFR, "glucocorticoid")


@scenario("frax_gc_5mg_no_multiplier", "FRAX MOF 18% with prednisone 5 mg/day: no multiplier, no marker")
def _(c):
    c.patient("female", 66)
    c.frax(18.0, 2.0)
    pred(c, 150, None)
    return no("", "glucocorticoid")


@scenario("frax_gc_dose_unknown_no_multiplier", "FRAX MOF 18% with current prednisone of unknown dose")
def _(c):
    c.patient("female", 66)
    c.frax(18.0, 2.0)
    c.statement("prednisone_in", 150, None, dose=None, route="oral", text="prednisone as directed")
    return no("", "glucocorticoid", note="dose unknown never triggers the multiplier")


@scenario("frax_high_no_cause", "FRAX MOF 28% with no secondary cause: marker alone is not listed")
def _(c):
    c.patient("female", 77)
    c.frax(28.0, 5.5)
    return no(HFR, "")


# =========================================================================================================
# Glucocorticoids (marker: hip T -2.7 unless stated)
@scenario("gc_90_days_5mg", "Prednisone 5 mg/day for exactly 90 days (inclusive), ended 111 days ago")
def _(c):
    osteo(c)
    pred(c, 200, 111)
    return yes("high", OTS, "glucocorticoid")


@scenario("gc_89_days_5mg", "Prednisone 5 mg/day for 89 days")
def _(c):
    osteo(c)
    pred(c, 200, 112)
    return no(OTS, "")


@scenario("gc_inhaled_fluticasone", "Inhaled fluticasone daily for a year")
def _(c):
    osteo(c)
    c.condition("asthma", 3000)
    c.statement("fluticasone_inh", 365, None, dose=2, per_day=2)
    return no(OTS, "")


@scenario("gc_topical_triamcinolone", "Topical triamcinolone cream for 200 days")
def _(c):
    osteo(c, age=70)
    c.condition("dermatitis", 400)
    c.statement("triamcinolone_crm", 250, 50, dose=None, per_day=2, text="apply thin layer twice daily")
    return no(OTS, "")


@scenario("gc_ophthalmic_dexamethasone", "Dexamethasone eye drops for 150 days")
def _(c):
    osteo(c, age=71)
    c.statement("dexamethasone_eye", 200, 50, dose=None, per_day=4, text="1 drop four times daily")
    return no(OTS, "")


@scenario("gc_oral_budesonide", "Oral budesonide 9 mg/day for 200 days: excluded ingredient")
def _(c):
    osteo(c, sex="male", age=66)
    c.statement("budesonide_3", 220, 20, dose=3)
    return no(OTS, "")


@scenario("gc_dose_unknown", "Oral prednisone, dose unknown, 120 days: cause (dose unknown)")
def _(c):
    osteo(c, age=70)
    c.statement("prednisone_in", 200, 81, dose=None, route="oral", text="prednisone taper as directed")
    return yes("high", OTS, "glucocorticoid", note="worklist should say dose unknown")


@scenario("gc_high_dose_current_low_z", "Z -2.2 (no other high trigger) + prednisone 10 mg/day current: high")
def _(c):
    lowz(c, age=40)
    c.condition("sle", 1000)
    pred(c, 150, None, key="prednisone_10")
    return yes("high", LZ, "glucocorticoid;inflammatory_disease", note="GC >= 7.5 mg/day trigger")


@scenario("gc_moderate_dose_current_low_z", "Z -2.2 + prednisone 5 mg/day current: medium")
def _(c):
    lowz(c, age=40)
    pred(c, 150, None)
    return yes("medium", LZ, "glucocorticoid")


@scenario("gc_overlap_merged_80_days", "Two overlapping 60-day courses merge to 80 days (< 90)")
def _(c):
    osteo(c, age=70)
    pred(c, 250, 191)
    pred(c, 230, 171, shape="ref")
    return no(OTS, "", note="naive sum would be 120 days")


@scenario("gc_overlap_merged_100_days", "Two overlapping 60-day courses merge to 100 days")
def _(c):
    osteo(c, age=70)
    pred(c, 250, 191)
    pred(c, 210, 151, shape="contained")
    return yes("high", OTS, "glucocorticoid")


@scenario("gc_order_supply_30_x3", "Active order: 30 days supply + 2 repeats = 90 days (qualifies)")
def _(c):
    osteo(c, age=72)
    c.request("prednisone_5", 20, supply_days=30, repeats=2, quantity_n=30)
    return yes("high", OTS, "glucocorticoid")


@scenario("gc_order_supply_30_x2", "Active order: 30 days supply + 1 repeat = 60 days")
def _(c):
    osteo(c, age=72)
    c.request("prednisone_5", 20, supply_days=30, repeats=1, quantity_n=30)
    return no(OTS, "")


@scenario("gc_order_20mg_low_z", "Z -2.3 + active 90-day order of prednisone 20 mg/day: high (>= 7.5)")
def _(c):
    lowz(c, age=37, z=-2.3)
    c.condition("crohn", 900)
    c.request("prednisone_20", 30, supply_days=90, repeats=0, quantity_n=90, shape="ref", validity_days=120)
    return yes("high", LZ, "glucocorticoid;inflammatory_disease")


@scenario(
    "gc_dexamethasone_conversion", "Dexamethasone 0.5 mg/day x 6.67 = 3.3 mg prednisone-eq for 120 days"
)
def _(c):
    osteo(c, sex="male", age=67, site="spine")
    c.statement("dexamethasone_05", 200, 81)
    return yes("high", OTS, "glucocorticoid")


@scenario("gc_hydrocortisone_low_dose", "Hydrocortisone 5 mg/day = 1.25 mg prednisone-eq: below 2.5")
def _(c):
    osteo(c, age=70)
    c.statement("hydrocortisone_5", 230, 30)
    return no(OTS, "")


@scenario("gc_hydrocortisone_replacement", "Hydrocortisone 20 mg/day with adrenal insufficiency: replacement")
def _(c):
    osteo(c, age=64)
    c.condition("adrenal_insufficiency", 3000)
    c.statement("hydrocortisone_10", 400, None, dose=1, per_day=2)
    return no(OTS, "")


@scenario(
    "gc_methylprednisolone_reference", "Methylprednisolone 4 mg/day (5 mg eq) 100 days via Medication ref"
)
def _(c):
    osteo(c, age=69)
    c.statement("methylpred_4", 160, 61, shape="ref")
    return yes("high", OTS, "glucocorticoid")


@scenario("gc_course_outside_window", "Prednisone 10 mg/day for 150 days that ended 420 days ago")
def _(c):
    osteo(c, age=70)
    pred(c, 569, 420, key="prednisone_10")
    return no(OTS, "")


@scenario("gc_cancelled_order", "Cancelled 90-day prednisone order")
def _(c):
    osteo(c, age=70)
    c.request("prednisone_10", 60, supply_days=90, repeats=0, status="cancelled")
    return no(OTS, "")


@scenario("gc_draft_order", "Draft 90-day prednisone order")
def _(c):
    osteo(c, age=70)
    c.request("prednisone_10", 10, supply_days=90, repeats=0, status="draft")
    return no(OTS, "")


@scenario("gc_stopped_statement_counts", "Stopped statement, 100 days of prednisone 5 mg: still exposure")
def _(c):
    osteo(c, age=70)
    pred(c, 129, 30, status="stopped")
    return yes("high", OTS, "glucocorticoid")


@scenario("gc_route_unknown_prednisone", "Prednisone ingredient code, 5 mg dose, no route/form, 120 days")
def _(c):
    osteo(c, age=70)
    c.statement("prednisone_in", 200, 81, route=None, dose=5, dose_unit="mg")
    return yes("high", OTS, "glucocorticoid", note="route unknown: prednisone still counts")


@scenario(
    "gc_route_unknown_dexamethasone", "Dexamethasone ingredient code, 1 mg dose, no route/form, 120 days"
)
def _(c):
    osteo(c, age=70)
    c.statement("dexamethasone_in", 200, 81, route=None, dose=1, dose_unit="mg")
    return no(
        OTS, "", note="route unknown: only prednisone/prednisolone/methylpred/deflazacort/cortisone count"
    )


@scenario("gc_short_bursts", "Three 5-day prednisone 20 mg bursts in the year (15 days)")
def _(c):
    osteo(c, age=70)
    for start in (300, 200, 60):
        pred(c, start, start - 4, key="prednisone_20")
    return no(OTS, "")


@scenario("gc_future_order", "Prednisone 90-day order authored 5 days after the reference date")
def _(c):
    osteo(c, age=70)
    c.request("prednisone_10", -5, supply_days=90, repeats=0)
    return no(OTS, "", note="dated after as-of")


@scenario(
    "gc_addressed_by_alendronate_5_months", "GC cause; alendronate statement ended 5 months ago: addressed"
)
def _(c):
    osteo(c, age=70, t=-2.8)
    pred(c, 200, 60)
    c.alendronate(900, 150)
    return no(OTS, "glucocorticoid", "", note="bisphosphonate within 6 months of the statement end")


@scenario("gc_alendronate_7_months_ago", "GC cause; alendronate ended 7 months ago: not addressed")
def _(c):
    osteo(c, age=70, t=-2.8)
    pred(c, 200, 60)
    c.alendronate(900, 215)
    return yes("high", OTS, "glucocorticoid")


# =========================================================================================================
# Cushing
@scenario("cushing_code", "Cushing's syndrome E24.9 with T -2.6")
def _(c):
    osteo(c, age=55, t=-2.6)
    c.condition("cushing", 400)
    return yes("high", OTS, "cushing")


@scenario("cushing_drug_induced_excluded", "Drug-induced Cushing E24.2 is not cause cushing")
def _(c):
    osteo(c, age=60, t=-2.6)
    c.condition("cushing_drug", 400)
    return no(OTS, "")


@scenario(
    "cushing_low_z_workup_done", "Low Z only + SNOMED hypercortisolism + endocrinology visit and cortisol"
)
def _(c):
    lowz(c, age=35)
    c.condition("cushing_snomed", 300)
    c.endocrinology_visit(100)
    c.lab("cortisol", 31, 100)
    return no(LZ, "cushing", "", note="low-Z-only: work-up alone addresses")


@scenario("cushing_t_score_workup_no_drug", "T -2.6 + Cushing disease + work-up but no osteoporosis drug")
def _(c):
    osteo(c, age=58, t=-2.6)
    c.condition("cushing_disease", 500)
    c.endocrinology_visit(200)
    c.lab("cortisol", 29, 200)
    return yes("high", OTS, "cushing")


# =========================================================================================================
# Aromatase inhibitors / androgen deprivation / pharmacotherapy windows
@scenario("ai_active_order", "Anastrozole active order, T -2.6")
def _(c):
    osteo(c, age=63, t=-2.6)
    c.condition("breast_cancer", 700)
    c.request("anastrozole", 30, supply_days=90, repeats=3, quantity_n=90, shape="contained")
    return yes("high", OTS, "aromatase_inhibitor")


@scenario("ai_ended_11_months_ago", "Letrozole ended 11 months ago: within 12 months")
def _(c):
    osteo(c, age=63, t=-2.6)
    c.statement("letrozole", 1500, 335)
    return yes("high", OTS, "aromatase_inhibitor")


@scenario("ai_ended_13_months_ago", "Letrozole ended 13 months ago")
def _(c):
    osteo(c, age=63, t=-2.6)
    c.statement("letrozole", 1500, 400)
    return no(OTS, "")


@scenario("ai_without_marker", "Anastrozole with a normal DXA: cause without marker")
def _(c):
    c.patient("female", 58)
    c.dxa(100, spine_t=-1.2, hip_t=-0.9)
    c.statement("anastrozole", 400, None)
    return no("", "aromatase_inhibitor")


@scenario("ai_zoledronic_20_months", "Anastrozole + zoledronic acid 20 months ago: addressed")
def _(c):
    osteo(c, age=66, t=-2.8)
    c.statement("anastrozole", 800, None)
    c.zoledronic(600, shape="ref")
    return no(OTS, "aromatase_inhibitor", "", note="zoledronic acid within 24 months")


@scenario("ai_zoledronic_26_months", "Anastrozole + zoledronic acid 26 months ago: not addressed")
def _(c):
    osteo(c, age=66, t=-2.8)
    c.statement("anastrozole", 1000, None)
    c.zoledronic(790)
    return yes("high", OTS, "aromatase_inhibitor")


@scenario("ai_pamidronate_not_therapy", "Anastrozole + pamidronate 2 months ago: pamidronate does not count")
def _(c):
    osteo(c, age=66, t=-2.8)
    c.statement("anastrozole", 800, None)
    c.administration("pamidronate", 60, dose=90)
    return yes("high", OTS, "aromatase_inhibitor")


@scenario("adt_denosumab_6_months", "Leuprolide + denosumab 6 months ago: addressed")
def _(c):
    osteo(c, sex="male", age=73)
    c.statement("leuprolide", 600, None, per_day=None, dose=22.5, dose_unit="mg")
    c.denosumab(180)
    return no(OTS, "androgen_deprivation", "", note="denosumab within 7 months")


@scenario("adt_denosumab_8_months", "Leuprolide + denosumab 8 months ago: overdue, not addressed")
def _(c):
    osteo(c, sex="male", age=73)
    c.statement("leuprolide", 600, None, per_day=None, dose=22.5, dose_unit="mg")
    c.denosumab(245, shape="contained")
    return yes("high", OTS, "androgen_deprivation")


@scenario("adt_ended_14_months_ago", "Degarelix ended 14 months ago")
def _(c):
    osteo(c, sex="male", age=73)
    c.statement("degarelix", 800, 430, per_day=None, dose=80, dose_unit="mg")
    return no(OTS, "")


@scenario("adt_relugolix_fracture_on_alendronate", "Relugolix + hip fracture, on alendronate: addressed")
def _(c):
    fracture(c, "fx_hip", sex="male", age=76, ago=300)
    c.statement("relugolix", 300, None)
    c.alendronate(250, None, shape="ref")
    return no(FF, "androgen_deprivation", "")


# =========================================================================================================
# Malabsorption
@scenario("malabsorption_celiac", "Celiac K90.0 with T -2.8")
def _(c):
    osteo(c, age=60, t=-2.8)
    c.condition("celiac", 2000)
    return yes("high", OTS, "malabsorption")


@scenario("malabsorption_celiac_workup_and_drug", "Celiac + 25(OH)D, calcium, PTH + alendronate: addressed")
def _(c):
    osteo(c, age=60, t=-2.8)
    c.condition("celiac", 2000)
    c.lab("vitd", 31, 50)
    c.lab("calcium", 9.4, 50)
    c.lab("pth", 45, 50)
    c.alendronate(300, None)
    return no(OTS, "malabsorption", "")


@scenario(
    "malabsorption_celiac_workup_no_drug", "Celiac + complete work-up, no osteoporosis drug: unaddressed"
)
def _(c):
    osteo(c, age=60, t=-2.8)
    c.condition("celiac", 2000)
    c.lab("vitd", 31, 50)
    c.lab("calcium", 9.4, 50)
    c.lab("pth", 45, 50)
    return yes("high", OTS, "malabsorption")


@scenario(
    "malabsorption_celiac_low_z_workup_only", "Low Z only + celiac + work-up: addressed by work-up alone"
)
def _(c):
    lowz(c, age=30, z=-2.3)
    c.condition("celiac", 2000)
    c.lab("vitd", 31, 50)
    c.lab("calcium", 9.4, 50)
    c.lab("pth", 45, 50)
    return no(LZ, "malabsorption", "")


@scenario("malabsorption_bariatric_procedure", "Laparoscopic sleeve gastrectomy 3 years ago, T -2.6")
def _(c):
    osteo(c, age=52, t=-2.6)
    c.procedure(("427074001", "Laparoscopic sleeve gastrectomy"), 1100)
    return yes("high", OTS, "malabsorption")


@scenario("malabsorption_z98_84", "Bariatric surgery status Z98.84, man, spine T -2.9")
def _(c):
    osteo(c, sex="male", age=55, t=-2.9, site="spine")
    c.condition("bariatric_status", 1500)
    return yes("high", OTS, "malabsorption")


@scenario("malabsorption_snomed_celiac_hip_fracture", "SNOMED-only celiac disease with hip fracture at 68")
def _(c):
    fracture(c, "fx_hip", age=68, ago=400)
    c.condition("celiac_snomed", 5000)
    return yes("high", FF, "malabsorption")


@scenario("malabsorption_lab_pattern", "25(OH)D 15 ng/mL + PTH 92 pg/mL, Z -2.2: malabsorption by labs")
def _(c):
    lowz(c, age=40)
    c.lab("vitd", 15, 40)
    c.lab("pth", 92, 40)
    c.lab("calcium", 9.1, 40)
    return yes(
        "medium",
        LZ,
        "malabsorption;vitamin_d_deficiency",
        note="lab-pattern malabsorption needs tTG-IgA in its work-up",
    )


@scenario(
    "malabsorption_lab_pattern_ttg_done", "Lab pattern + tTG-IgA resulted, low Z only: work-up complete"
)
def _(c):
    lowz(c, age=40)
    c.lab("vitd", 15, 40)
    c.lab("pth", 92, 40)
    c.lab("calcium", 9.1, 40)
    c.lab("ttg_iga", 1.2, 40)
    return yes(
        "medium",
        LZ,
        "malabsorption;vitamin_d_deficiency",
        "vitamin_d_deficiency",
        note="malabsorption addressed by the work-up (low-Z only); vitamin D deficiency is not",
    )


# =========================================================================================================
# Hyperthyroidism
@scenario("hyperthyroid_graves", "Graves' disease E05.00, T -2.6")
def _(c):
    osteo(c, age=62, t=-2.6)
    c.condition("graves", 800)
    return yes("high", OTS, "hyperthyroidism")


@scenario("hyperthyroid_levothyroxine_tsh_low", "Levothyroxine active + latest TSH 0.05 mIU/L")
def _(c):
    osteo(c, age=66, t=-2.6)
    c.condition("hypothyroidism", 4000)
    c.statement("levothyroxine", 2000, None, shape="ref")
    c.lab("tsh", 0.05, 40)
    return yes("high", OTS, "hyperthyroidism")


@scenario("hyperthyroid_levothyroxine_tsh_0_1", "Levothyroxine + TSH 0.10 exactly: not < 0.1")
def _(c):
    osteo(c, age=66, t=-2.6)
    c.statement("levothyroxine", 2000, None)
    c.lab("tsh", 0.1, 40)
    return no(OTS, "")


@scenario("hyperthyroid_thyroid_cancer_exception", "Levothyroxine + TSH 0.03 with thyroid cancer C73")
def _(c):
    osteo(c, age=64, t=-2.6)
    c.condition("thyroid_cancer", 2500)
    c.statement("levothyroxine", 2400, None)
    c.lab("tsh", 0.03, 40)
    return no(OTS, "", note="intentional TSH suppression")


@scenario("hyperthyroid_z85_850_resolved_exception", "Levothyroxine + TSH 0.03 with resolved Z85.850 history")
def _(c):
    osteo(c, age=64, t=-2.6)
    c.condition("thyroid_cancer_history", 3000, clinical="resolved", abated_ago=2900)
    c.statement("levothyroxine", 2800, None, shape="contained")
    c.lab("tsh", 0.03, 40)
    return no(OTS, "", note="the thyroid-cancer exception applies at any clinical status")


@scenario(
    "hyperthyroid_graves_with_thyroid_cancer", "Graves E05.00 + C73: the exception only covers the TSH path"
)
def _(c):
    osteo(c, age=64, t=-2.6)
    c.condition("thyroid_cancer", 2500)
    c.condition("graves", 600)
    return yes("high", OTS, "hyperthyroidism")


@scenario("hyperthyroid_tsh_uiu_ml", "Levothyroxine + TSH 0.04 uIU/mL (= mIU/L)")
def _(c):
    osteo(c, age=68, t=-2.6)
    c.request("levothyroxine", 60, supply_days=90, repeats=3)
    c.lab("tsh_uiu", 0.04, 40)
    return yes("high", OTS, "hyperthyroidism")


@scenario("hyperthyroid_latest_tsh_wins", "Levothyroxine: TSH 0.05 eight months ago, 1.2 last month")
def _(c):
    osteo(c, age=68, t=-2.6)
    c.statement("levothyroxine", 2000, None)
    c.lab("tsh", 0.05, 240)
    c.lab("tsh", 1.2, 30)
    return no(OTS, "")


@scenario(
    "hyperthyroid_low_z_tsh_in_range", "Low Z only + Graves + TSH 1.1 in range: work-up alone addresses"
)
def _(c):
    lowz(c, age=32)
    c.condition("graves", 700)
    c.lab("tsh", 1.1, 45)
    return no(LZ, "hyperthyroidism", "")


@scenario("hyperthyroid_low_z_tsh_suppressed", "Low Z + Graves + TSH 0.02: unaddressed, medium")
def _(c):
    lowz(c, age=32)
    c.condition("graves", 700)
    c.lab("tsh", 0.02, 45)
    return yes("medium", LZ, "hyperthyroidism")


@scenario("hyperthyroid_addressed_with_risedronate", "T -2.7 + Graves + TSH 1.4 + risedronate active")
def _(c):
    osteo(c, age=70)
    c.condition("graves", 900)
    c.lab("tsh", 1.4, 60)
    c.statement("risedronate", 200, None, per_day=1, every_days=7)
    return no(OTS, "hyperthyroidism", "")


# =========================================================================================================
# Hyperparathyroidism
@scenario("hyperparathyroid_code", "Primary hyperparathyroidism E21.0, T -2.7")
def _(c):
    osteo(c, age=64)
    c.condition("hpt_primary", 500)
    return yes("high", OTS, "hyperparathyroidism")


@scenario("hyperparathyroid_labs", "Calcium 10.9 mg/dL + PTH 98 pg/mL")
def _(c):
    osteo(c, age=61, t=-2.6)
    c.lab("calcium", 10.9, 60)
    c.lab("pth", 98, 50)
    return yes("high", OTS, "hyperparathyroidism")


@scenario("hyperparathyroid_calcium_10_5", "Calcium 10.5 (not > 10.5) + PTH 98")
def _(c):
    osteo(c, age=61, t=-2.6)
    c.lab("calcium", 10.5, 60)
    c.lab("pth", 98, 60)
    return no(OTS, "")


@scenario("hyperparathyroid_labs_si_units", "Calcium 2.75 mmol/L (11.0 mg/dL) + PTH 9.5 pmol/L (89.6 pg/mL)")
def _(c):
    osteo(c, age=61, t=-2.6)
    c.lab("calcium_mmol", 2.75, 60)
    c.lab("pth_pmol", 9.5, 60)
    return yes("high", OTS, "hyperparathyroidism")


@scenario("hyperparathyroid_workup_and_drug", "E21.0 + PTH + 25(OH)D resulted + alendronate: addressed")
def _(c):
    osteo(c, age=64)
    c.condition("hpt_primary", 500)
    c.lab("pth", 110, 80)
    c.lab("vitd", 34, 80)
    c.alendronate(200, None, shape="contained")
    return no(OTS, "hyperparathyroidism", "")


# =========================================================================================================
# Inflammatory disease and condition status
@scenario("inflammatory_ra_resolved", "Resolved RA does not count (not a history rule)")
def _(c):
    osteo(c, age=66)
    c.condition("ra", 3000, clinical="resolved", abated_ago=1000)
    return no(OTS, "")


@scenario("inflammatory_ra_refuted", "Refuted RA")
def _(c):
    osteo(c, age=66)
    c.condition("ra", 300, verification="refuted")
    return no(OTS, "")


@scenario("inflammatory_ra_entered_in_error", "RA entered-in-error")
def _(c):
    osteo(c, age=66)
    c.condition("ra", 300, verification="entered-in-error")
    return no(OTS, "")


@scenario("inflammatory_ra_no_status", "RA encounter diagnosis with no clinical/verification status counts")
def _(c):
    osteo(c, age=66)
    c.condition("ra", 300, clinical=None, verification=None, category="encounter-diagnosis")
    return yes("high", OTS, "inflammatory_disease")


@scenario("inflammatory_ra_raloxifene", "SNOMED-only RA + raloxifene active: addressed")
def _(c):
    osteo(c, age=66)
    c.condition("ra_snomed", 2000)
    c.statement("raloxifene", 300, None)
    return no(OTS, "inflammatory_disease", "")


@scenario("inflammatory_teriparatide_2_months", "RA + teriparatide ended 2 months ago: addressed (3 months)")
def _(c):
    osteo(c, age=66, t=-3.1)
    c.condition("ra", 2000)
    c.statement("teriparatide", 700, 60, dose=20, dose_unit="ug")
    return no(OTS, "inflammatory_disease", "")


@scenario("inflammatory_romosozumab_3_months", "RA + romosozumab 3 months ago: window is 2 months")
def _(c):
    osteo(c, age=66, t=-3.1)
    c.condition("ra", 2000)
    c.administration("romosozumab", 92, dose=210)
    return yes("high", OTS, "inflammatory_disease")


# =========================================================================================================
# Myeloma
@scenario(
    "myeloma_vertebral_fracture_on_zoledronic", "Myeloma + vertebral fracture, on zoledronic acid, no SPEP"
)
def _(c):
    fracture(c, "fx_vertebral_lumbar", sex="male", age=70, ago=120)
    c.condition("myeloma", 200)
    c.zoledronic(90)
    return yes("high", FF, "myeloma", note="myeloma with vertebral fracture trigger (therapy is active)")


@scenario("myeloma_t_score", "Multiple myeloma C90.00, T -2.7")
def _(c):
    osteo(c, age=68)
    c.condition("myeloma", 300)
    return yes("high", OTS, "myeloma")


@scenario("mgus_low_z_spep_done", "Low Z only + MGUS + protein electrophoresis: addressed")
def _(c):
    lowz(c, sex="male", age=45, z=-2.3)
    c.condition("mgus", 400)
    c.lab("spep", "Small monoclonal band in gamma region, 0.4 g/dL", 100)
    return no(LZ, "myeloma", "")


@scenario("myeloma_spep_and_denosumab", "Myeloma + SPEP + denosumab 2 months ago: addressed")
def _(c):
    osteo(c, sex="male", age=72)
    c.condition("myeloma", 300)
    c.lab("spep", "M-spike 1.8 g/dL", 90)
    c.lab("calcium", 9.3, 90)
    c.denosumab(60)
    return no(OTS, "myeloma", "")


@scenario("myeloma_vertebral_spep_and_zoledronic", "Myeloma + vertebral fracture + SPEP + zoledronic acid")
def _(c):
    fracture(c, "fx_vertebral_lumbar", sex="male", age=70, ago=120)
    c.condition("myeloma", 200)
    c.lab("spep", "M-spike 2.1 g/dL", 150)
    c.zoledronic(90)
    return no(FF, "myeloma", "")


@scenario("myeloma_without_marker", "Myeloma with no DXA, fracture or FRAX")
def _(c):
    c.patient("male", 69)
    c.condition("myeloma", 300)
    return no("", "myeloma")


# =========================================================================================================
# Hypogonadism
@scenario("hypogonadism_male_e29_1", "Testicular hypofunction E29.1, man 56, T -2.6")
def _(c):
    osteo(c, sex="male", age=56, t=-2.6, site="spine")
    c.condition("male_hypogonadism", 1200)
    return yes("high", OTS, "hypogonadism")


@scenario("hypogonadism_anorexia_low_z", "Anorexia nervosa F50.00, 24-year-old, Z -2.6")
def _(c):
    lowz(c, age=24, z=-2.6, site="hip")
    c.condition("anorexia", 2000)
    return yes("high", LZ, "hypogonadism")


@scenario("hypogonadism_oophorectomy_t_under_50", "Z90.722 bilateral oophorectomy, 47, T -2.6")
def _(c):
    c.patient("female", 47)
    c.dxa(90, spine_t=-2.6)
    c.condition("oophorectomy_status", 2000)
    return yes("high", OTS, "hypogonadism", note="T-score applies under 50 with a hypogonadism code")


@scenario("hypogonadism_amenorrhea_low_z", "Secondary amenorrhea N91.1, Z -2.1")
def _(c):
    lowz(c, age=29, z=-2.1)
    c.condition("amenorrhea", 500)
    return yes("medium", LZ, "hypogonadism")


# =========================================================================================================
# Vitamin D / osteomalacia
@scenario("vitd_18_ng_ml", "25(OH)D 18 ng/mL, no repletion, T -2.6")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 18, 30)
    return yes("high", OTS, "vitamin_d_deficiency")


@scenario("vitd_20_ng_ml", "25(OH)D 20.0 ng/mL is not < 20")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 20.0, 30)
    return no(OTS, "")


@scenario("vitd_45_nmol_l", "25(OH)D 45 nmol/L = 18.0 ng/mL")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd_nmol", 45, 30)
    return yes("high", OTS, "vitamin_d_deficiency")


@scenario("vitd_50_nmol_l", "25(OH)D 50 nmol/L = 20.03 ng/mL")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd_nmol", 50, 30)
    return no(OTS, "")


@scenario("vitd_latest_value_wins", "25(OH)D 12.5 seven months ago, 28 last month")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 12.5, 200)
    c.lab("vitd", 28, 20)
    return no(OTS, "")


@scenario(
    "vitd_repleted_recent_single_low", "25(OH)D 16 a month ago (only low value) + cholecalciferol 1000 IU"
)
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 16, 30)
    c.statement("cholecalciferol_1000", 25, None)
    return no(
        OTS,
        "",
        unchecked="expect_causes",
        note="addressed per section 7; whether vitamin_d_deficiency is still emitted as a cause differs "
        "between section 3 ('with no repletion active') and section 7 ('addressed when ...')",
    )


@scenario("vitd_repleted_low_value_5_months_old", "Repletion active but the low value is 5 months old")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 16, 150)
    c.statement("cholecalciferol_1000", 140, None)
    return yes(
        "high",
        OTS,
        "vitamin_d_deficiency",
        note="section 7: addressed only when the low value is at most 4 months old (section 3's 'no "
        "repletion active' reading would not list this patient; section 7 decides)",
    )


@scenario("vitd_repleted_two_low_values", "Repletion active; two values under 20 in the window")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 14, 100)
    c.lab("vitd", 16, 20)
    c.statement("cholecalciferol_1000", 90, None, shape="ref")
    return yes(
        "high",
        OTS,
        "vitamin_d_deficiency",
        note="section 7: addressed only when the low value is the only one under 20 in the window",
    )


@scenario("vitd_calcitriol_not_repletion", "25(OH)D 16 + calcitriol: calcitriol is not repletion")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 16, 30)
    c.statement("calcitriol", 25, None)
    return yes("high", OTS, "vitamin_d_deficiency")


@scenario("vitd_400_iu_not_repletion", "25(OH)D 16 + cholecalciferol 10 ug (400 IU) daily: below 800 IU")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 16, 30)
    c.statement("cholecalciferol_10mcg", 25, None, shape="ref")
    return yes("high", OTS, "vitamin_d_deficiency")


@scenario("vitd_25_ug_repletion", "25(OH)D 16 + cholecalciferol 25 ug (1000 IU) daily: repletion")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 16, 30)
    c.statement("cholecalciferol_25mcg", 25, None)
    return no(OTS, "", unchecked="expect_causes", note="see vitd_repleted_recent_single_low")


@scenario("vitd_ergocalciferol_loading_dose", "25(OH)D 16 + ergocalciferol 50,000 IU single dose 25 days ago")
def _(c):
    osteo(c, age=67, t=-2.6)
    c.lab("vitd", 16, 30)
    c.administration("ergocalciferol_50000", 25, dose=50000, dose_unit="[iU]")
    return no(OTS, "", unchecked="expect_causes", note="single dose >= 50,000 IU within 3 months")


@scenario("vitd_deficiency_without_marker", "25(OH)D 10 ng/mL, no marker, no zoledronic/denosumab")
def _(c):
    c.patient("female", 58)
    c.lab("vitd", 10, 30)
    return no("", "osteomalacia_pattern;vitamin_d_deficiency")


@scenario("osteomalacia_vitd_11_9", "25(OH)D 11.9 ng/mL: osteomalacia pattern")
def _(c):
    osteo(c, age=70, t=-2.6)
    c.lab("vitd", 11.9, 30)
    return yes("high", OTS, "osteomalacia_pattern;vitamin_d_deficiency")


@scenario("osteomalacia_vitd_12_0", "25(OH)D 12.0 ng/mL: deficiency only")
def _(c):
    osteo(c, age=70, t=-2.6)
    c.lab("vitd", 12.0, 30)
    return yes("high", OTS, "vitamin_d_deficiency")


@scenario("osteomalacia_alp_phosphate_pattern", "25(OH)D 17 + ALP 185 U/L + phosphate 2.1 mg/dL")
def _(c):
    osteo(c, age=70, t=-2.6)
    c.lab("vitd", 17, 30)
    c.lab("alp", 185, 30)
    c.lab("phosphate", 2.1, 30)
    return yes("high", OTS, "osteomalacia_pattern;vitamin_d_deficiency")


@scenario("osteomalacia_alp_within_own_range", "25(OH)D 17 + ALP 135 (lab range 40-150) + phosphate 2.1")
def _(c):
    osteo(c, age=70, t=-2.6)
    c.lab("vitd", 17, 30)
    c.lab("alp", 135, 30, ref_range=(40, 150))
    c.lab("phosphate", 2.1, 30)
    return yes("high", OTS, "vitamin_d_deficiency", note="ALP above the default 120 but inside its own range")


@scenario("osteomalacia_phosphate_mmol", "25(OH)D 17 + ALP 190 + phosphate 0.70 mmol/L (2.17 mg/dL)")
def _(c):
    osteo(c, age=70, t=-2.6)
    c.lab("vitd", 17, 30)
    c.lab("alp", 190, 30)
    c.lab("phosphate_mmol", 0.70, 30)
    return yes("high", OTS, "osteomalacia_pattern;vitamin_d_deficiency")


@scenario("osteomalacia_code", "Osteomalacia M83.9 coded, no vitamin D result")
def _(c):
    osteo(c, age=70, t=-2.6)
    c.condition("osteomalacia", 200)
    return yes("high", OTS, "osteomalacia_pattern")


# =========================================================================================================
# Safety condition
@scenario("safety_osteomalacia_denosumab_no_marker", "25(OH)D 9 + denosumab 2 months ago, no marker: listed")
def _(c):
    c.patient("female", 72)
    c.lab("vitd", 9, 30)
    c.denosumab(60)
    return yes("high", "", "osteomalacia_pattern;vitamin_d_deficiency", note="safety condition")


@scenario("safety_low_calcium_zoledronic_order", "Calcium 8.1 + active zoledronic acid order, no marker")
def _(c):
    c.patient("female", 77)
    c.lab("calcium", 8.1, 20)
    c.request(
        "zoledronic",
        10,
        supply_days=None,
        repeats=None,
        dosage=c.dosage(
            DRUGS["zoledronic"], per_day=None, dose=5, dose_unit="mg", route="iv", text="5 mg IV once yearly"
        ),
    )
    return yes("high", "", "", "", note="safety: low calcium + zoledronic acid ordered; no section-3 cause")


@scenario(
    "safety_corrected_calcium_low", "Calcium 8.7 with albumin 4.8 same day (corrected 8.06) + denosumab"
)
def _(c):
    c.patient("female", 70)
    c.lab("calcium", 8.7, 40)
    c.lab("albumin", 4.8, 40)
    c.denosumab(100, shape="ref")
    return yes("high", "", "", "", note="albumin-corrected calcium below range")


@scenario(
    "safety_calcium_mmol_zoledronic_10_months", "Calcium 2.00 mmol/L (8.0 mg/dL) + zoledronic acid 10 mo ago"
)
def _(c):
    c.patient("female", 80)
    c.lab("calcium_mmol", 2.0, 30)
    c.zoledronic(300)
    return yes("high", "", "", "", note="safety")


@scenario(
    "safety_corrected_calcium_normal", "Calcium 8.3 with albumin 3.0 same day (corrected 9.1) + denosumab"
)
def _(c):
    c.patient("female", 70)
    c.lab("calcium", 8.3, 40)
    c.lab("albumin", 3.0, 40)
    c.denosumab(100)
    return no("", "", note="corrected calcium in range")


@scenario(
    "low_calcium_alendronate_not_safety", "Calcium 8.0 + alendronate: safety needs zoledronic/denosumab"
)
def _(c):
    c.patient("female", 75)
    c.lab("calcium", 8.0, 30)
    c.alendronate(300, None)
    return no("", "")


@scenario("osteomalacia_zoledronic_26_months_not_safety", "25(OH)D 9 + zoledronic acid 26 months ago")
def _(c):
    c.patient("female", 75)
    c.lab("vitd", 9, 30)
    c.zoledronic(800)
    return no("", "osteomalacia_pattern;vitamin_d_deficiency")


@scenario("safety_with_marker", "T -2.9 + 25(OH)D 10 + denosumab 3 months ago")
def _(c):
    osteo(c, age=75, t=-2.9)
    c.lab("vitd", 10, 30)
    c.denosumab(90)
    return yes("high", OTS, "osteomalacia_pattern;vitamin_d_deficiency")


# =========================================================================================================
# Several causes
@scenario("multi_cause_all_addressed", "GC + RA, T -2.8, alendronate active: both addressed")
def _(c):
    osteo(c, age=71, t=-2.8)
    c.condition("ra", 3000)
    pred(c, 300, None)
    c.alendronate(280, None)
    return no(OTS, "glucocorticoid;inflammatory_disease", "")


@scenario("multi_cause_one_unaddressed_on_drug", "RA (addressed) + celiac (no work-up), alendronate: medium")
def _(c):
    osteo(c, age=71, t=-2.8)
    c.condition("ra", 3000)
    c.condition("celiac", 3000)
    c.alendronate(280, None)
    return yes(
        "medium",
        OTS,
        "inflammatory_disease;malabsorption",
        "malabsorption",
        note="high needs no osteoporosis pharmacotherapy",
    )


@scenario("multi_marker_fracture_and_t_score", "Hip fracture + T -3.1 + FRAX 31%/6%, hypogonadism (E29.1)")
def _(c):
    fracture(c, "fx_hip", sex="male", age=78, ago=300)
    c.dxa(200, hip_t=-3.1, femur_t=-3.3)
    c.frax(31.0, 6.0, ago=200)
    c.condition("male_hypogonadism", 2000)
    return yes("high", f"{FF};{HFR};{OTS}", "hypogonadism")


# DXA results that exist only as report text (section 8): registered last, in their own module.
from screening.synth import report_text as _report_text  # noqa: E402,F401
