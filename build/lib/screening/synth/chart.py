"""Build the FHIR R4 resources of one synthetic patient (a "chart").

Dates are given as days before the reference date (`ago=30`; negative = after it). Ids are deterministic:
`<patient id>-<kind><n>`. Nothing here is random except where a caller passes the chart's `rng`.
"""

from __future__ import annotations

import random
from datetime import date, timedelta
from typing import Any

from screening.synth import codes as k
from screening.synth.codes import DRUGS, LABS, Drug

FAMILY = [
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Green",
    "Adams",
    "Nelson",
    "Baker",
    "Hall",
    "Rivera",
    "Campbell",
    "Mitchell",
    "Carter",
    "Roberts",
    "Okafor",
    "Kowalski",
    "Schmidt",
    "Rossi",
    "Haddad",
    "Tanaka",
    "Kim",
    "Patel",
    "Cohen",
    "O'Brien",
    "Novak",
    "Lindqvist",
]
GIVEN = {
    "female": [
        "Mary",
        "Patricia",
        "Jennifer",
        "Linda",
        "Elizabeth",
        "Barbara",
        "Susan",
        "Jessica",
        "Sarah",
        "Karen",
        "Lisa",
        "Nancy",
        "Betty",
        "Margaret",
        "Sandra",
        "Ashley",
        "Emily",
        "Donna",
        "Michelle",
        "Carol",
        "Amanda",
        "Dorothy",
        "Melissa",
        "Deborah",
        "Stephanie",
        "Rebecca",
        "Sharon",
        "Laura",
        "Cynthia",
        "Amy",
        "Kathleen",
        "Angela",
        "Helen",
        "Anna",
        "Ingrid",
        "Aisha",
        "Mei",
        "Priya",
        "Sofia",
    ],
    "male": [
        "James",
        "Robert",
        "John",
        "Michael",
        "David",
        "William",
        "Richard",
        "Joseph",
        "Thomas",
        "Christopher",
        "Charles",
        "Daniel",
        "Matthew",
        "Anthony",
        "Mark",
        "Donald",
        "Steven",
        "Paul",
        "Andrew",
        "Joshua",
        "Kenneth",
        "Kevin",
        "Brian",
        "George",
        "Timothy",
        "Ronald",
        "Edward",
        "Jason",
        "Jeffrey",
        "Ryan",
        "Jacob",
        "Gary",
        "Nicholas",
        "Eric",
        "Omar",
        "Hiroshi",
        "Arjun",
        "Mateo",
        "Lars",
    ],
}
TAB_UNIT = {"value": 1, "unit": "TAB", "system": k.DRUG_FORM, "code": "TAB"}


def coding(system: str, code: str, display: str | None = None) -> dict:
    out = {"system": system, "code": code}
    if display:
        out["display"] = display
    return out


def cc(system: str, code: str, display: str | None = None, text: str | None = None) -> dict:
    out: dict[str, Any] = {"coding": [coding(system, code, display)]}
    if text:
        out["text"] = text
    return out


def quantity(value: float, unit: str, code: str | None = None) -> dict:
    return {"value": value, "unit": unit, "system": k.UCUM, "code": code or unit}


def birth_date_for(age: int, at: date, days_after_birthday: int) -> date:
    """A birth date such that the person is exactly `age` completed years old at `at`
    (`days_after_birthday` days past the birthday; 0 = `at` is the birthday)."""
    anchor = at - timedelta(days=days_after_birthday)
    try:
        return anchor.replace(year=anchor.year - age)
    except ValueError:  # 29 February
        return anchor.replace(year=anchor.year - age, day=28)


class Chart:
    """Collects the resources of one patient, in output order."""

    def __init__(self, pid: str, as_of: date, rng: random.Random, mrn: str):
        self.pid = pid
        self.as_of = as_of
        self.rng = rng
        self.mrn = mrn
        self.resources: list[dict] = []
        self._n: dict[str, int] = {}
        self.sex: str | None = None

    # -- plumbing -----------------------------------------------------------------------------------------
    def day(self, ago: int) -> date:
        return self.as_of - timedelta(days=ago)

    def ds(self, ago: int) -> str:
        return self.day(ago).isoformat()

    def rid(self, kind: str) -> str:
        n = self._n.get(kind, 0) + 1
        self._n[kind] = n
        return f"{self.pid}-{kind}{n}"

    @property
    def subject(self) -> dict:
        return {"reference": f"Patient/{self.pid}"}

    def add(self, res: dict) -> dict:
        self.resources.append(res)
        return res

    # -- Patient ------------------------------------------------------------------------------------------
    def patient(
        self,
        sex: str,
        age: int | None,
        *,
        at_ago: int = 0,
        days_after_birthday: int | None = None,
        birth_date: bool = True,
        resource: bool = True,
    ) -> dict | None:
        """`age` completed years at `at_ago` days before the reference date."""
        self.sex = sex
        if not resource:
            return None
        rng = self.rng
        given = rng.choice(GIVEN[sex])
        middle = rng.choice(GIVEN[sex])
        res: dict[str, Any] = {
            "resourceType": "Patient",
            "id": self.pid,
            "identifier": [
                {
                    "use": "usual",
                    "type": cc(k.V2_0203, "MR", "Medical record number"),
                    "system": k.MRN_SYSTEM,
                    "value": self.mrn,
                }
            ],
            "active": True,
            "name": [{"use": "official", "family": rng.choice(FAMILY), "given": [given, middle]}],
            "gender": sex,
        }
        if birth_date and age is not None:
            if days_after_birthday is None:
                days_after_birthday = rng.randint(1, 360)
            res["birthDate"] = birth_date_for(age, self.day(at_ago), days_after_birthday).isoformat()
        res["address"] = [
            {
                "use": "home",
                "city": rng.choice(["Springfield", "Riverton", "Lakeside", "Fairview"]),
                "state": rng.choice(["MA", "OH", "OR", "TX", "MN"]),
                "postalCode": f"{rng.randint(10000, 99999)}",
                "country": "US",
            }
        ]
        return self.add(res)

    # -- Observations -------------------------------------------------------------------------------------
    def _obs(
        self,
        category: str,
        code: tuple[str, str] | dict,
        ago: int,
        *,
        status: str = "final",
        kind: str = "obs",
    ) -> dict:
        code_cc = code if isinstance(code, dict) else cc(k.LOINC, code[0], code[1], code[1])
        return {
            "resourceType": "Observation",
            "id": self.rid(kind),
            "status": status,
            "category": [cc(k.OBS_CATEGORY, category, category.capitalize())],
            "code": code_cc,
            "subject": self.subject,
            "effectiveDateTime": self.ds(ago),
        }

    def score(
        self,
        site: str,
        score: str,
        value: float,
        ago: int = 90,
        *,
        unit: str | None = None,
        status: str = "final",
        body_site: bool = False,
        version: int | None = None,
        rid: str | None = None,
    ) -> dict:
        """One DXA T- or Z-score observation."""
        res = self._obs("imaging", k.DXA[(site, score)], ago, status=status)
        if rid:
            res["id"] = rid
        u = unit or {"T": "{T-score}", "Z": "{Z-score}"}[score]
        res["valueQuantity"] = quantity(value, u)
        if body_site and site in k.BODY_SITE:
            res["bodySite"] = cc(k.SNOMED, *k.BODY_SITE[site])
        if version is not None:
            res["meta"] = {"versionId": str(version), "lastUpdated": f"{self.ds(ago - version)}T12:00:00Z"}
        return self.add(res)

    def dxa(
        self,
        ago: int = 90,
        *,
        procedure: bool = True,
        bmd: bool = False,
        status: str = "final",
        unit_style: int = 0,
        **scores: float,
    ) -> list[dict]:
        """A DXA scan: keyword args like spine_t=-2.7, hip_z=-1.0, forearm_t=..., left_femur_t=..."""
        out = []
        if procedure:
            self.add(
                {
                    "resourceType": "Procedure",
                    "id": self.rid("proc"),
                    "status": "completed",
                    "code": cc(k.SNOMED, *k.DXA_PROCEDURE),
                    "subject": self.subject,
                    "performedDateTime": self.ds(ago),
                }
            )
        units = [None, "{SD}", "1"]
        for key, value in scores.items():
            site, score = key.rsplit("_", 1)
            unit = units[unit_style % 3]
            if unit == "{SD}" and score == "T":
                unit = None
            out.append(
                self.score(
                    site, score.upper(), value, ago, unit=unit, status=status, body_site=unit_style % 2 == 1
                )
            )
            if bmd and score == "t" and site in k.DXA_BMD:
                res = self._obs("imaging", k.DXA_BMD[site], ago)
                res["valueQuantity"] = quantity(round(1.0 + value * 0.11, 3), "g/cm2")
                self.add(res)
        return out

    def frax(self, mof: float | None, hip: float | None, ago: int = 60, unit: str = "%") -> None:
        for code, value in ((k.FRAX_MOF, mof), (k.FRAX_HIP, hip)):
            if value is None:
                continue
            res = self._obs("survey", code, ago)
            res["valueQuantity"] = quantity(value, unit)
            self.add(res)

    def lab(
        self,
        name: str,
        value: float | str,
        ago: int = 30,
        *,
        ref_range: bool | tuple = True,
        status: str = "final",
    ) -> dict:
        lab = LABS[name]
        res = self._obs("laboratory", (lab.code, lab.display), ago, status=status)
        if isinstance(value, str):
            res["valueString"] = value
            return self.add(res)
        res["valueQuantity"] = quantity(value, lab.unit)
        low, high = ref_range if isinstance(ref_range, tuple) else (lab.low, lab.high)
        if ref_range and (low is not None or high is not None):
            rr: dict[str, Any] = {}
            if low is not None:
                rr["low"] = quantity(low, lab.unit)
            if high is not None:
                rr["high"] = quantity(high, lab.unit)
            res["referenceRange"] = [rr]
        return self.add(res)

    def tier1_panel(self, ago: int = 60, *, testosterone: bool = False) -> None:
        """Normal tier-1 secondary-cause panel (calcium, phosphate, ALP, creatinine, 25(OH)D, TSH)."""
        self.lab("calcium", 9.4, ago)
        self.lab("phosphate", 3.6, ago)
        self.lab("alp", 78, ago)
        self.lab("creatinine", 0.86, ago)
        self.lab("egfr", 92, ago)
        self.lab("vitd", 34, ago)
        self.lab("tsh", 1.7, ago)
        if testosterone:
            self.lab("testosterone", 540, ago)

    # -- Conditions and procedures ------------------------------------------------------------------------
    def condition(
        self,
        name: str,
        ago: int | None = 365,
        *,
        clinical: str | None = "active",
        verification: str | None = "confirmed",
        recorded_ago: int | None = None,
        abated_ago: int | None = None,
        category: str = "problem-list-item",
        icd: bool = True,
        snomed: bool = True,
    ) -> dict:
        cond = k.CONDITIONS[name]
        codings = []
        if icd and cond.icd:
            codings.append(coding(k.ICD10CM, cond.icd, cond.display))
        if snomed and cond.snomed:
            codings.append(coding(k.SNOMED, cond.snomed, cond.display))
        res: dict[str, Any] = {"resourceType": "Condition", "id": self.rid("cond")}
        if verification == "entered-in-error":
            clinical = None  # con-5
        if clinical:
            res["clinicalStatus"] = cc(k.COND_CLINICAL, clinical)
        if verification:
            res["verificationStatus"] = cc(k.COND_VERIFICATION, verification)
        res["category"] = [cc(k.COND_CATEGORY, category)]
        res["code"] = {"coding": codings, "text": cond.display}
        res["subject"] = self.subject
        if ago is not None:
            res["onsetDateTime"] = self.ds(ago)
        if abated_ago is not None:
            res["abatementDateTime"] = self.ds(abated_ago)
        if recorded_ago is not None:
            res["recordedDate"] = self.ds(recorded_ago)
        elif ago is not None:
            res["recordedDate"] = self.ds(ago)
        return self.add(res)

    def procedure(self, code: tuple[str, str], ago: int, status: str = "completed") -> dict:
        return self.add(
            {
                "resourceType": "Procedure",
                "id": self.rid("proc"),
                "status": status,
                "code": cc(k.SNOMED, *code),
                "subject": self.subject,
                "performedDateTime": self.ds(ago),
            }
        )

    def endocrinology_visit(self, ago: int) -> None:
        self.add(
            {
                "resourceType": "Encounter",
                "id": self.rid("enc"),
                "status": "finished",
                "class": coding(k.ACT_CODE, "AMB", "ambulatory"),
                "serviceType": cc(k.SNOMED, *k.ENDOCRINOLOGY, text="Endocrinology"),
                "type": [{"text": "Endocrinology outpatient consultation"}],
                "subject": self.subject,
                "period": {"start": f"{self.ds(ago)}T09:00:00Z", "end": f"{self.ds(ago)}T09:40:00Z"},
            }
        )
        self.add(
            {
                "resourceType": "ServiceRequest",
                "id": self.rid("sr"),
                "status": "completed",
                "intent": "order",
                "code": cc(k.SNOMED, *k.ENDO_REFERRAL, text="Referral to endocrinology"),
                "subject": self.subject,
                "authoredOn": self.ds(ago + 30),
            }
        )

    def visit(self, ago: int, text: str = "Office visit") -> None:
        self.add(
            {
                "resourceType": "Encounter",
                "id": self.rid("enc"),
                "status": "finished",
                "class": coding(k.ACT_CODE, "AMB", "ambulatory"),
                "type": [cc(k.SNOMED, "185349003", "Encounter for check up (procedure)", text)],
                "subject": self.subject,
                "period": {"start": f"{self.ds(ago)}T10:00:00Z", "end": f"{self.ds(ago)}T10:20:00Z"},
            }
        )

    # -- Medications --------------------------------------------------------------------------------------
    def _medication_cc(self, drug: Drug) -> dict:
        return cc(k.RXNORM, drug.code, drug.name, drug.name)

    def _medication_resource(self, drug: Drug, rid: str) -> dict:
        res: dict[str, Any] = {"resourceType": "Medication", "id": rid, "code": self._medication_cc(drug)}
        if drug.form:
            res["form"] = cc(k.DRUG_FORM, drug.form, k.FORMS[drug.form])
        ing: dict[str, Any] = {
            "itemCodeableConcept": cc(k.RXNORM, drug.ingredient, drug.ingredient_name),
            "isActive": True,
        }
        if drug.strength is not None and drug.strength_unit:
            unit = drug.strength_unit
            if "/" in unit:
                num, den = unit.split("/")
                ing["strength"] = {"numerator": quantity(drug.strength, num), "denominator": quantity(1, den)}
            else:
                ing["strength"] = {
                    "numerator": quantity(drug.strength, unit),
                    "denominator": {
                        "value": 1,
                        "unit": drug.form or "1",
                        "system": k.DRUG_FORM,
                        "code": drug.form or "TAB",
                    },
                }
        res["ingredient"] = [ing]
        return res

    def _attach(self, res: dict, drug: Drug, shape: str) -> dict:
        """shape: inline (medicationCodeableConcept), ref (Medication resource), contained."""
        if shape == "inline":
            res["medicationCodeableConcept"] = self._medication_cc(drug)
        elif shape == "ref":
            med = self._medication_resource(drug, self.rid("med"))
            self.add(med)
            res["medicationReference"] = {"reference": f"Medication/{med['id']}", "display": drug.name}
        elif shape == "contained":
            med = self._medication_resource(drug, "med1")
            res["contained"] = [med]
            res["medicationReference"] = {"reference": "#med1"}
        else:
            raise ValueError(shape)
        return res

    @staticmethod
    def _order(res: dict, keys: list[str]) -> dict:
        """Put keys in a conventional order (contained first, after id)."""
        head = {key: res[key] for key in keys if key in res}
        return head | {key: v for key, v in res.items() if key not in head}

    def dosage(
        self,
        drug: Drug,
        *,
        per_day: float | None = 1,
        dose: float | None = 1,
        dose_unit: str = "tab",
        route: str | None = "default",
        every_days: int = 1,
        text: str | None = None,
    ) -> dict:
        """A Dosage: `dose` tablets (dose_unit='tab') or `dose` mg/[iU]/ug, `per_day` times per
        `every_days` days."""
        d: dict[str, Any] = {}
        if text:
            d["text"] = text
        if per_day is not None:
            d["timing"] = {
                "repeat": {
                    "frequency": int(per_day),
                    "period": every_days,
                    "periodUnit": "d" if every_days < 7 else "wk" if every_days == 7 else "d",
                }
            }
            if every_days == 7:
                d["timing"]["repeat"]["period"] = 1
        r = drug.route if route == "default" else route
        if r:
            d["route"] = cc(k.SNOMED, *k.ROUTES[r])
        if dose is not None:
            if dose_unit == "tab":
                q = dict(TAB_UNIT)
                q["value"] = dose
                if drug.form and drug.form != "TAB":
                    q.update(unit=drug.form, code=drug.form)
            else:
                q = quantity(dose, dose_unit)
            d["doseAndRate"] = [
                {
                    "type": cc("http://terminology.hl7.org/CodeSystem/dose-rate-type", "ordered", "Ordered"),
                    "doseQuantity": q,
                }
            ]
        return d

    def statement(
        self,
        drug_key: str,
        start_ago: int,
        end_ago: int | None,
        *,
        status: str | None = None,
        shape: str = "inline",
        dosage: dict | None = None,
        **dose_kw: Any,
    ) -> dict:
        """MedicationStatement over [start, end] (end None = open)."""
        drug = DRUGS[drug_key]
        if status is None:
            status = "active" if end_ago is None or end_ago <= 0 else "completed"
        res: dict[str, Any] = {"resourceType": "MedicationStatement", "id": self.rid("ms"), "status": status}
        self._attach(res, drug, shape)
        res["subject"] = self.subject
        period = {"start": self.ds(start_ago)}
        if end_ago is not None:
            period["end"] = self.ds(end_ago)
        res["effectivePeriod"] = period
        res["dateAsserted"] = self.ds(max(start_ago, 0) if start_ago >= 0 else start_ago)
        res["dosage"] = [dosage if dosage is not None else self.dosage(drug, **dose_kw)]
        return self.add(self._order(res, ["resourceType", "id", "contained"]))

    def request(
        self,
        drug_key: str,
        authored_ago: int,
        *,
        supply_days: int | None = 30,
        repeats: int | None = 0,
        quantity_n: float | None = None,
        status: str = "active",
        shape: str = "inline",
        validity_days: int | None = None,
        dosage: dict | None = None,
        **dose_kw: Any,
    ) -> dict:
        """MedicationRequest authored `authored_ago` days ago with a dispenseRequest."""
        drug = DRUGS[drug_key]
        res: dict[str, Any] = {
            "resourceType": "MedicationRequest",
            "id": self.rid("mr"),
            "status": status,
            "intent": "order",
        }
        self._attach(res, drug, shape)
        res["subject"] = self.subject
        res["authoredOn"] = self.ds(authored_ago)
        res["dosageInstruction"] = [dosage if dosage is not None else self.dosage(drug, **dose_kw)]
        disp: dict[str, Any] = {}
        if validity_days:
            disp["validityPeriod"] = {
                "start": self.ds(authored_ago),
                "end": self.ds(authored_ago - validity_days),
            }
        if repeats is not None:
            disp["numberOfRepeatsAllowed"] = repeats
        if quantity_n is not None:
            disp["quantity"] = {
                "value": quantity_n,
                "unit": drug.form or "TAB",
                "system": k.DRUG_FORM,
                "code": drug.form or "TAB",
            }
        if supply_days is not None:
            disp["expectedSupplyDuration"] = {
                "value": supply_days,
                "unit": "days",
                "system": k.UCUM,
                "code": "d",
            }
        if disp:
            res["dispenseRequest"] = disp
        return self.add(self._order(res, ["resourceType", "id", "contained"]))

    def administration(
        self,
        drug_key: str,
        ago: int,
        *,
        dose: float,
        dose_unit: str = "mg",
        shape: str = "inline",
        status: str = "completed",
    ) -> dict:
        drug = DRUGS[drug_key]
        res: dict[str, Any] = {
            "resourceType": "MedicationAdministration",
            "id": self.rid("ma"),
            "status": status,
        }
        self._attach(res, drug, shape)
        res["subject"] = self.subject
        res["effectiveDateTime"] = f"{self.ds(ago)}T10:30:00Z"
        res["dosage"] = {
            "route": cc(k.SNOMED, *k.ROUTES[drug.route or "iv"]),
            "dose": quantity(dose, dose_unit),
        }
        return self.add(self._order(res, ["resourceType", "id", "contained"]))

    def zoledronic(self, ago: int, shape: str = "inline") -> dict:
        return self.administration("zoledronic", ago, dose=5, shape=shape)

    def denosumab(self, ago: int, shape: str = "inline") -> dict:
        return self.administration("denosumab", ago, dose=60, shape=shape)

    def alendronate(self, start_ago: int = 400, end_ago: int | None = None, shape: str = "inline") -> dict:
        return self.statement(
            "alendronate",
            start_ago,
            end_ago,
            shape=shape,
            per_day=1,
            every_days=7,
            text="70 mg by mouth once weekly",
        )
