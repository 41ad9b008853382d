"""Code systems and the small code catalogue the synthetic generator draws from.

Codes come from /work/shared/reference/clinical-knowledge.md section 3 (verified SCDs where the reference
lists them; otherwise the RxNorm ingredient code with the RxNorm-style clinical-drug name as text).
"""

from __future__ import annotations

from dataclasses import dataclass

LOINC = "http://loinc.org"
RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"
ICD10CM = "http://hl7.org/fhir/sid/icd-10-cm"
UCUM = "http://unitsofmeasure.org"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
OBS_CATEGORY = "http://terminology.hl7.org/CodeSystem/observation-category"
COND_CLINICAL = "http://terminology.hl7.org/CodeSystem/condition-clinical"
COND_VERIFICATION = "http://terminology.hl7.org/CodeSystem/condition-ver-status"
COND_CATEGORY = "http://terminology.hl7.org/CodeSystem/condition-category"
ACT_CODE = "http://terminology.hl7.org/CodeSystem/v3-ActCode"
DRUG_FORM = "http://terminology.hl7.org/CodeSystem/v3-orderableDrugForm"
MRN_SYSTEM = "urn:oid:2.16.840.1.113883.19.5.99999.1"

# --- DXA (LOINC, section 3.1): (site, score) -> (code, display)
DXA = {
    ("spine", "T"): ("38267-1", "DXA Lumbar spine [T-score] Bone density"),
    ("spine", "Z"): ("85394-5", "DXA Lumbar spine [Z-score] Bone density"),
    ("hip", "T"): ("38264-8", "DXA Hip [T-score] Bone density"),
    ("hip", "Z"): ("80933-5", "DXA Hip [Z-score] Bone density"),
    ("femur", "T"): ("38263-0", "DXA Femur [T-score] Bone density"),
    ("femur", "Z"): ("80934-3", "DXA Femur [Z-score] Bone density"),
    ("forearm", "T"): ("38265-5", "DXA Radius and Ulna [T-score] Bone density"),
    ("forearm", "Z"): ("80932-7", "DXA Radius and Ulna [Z-score] Bone density"),
    ("left_femur", "T"): ("80948-3", "DXA Femur - left [T-score] Bone density"),
    ("left_hip", "T"): ("80946-7", "DXA Hip - left [T-score] Bone density"),
}
DXA_BMD = {
    "spine": ("24966-4", "DXA Lumbar spine [Mass/Area] Bone density"),
    "hip": ("38261-4", "DXA Hip [Mass/Area] Bone density"),
    "femur": ("24701-5", "DXA Femur [Mass/Area] Bone density"),
}
BODY_SITE = {
    "spine": ("122496007", "Structure of lumbar spine"),
    "hip": ("24136001", "Hip joint structure"),
    "femur": ("71341001", "Bone structure of femur"),
    "left_femur": ("71341001", "Bone structure of femur"),
    "left_hip": ("24136001", "Hip joint structure"),
    "forearm": ("14975008", "Forearm structure"),
}
DXA_PROCEDURE = ("312681000", "Bone density scan (procedure)")
FRAX_MOF = ("90265-0", "Major osteoporotic fracture 10Y probability [Likelihood] Fracture Risk Assessment")
FRAX_HIP = ("90266-8", "Hip fracture 10Y probability [Likelihood] Fracture Risk Assessment")


@dataclass(frozen=True)
class Lab:
    code: str
    display: str
    unit: str
    low: float | None = None
    high: float | None = None


# --- Labs (LOINC, section 3.2 and common chemistry). Units are UCUM.
LABS: dict[str, Lab] = {
    "vitd": Lab(
        "62292-8",
        "25-Hydroxyvitamin D3+25-Hydroxyvitamin D2 [Mass/volume] in Serum or Plasma",
        "ng/mL",
        30,
        100,
    ),
    "vitd_nmol": Lab("1989-3", "25-hydroxyvitamin D3 [Mass/volume] in Serum or Plasma", "nmol/L", 75, 250),
    "calcium": Lab("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mg/dL", 8.5, 10.5),
    "calcium_mmol": Lab("17861-6", "Calcium [Mass/volume] in Serum or Plasma", "mmol/L", 2.12, 2.62),
    "albumin": Lab("1751-7", "Albumin [Mass/volume] in Serum or Plasma", "g/dL", 3.5, 5.0),
    "pth": Lab("2731-8", "Parathyrin.intact [Mass/volume] in Serum or Plasma", "pg/mL", 15, 65),
    "pth_pmol": Lab("2731-8", "Parathyrin.intact [Mass/volume] in Serum or Plasma", "pmol/L", 1.6, 6.9),
    "tsh": Lab("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "m[IU]/L", 0.4, 4.0),
    "tsh_uiu": Lab("3016-3", "Thyrotropin [Units/volume] in Serum or Plasma", "u[IU]/mL", 0.4, 4.0),
    "ft4": Lab("3024-7", "Thyroxine (T4) free [Mass/volume] in Serum or Plasma", "ng/dL", 0.8, 1.8),
    "alp": Lab(
        "6768-6", "Alkaline phosphatase [Enzymatic activity/volume] in Serum or Plasma", "U/L", 40, 120
    ),
    "phosphate": Lab("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mg/dL", 2.5, 4.5),
    "phosphate_mmol": Lab("2777-1", "Phosphate [Mass/volume] in Serum or Plasma", "mmol/L", 0.81, 1.45),
    "creatinine": Lab("2160-0", "Creatinine [Mass/volume] in Serum or Plasma", "mg/dL", 0.6, 1.2),
    "egfr": Lab(
        "98979-8",
        "Glomerular filtration rate/1.73 sq M.predicted [Volume Rate/Area] in Serum, Plasma or "
        "Blood by Creatinine-based formula (CKD-EPI 2021)",
        "mL/min/{1.73_m2}",
        60,
        None,
    ),
    "testosterone": Lab("2986-8", "Testosterone [Mass/volume] in Serum or Plasma", "ng/dL", 264, 916),
    "ttg_iga": Lab(
        "31017-7", "Tissue transglutaminase IgA Ab [Units/volume] in Serum", "[arb'U]/mL", None, 4
    ),
    "spep": Lab("24351-9", "Protein electrophoresis panel - Serum or Plasma", ""),
    "cortisol": Lab("2143-6", "Cortisol [Mass/volume] in Serum or Plasma", "ug/dL", 5, 23),
    # background chemistry
    "glucose": Lab("2345-7", "Glucose [Mass/volume] in Serum or Plasma", "mg/dL", 70, 99),
    "hba1c": Lab("4548-4", "Hemoglobin A1c/Hemoglobin.total in Blood", "%", 4.0, 5.6),
    "cholesterol": Lab("2093-3", "Cholesterol [Mass/volume] in Serum or Plasma", "mg/dL", None, 200),
    "ldl": Lab(
        "18262-6", "Cholesterol in LDL [Mass/volume] in Serum or Plasma by Direct assay", "mg/dL", None, 100
    ),
    "hdl": Lab("2085-9", "Cholesterol in HDL [Mass/volume] in Serum or Plasma", "mg/dL", 40, None),
    "triglycerides": Lab("2571-8", "Triglyceride [Mass/volume] in Serum or Plasma", "mg/dL", None, 150),
    "hemoglobin": Lab("718-7", "Hemoglobin [Mass/volume] in Blood", "g/dL", 12.0, 17.5),
    "wbc": Lab("6690-2", "Leukocytes [#/volume] in Blood by Automated count", "10*3/uL", 4.0, 11.0),
    "platelets": Lab("777-3", "Platelets [#/volume] in Blood by Automated count", "10*3/uL", 150, 400),
    "sodium": Lab("2951-2", "Sodium [Moles/volume] in Serum or Plasma", "mmol/L", 135, 145),
    "potassium": Lab("2823-3", "Potassium [Moles/volume] in Serum or Plasma", "mmol/L", 3.5, 5.1),
    "bmi": Lab("39156-5", "Body mass index (BMI) [Ratio]", "kg/m2"),
}


@dataclass(frozen=True)
class Drug:
    """A medication concept: RxNorm code + RxNorm-style name; strength for the Medication resource."""

    code: str  # RxNorm code (SCD where verified, else the ingredient)
    name: str  # RxNorm-style normalized name
    ingredient: str  # ingredient RxCUI
    ingredient_name: str
    strength: float | None = None
    strength_unit: str | None = None  # mg, ug, [iU], mg/mL
    form: str | None = None  # v3 orderableDrugForm code (TAB, CAP, INHL, CRM, OPDROP, INJ, SOL)
    route: str | None = None  # default route key for dosage (see ROUTES)


ROUTES = {
    "oral": ("26643006", "Oral route"),
    "inhaled": ("447694001", "Respiratory tract route (qualifier value)"),
    "topical": ("6064005", "Topical route"),
    "ophthalmic": ("54485002", "Ophthalmic route"),
    "iv": ("47625008", "Intravenous route"),
    "im": ("78421000", "Intramuscular route"),
    "sc": ("34206005", "Subcutaneous route"),
}
FORMS = {
    "TAB": "Tablet",
    "CAP": "Capsule",
    "INHL": "Inhalant",
    "CRM": "Cream",
    "OPDROP": "Ophthalmic Solution",
    "INJ": "Injection",
    "SOL": "Solution",
}


def _d(code, name, ing, ing_name, strength=None, unit=None, form=None, route=None) -> Drug:
    return Drug(code, name, ing, ing_name, strength, unit, form, route)


DRUGS: dict[str, Drug] = {
    # systemic glucocorticoids (SCDs verified in the VSAC oral GC value set)
    "prednisone_5": _d("312617", "prednisone 5 MG Oral Tablet", "8640", "prednisone", 5, "mg", "TAB", "oral"),
    "prednisone_10": _d(
        "198145", "prednisone 10 MG Oral Tablet", "8640", "prednisone", 10, "mg", "TAB", "oral"
    ),
    "prednisone_20": _d(
        "312615", "prednisone 20 MG Oral Tablet", "8640", "prednisone", 20, "mg", "TAB", "oral"
    ),
    "prednisone_in": _d("8640", "prednisone", "8640", "prednisone"),
    "prednisolone_5": _d(
        "198142", "prednisolone 5 MG Oral Tablet", "8638", "prednisolone", 5, "mg", "TAB", "oral"
    ),
    "methylpred_4": _d(
        "259966", "methylprednisolone 4 MG Oral Tablet", "6902", "methylprednisolone", 4, "mg", "TAB", "oral"
    ),
    "dexamethasone_05": _d(
        "197577", "dexamethasone 0.5 MG Oral Tablet", "3264", "dexamethasone", 0.5, "mg", "TAB", "oral"
    ),
    "dexamethasone_in": _d("3264", "dexamethasone", "3264", "dexamethasone"),
    "hydrocortisone_5": _d(
        "197787", "hydrocortisone 5 MG Oral Tablet", "5492", "hydrocortisone", 5, "mg", "TAB", "oral"
    ),
    "hydrocortisone_10": _d(
        "197782", "hydrocortisone 10 MG Oral Tablet", "5492", "hydrocortisone", 10, "mg", "TAB", "oral"
    ),
    "budesonide_3": _d(
        "1244214",
        "budesonide 3 MG Delayed Release Oral Capsule",
        "19831",
        "budesonide",
        3,
        "mg",
        "CAP",
        "oral",
    ),
    # non-systemic corticosteroids (route excluded)
    "fluticasone_inh": _d(
        "41126",
        "fluticasone propionate 0.11 MG/ACTUAT Metered Dose Inhaler",
        "41126",
        "fluticasone",
        0.11,
        "mg",
        "INHL",
        "inhaled",
    ),
    "triamcinolone_crm": _d(
        "10759",
        "triamcinolone acetonide 1 MG/ML Topical Cream",
        "10759",
        "triamcinolone",
        1,
        "mg/mL",
        "CRM",
        "topical",
    ),
    "hydrocortisone_crm": _d(
        "5492",
        "hydrocortisone 10 MG/ML Topical Cream",
        "5492",
        "hydrocortisone",
        10,
        "mg/mL",
        "CRM",
        "topical",
    ),
    "dexamethasone_eye": _d(
        "3264",
        "dexamethasone 1 MG/ML Ophthalmic Suspension",
        "3264",
        "dexamethasone",
        1,
        "mg/mL",
        "OPDROP",
        "ophthalmic",
    ),
    # aromatase inhibitors (SCDs in the VSAC AI value set)
    "anastrozole": _d(
        "199224", "anastrozole 1 MG Oral Tablet", "84857", "anastrozole", 1, "mg", "TAB", "oral"
    ),
    "letrozole": _d("200064", "letrozole 2.5 MG Oral Tablet", "72965", "letrozole", 2.5, "mg", "TAB", "oral"),
    "exemestane": _d(
        "310261", "exemestane 25 MG Oral Tablet", "258494", "exemestane", 25, "mg", "TAB", "oral"
    ),
    # androgen deprivation (ingredient codes)
    "leuprolide": _d(
        "42375", "leuprolide acetate 22.5 MG Injection", "42375", "leuprolide", 22.5, "mg", "INJ", "im"
    ),
    "goserelin": _d("50610", "goserelin 10.8 MG Drug Implant", "50610", "goserelin", 10.8, "mg", None, "sc"),
    "degarelix": _d("475230", "degarelix 80 MG Injection", "475230", "degarelix", 80, "mg", "INJ", "sc"),
    "relugolix": _d(
        "2472778", "relugolix 120 MG Oral Tablet", "2472778", "relugolix", 120, "mg", "TAB", "oral"
    ),
    # thyroid
    "levothyroxine": _d(
        "966222",
        "levothyroxine sodium 0.075 MG Oral Tablet",
        "10582",
        "levothyroxine",
        0.075,
        "mg",
        "TAB",
        "oral",
    ),
    # osteoporosis pharmacotherapy (ingredient codes)
    "alendronate": _d(
        "46041", "alendronic acid 70 MG Oral Tablet", "46041", "alendronate", 70, "mg", "TAB", "oral"
    ),
    "risedronate": _d(
        "73056", "risedronate sodium 35 MG Oral Tablet", "73056", "risedronate", 35, "mg", "TAB", "oral"
    ),
    "raloxifene": _d(
        "72143", "raloxifene hydrochloride 60 MG Oral Tablet", "72143", "raloxifene", 60, "mg", "TAB", "oral"
    ),
    "zoledronic": _d(
        "77655",
        "zoledronic acid 0.05 MG/ML Injectable Solution",
        "77655",
        "zoledronic acid",
        0.05,
        "mg/mL",
        "INJ",
        "iv",
    ),
    "denosumab": _d(
        "993449", "denosumab 60 MG/ML Prefilled Syringe", "993449", "denosumab", 60, "mg/mL", "INJ", "sc"
    ),
    "teriparatide": _d(
        "32915",
        "teriparatide 0.25 MG/ML Injectable Solution",
        "32915",
        "teriparatide",
        0.25,
        "mg/mL",
        "INJ",
        "sc",
    ),
    "romosozumab": _d(
        "2123126",
        "romosozumab 105 MG/1.17 ML Prefilled Syringe",
        "2123126",
        "romosozumab",
        105,
        "mg",
        "INJ",
        "sc",
    ),
    "pamidronate": _d(
        "11473",
        "pamidronate disodium 3 MG/ML Injectable Solution",
        "11473",
        "pamidronate",
        3,
        "mg/mL",
        "INJ",
        "iv",
    ),
    # vitamin D
    "cholecalciferol_1000": _d(
        "2418", "cholecalciferol 1000 UNT Oral Tablet", "2418", "cholecalciferol", 1000, "[iU]", "TAB", "oral"
    ),
    "cholecalciferol_25mcg": _d(
        "2418", "cholecalciferol 0.025 MG Oral Tablet", "2418", "cholecalciferol", 25, "ug", "TAB", "oral"
    ),
    "cholecalciferol_10mcg": _d(
        "2418", "cholecalciferol 0.01 MG Oral Tablet", "2418", "cholecalciferol", 10, "ug", "TAB", "oral"
    ),
    "ergocalciferol_50000": _d(
        "4018",
        "ergocalciferol 50000 UNT Oral Capsule",
        "4018",
        "ergocalciferol",
        50000,
        "[iU]",
        "CAP",
        "oral",
    ),
    "calcitriol": _d(
        "1894", "calcitriol 0.00025 MG Oral Capsule", "1894", "calcitriol", 0.25, "ug", "CAP", "oral"
    ),
    # background medications (ingredient codes, RxNorm-style names)
    "lisinopril": _d(
        "314076", "lisinopril 10 MG Oral Tablet", "29046", "lisinopril", 10, "mg", "TAB", "oral"
    ),
    "metformin": _d(
        "6809", "metformin hydrochloride 500 MG Oral Tablet", "6809", "metformin", 500, "mg", "TAB", "oral"
    ),
    "atorvastatin": _d(
        "83367", "atorvastatin 20 MG Oral Tablet", "83367", "atorvastatin", 20, "mg", "TAB", "oral"
    ),
    "amoxicillin": _d(
        "723", "amoxicillin 500 MG Oral Capsule", "723", "amoxicillin", 500, "mg", "CAP", "oral"
    ),
    "amlodipine": _d("17767", "amlodipine 5 MG Oral Tablet", "17767", "amlodipine", 5, "mg", "TAB", "oral"),
    "omeprazole": _d(
        "7646", "omeprazole 20 MG Delayed Release Oral Capsule", "7646", "omeprazole", 20, "mg", "CAP", "oral"
    ),
    "sertraline": _d("36437", "sertraline 50 MG Oral Tablet", "36437", "sertraline", 50, "mg", "TAB", "oral"),
    "albuterol": _d(
        "435",
        "albuterol 0.09 MG/ACTUAT Metered Dose Inhaler",
        "435",
        "albuterol",
        0.09,
        "mg",
        "INHL",
        "inhaled",
    ),
    "ibuprofen": _d("5640", "ibuprofen 400 MG Oral Tablet", "5640", "ibuprofen", 400, "mg", "TAB", "oral"),
    "hctz": _d(
        "5487",
        "hydrochlorothiazide 25 MG Oral Tablet",
        "5487",
        "hydrochlorothiazide",
        25,
        "mg",
        "TAB",
        "oral",
    ),
    "simvastatin": _d(
        "36567", "simvastatin 20 MG Oral Tablet", "36567", "simvastatin", 20, "mg", "TAB", "oral"
    ),
    "acetaminophen": _d(
        "161", "acetaminophen 500 MG Oral Tablet", "161", "acetaminophen", 500, "mg", "TAB", "oral"
    ),
}


@dataclass(frozen=True)
class Cond:
    icd: str | None
    snomed: str | None
    display: str


# --- Conditions (section 3.4). ICD-10-CM codes are written with the dot.
CONDITIONS: dict[str, Cond] = {
    "ra": Cond("M06.9", "69896004", "Rheumatoid arthritis"),
    "ra_snomed": Cond(None, "69896004", "Rheumatoid arthritis"),
    "crohn": Cond("K50.90", "34000006", "Crohn's disease"),
    "uc": Cond("K51.90", "64766004", "Ulcerative colitis"),
    "sle": Cond("M32.9", None, "Systemic lupus erythematosus, unspecified"),
    "as": Cond("M45.9", None, "Ankylosing spondylitis of unspecified sites in spine"),
    "psa": Cond("L40.50", None, "Arthropathic psoriasis, unspecified"),
    "celiac": Cond("K90.0", "396331005", "Celiac disease"),
    "celiac_snomed": Cond(None, "396331005", "Celiac disease"),
    "bariatric_status": Cond("Z98.84", None, "Bariatric surgery status"),
    "graves": Cond("E05.00", "353295004", "Graves' disease"),
    "thyroid_cancer": Cond("C73", None, "Malignant neoplasm of thyroid gland"),
    "thyroid_cancer_history": Cond("Z85.850", None, "Personal history of malignant neoplasm of thyroid"),
    "hypothyroidism": Cond("E03.9", "40930008", "Hypothyroidism"),
    "hpt_primary": Cond("E21.0", "36348003", "Primary hyperparathyroidism"),
    "myeloma": Cond("C90.00", "109989006", "Multiple myeloma not having achieved remission"),
    "mgus": Cond("D47.2", "277577000", "Monoclonal gammopathy"),
    "cushing": Cond("E24.9", "47270006", "Cushing's syndrome, unspecified"),
    "cushing_disease": Cond("E24.0", "190502001", "Pituitary-dependent Cushing's disease"),
    "cushing_snomed": Cond(None, "47270006", "Hypercortisolism"),
    "cushing_drug": Cond("E24.2", None, "Drug-induced Cushing's syndrome"),
    "adrenal_insufficiency": Cond("E27.1", None, "Primary adrenocortical insufficiency"),
    "premature_menopause": Cond("E28.310", "373717006", "Symptomatic premature menopause"),
    "oophorectomy_status": Cond("Z90.722", None, "Acquired absence of ovaries, bilateral"),
    "male_hypogonadism": Cond("E29.1", None, "Testicular hypofunction"),
    "anorexia": Cond("F50.00", "56882008", "Anorexia nervosa, unspecified"),
    "amenorrhea": Cond("N91.1", None, "Secondary amenorrhea"),
    "osteomalacia": Cond("M83.9", "4598005", "Adult osteomalacia, unspecified"),
    "spondylosis": Cond("M47.816", None, "Spondylosis without myelopathy or radiculopathy, lumbar region"),
    "prostate_cancer": Cond("C61", "399068003", "Malignant neoplasm of prostate"),
    "breast_cancer": Cond(
        "C50.911", "254837009", "Malignant neoplasm of unspecified site of right female breast"
    ),
    # fractures
    "fx_hip": Cond("S72.001A", "359817006", "Fracture of unspecified part of neck of right femur, initial"),
    "fx_hip_subsequent": Cond(
        "S72.001D", "359817006", "Fracture of unspecified part of neck of right femur, subsequent encounter"
    ),
    "fx_vertebral_lumbar": Cond(
        "S32.000A", None, "Wedge compression fracture of unspecified lumbar vertebra, initial"
    ),
    "fx_distal_radius": Cond(
        "S52.501A", None, "Unspecified fracture of the lower end of right radius, initial"
    ),
    "fx_prox_humerus": Cond("S42.201A", None, "Unspecified fracture of upper end of right humerus, initial"),
    "fx_pubis": Cond("S32.501A", None, "Unspecified fracture of right pubis, initial"),
    "fx_finger": Cond("S62.600A", None, "Fracture of unspecified phalanx of right index finger, initial"),
    "fx_toe": Cond("S92.401A", None, "Displaced unspecified fracture of right great toe, initial"),
    "fx_nasal": Cond("S02.2XXA", None, "Fracture of nasal bones, initial"),
    "fx_skull_vault": Cond("S02.0XXA", None, "Fracture of vault of skull, initial"),
    "fx_ankle": Cond("S82.891A", None, "Other fracture of right lower leg, initial"),
    "fx_m80_vertebra": Cond(
        "M80.08XA", None, "Age-related osteoporosis with current pathological fracture, vertebra(e), initial"
    ),
    "fx_osteoporotic_snomed": Cond(None, "443165006", "Osteoporotic fracture of bone"),
    # background
    "hypertension": Cond("I10", "38341003", "Essential (primary) hypertension"),
    "t2dm": Cond("E11.9", "44054006", "Type 2 diabetes mellitus without complications"),
    "hyperlipidemia": Cond("E78.5", "55822004", "Hyperlipidemia, unspecified"),
    "asthma": Cond("J45.909", "195967001", "Unspecified asthma, uncomplicated"),
    "gerd": Cond("K21.9", "235595009", "Gastro-esophageal reflux disease without esophagitis"),
    "knee_oa": Cond("M17.11", "239873007", "Unilateral primary osteoarthritis, right knee"),
    "bronchitis": Cond("J20.9", "10509002", "Acute bronchitis, unspecified"),
    "pharyngitis": Cond("J02.9", "405737000", "Acute pharyngitis, unspecified"),
    "dermatitis": Cond("L30.9", "43116000", "Dermatitis, unspecified"),
    "depression": Cond("F32.A", "35489007", "Depression, unspecified"),
    "low_back_pain": Cond("M54.50", "279039007", "Low back pain, unspecified"),
    "sinusitis": Cond("J01.90", "36971009", "Acute sinusitis, unspecified"),
    "obesity": Cond("E66.9", "414916001", "Obesity, unspecified"),
    "allergic_rhinitis": Cond("J30.9", "61582004", "Allergic rhinitis, unspecified"),
}

PROCEDURES = {
    "sleeve_gastrectomy": ("427074001", "Laparoscopic sleeve gastrectomy"),
    "colonoscopy": ("73761001", "Colonoscopy"),
    "cataract": ("110473004", "Cataract surgery"),
    "appendectomy": ("80146002", "Appendectomy"),
    "knee_xray": ("74016001", "Plain X-ray of knee"),
    "vaccination": ("33879002", "Administration of vaccine to produce active immunity"),
    "dental_cleaning": ("234946006", "Scaling and polishing of teeth"),
    "mammogram": ("71651007", "Mammography"),
}

ENDOCRINOLOGY = ("394583002", "Endocrinology")
ENDO_REFERRAL = ("306095005", "Referral to endocrinology service")
