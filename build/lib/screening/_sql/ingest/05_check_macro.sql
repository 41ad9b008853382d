-- The elements the load checks, typed in one JSON parse per record. "JSON" keeps a fragment whose JSON type is
-- checked later (a number written as a string, an id that is not a string). try(): NULL for text that is not JSON.
CREATE OR REPLACE TEMP MACRO fhir_check(t) AS try(json_transform(t, '{
         "resourceType": "JSON",
         "id": "JSON",
         "meta": {"versionId": "JSON", "lastUpdated": "VARCHAR"},
         "subject": {"reference": "VARCHAR"},
         "status": "JSON",
         "clinicalStatus": {"coding": [{"code": "VARCHAR"}]},
         "verificationStatus": {"coding": [{"code": "VARCHAR"}]},
         "birthDate": "VARCHAR",
         "effectiveDateTime": "VARCHAR", "effectiveInstant": "VARCHAR",
         "effectivePeriod": {"start": "VARCHAR", "end": "VARCHAR"},
         "issued": "VARCHAR",
         "onsetDateTime": "VARCHAR", "recordedDate": "VARCHAR", "abatementDateTime": "VARCHAR",
         "authoredOn": "VARCHAR", "dateAsserted": "VARCHAR",
         "performedDateTime": "VARCHAR", "performedPeriod": {"start": "VARCHAR", "end": "VARCHAR"},
         "valueQuantity": {"value": "JSON"},
         "dosage": "JSON",
         "dosageInstruction": "JSON",
         "dispenseRequest": {"expectedSupplyDuration": {"value": "JSON"},
                             "validityPeriod": {"start": "VARCHAR", "end": "VARCHAR"}}
       }'));
