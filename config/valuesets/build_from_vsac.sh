#!/bin/sh
# Rebuild the published part of the shipped SNOMED code lists from VSAC expansions (re-runnable: rows of each
# value set are replaced, curated rows are kept, no code is written twice). Run from the repository root:
#   sh config/valuesets/build_from_vsac.sh
# Source files: config/valuesets/vsac/valueset-<OID>.json, copied unchanged from
#   github.com/cqframework/ecqm-content-qicore-2024 @ 9ebd48ffebf2ed2489f3904cc8393ebf8979bfc9 (2025-01-15),
#   path input/vocabulary/valueset/external/valueset-<OID>.json (VSAC expansions of 2025-01-10). CPT members
#   (licensed, never shipped) were removed from the two copies that had them (3.526.3.1584, 3.526.3.471).
# To refresh with newer expansions: drop the new files into config/valuesets/vsac/ and run this script again.
set -eu
OSTEO=${OSTEO:-.venv/bin/osteoscreen}
V=${VALUESETS_DIR:-config/valuesets}
S=config/valuesets/vsac/valueset-
imp() { f=$1; shift; "$OSTEO" valuesets import "$S$f.json" "$@"; }

# inflammatory_disease: RA, lupus, AS, PsA; Crohn's / UC from the IBD members of "Malabsorption Syndromes".
imp 2.16.840.1.113883.3.464.1003.113.12.1005 --name inflammatory_disease --out $V/inflammatory_disease.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.117.12.1010 --name inflammatory_disease --out $V/inflammatory_disease.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.113.12.1045 --name inflammatory_disease --out $V/inflammatory_disease.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.113.12.1046 --name inflammatory_disease --out $V/inflammatory_disease.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.199.12.1050 --name inflammatory_disease --out $V/inflammatory_disease.csv --system snomed \
    --include "crohn|colitis|inflammatory bowel|proctitis|rectosigmoiditis|pancolitis|inflammation of intestine"

# malabsorption: celiac (qualifier celiac) and other malabsorption (K90.x / K91.2 scope: IBD, cystic fibrosis,
# lactase non-persistence and diarrhoea concepts are left out); bariatric surgery has an ICD-only published set.
imp 2.16.840.1.113883.3.464.1003.199.12.1050 --name malabsorption --out $V/malabsorption.csv --system snomed \
    --qualifier other --qualify "celiac|coeliac=celiac" \
    --exclude "crohn|colitis|inflammatory bowel|proctitis|rectosigmoiditis|pancolitis|inflammation of intestine|cystic fibrosis|lactase|diarrhea|diarrhoea"
imp 2.16.840.1.113762.1.4.1029.317 --name malabsorption --out $V/malabsorption.csv --qualifier bariatric

# hyperthyroidism (factitia = switched off by thyroid cancer); procedures (radio-iodine) are not a condition.
imp 2.16.840.1.113883.3.464.1003.117.12.1015 --name hyperthyroidism --out $V/hyperthyroidism.csv --system snomed \
    --qualify "factitia|on thyroxine therapy=factitia" --exclude "\(procedure\)"

imp 2.16.840.1.113883.3.464.1003.1011 --name myeloma --out $V/myeloma.csv --system snomed
# hyperparathyroidism: E21.0-E21.3 scope, so renal secondary hyperparathyroidism (N25.81) is left out.
imp 2.16.840.1.113883.3.464.1003.117.12.1016 --name hyperparathyroidism --out $V/hyperparathyroidism.csv --system snomed \
    --exclude "renal"
# cushing: drug-induced / iatrogenic (E24.2, exogenous glucocorticoid) is the glucocorticoid cause, not cushing.
imp 2.16.840.1.113883.3.464.1003.117.12.1009 --name cushing --out $V/cushing.csv --system snomed \
    --exclude "iatrogenic|drug-induced"

# hypogonadism: premature menopause, amenorrhea, bilateral oophorectomy, anorexia nervosa (from Eating Disorders).
imp 2.16.840.1.113883.3.464.1003.1013 --name hypogonadism --out $V/hypogonadism.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.1022 --name hypogonadism --out $V/hypogonadism.csv --system snomed
imp 2.16.840.1.113883.3.526.3.471 --name hypogonadism --out $V/hypogonadism.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.1048 --name hypogonadism --out $V/hypogonadism.csv --system snomed
imp 2.16.840.1.113883.3.464.1003.1039 --name hypogonadism --out $V/hypogonadism.csv --system snomed \
    --include "anorexia nervosa"

# fracture: osteoporotic fracture concepts (any age); vertebral ones keep their own qualifier.
imp 2.16.840.1.113883.3.464.1003.113.12.1050 --name fracture --out $V/fracture.csv --system snomed \
    --qualifier osteoporotic --qualify "vertebra=osteoporotic_vertebral"

# hospice_palliative (exclusion): encounters, diagnoses, interventions, referrals (SNOMED, ICD-10-CM, HCPCS;
# CPT is licensed and never shipped).
imp 2.16.840.1.113883.3.464.1003.1003 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113883.3.464.1003.101.12.1090 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113883.3.464.1003.1165 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113883.3.464.1003.1167 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113883.3.464.1003.198.12.1135 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113762.1.4.1116.365 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113883.3.600.1.1579 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113762.1.4.1108.15 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113883.3.526.3.1584 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs
imp 2.16.840.1.113762.1.4.1095.101 --name hospice_palliative --out $V/hospice_palliative.csv --system snomed --system icd10cm --system hcpcs

# follow-up referrals from the VSAC "Referral" set: gastroenterology (tTG-IgA work-up), endocrinology (cushing).
imp 2.16.840.1.113883.3.464.1003.101.12.1046 --name gi_followup --out $V/gi_followup.csv --system snomed \
    --include "gastroenterolog"
imp 2.16.840.1.113883.3.464.1003.101.12.1046 --name endocrinology_followup --out $V/endocrinology_followup.csv \
    --system snomed --include "endocrinologist"
