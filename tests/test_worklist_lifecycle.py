"""Three consecutive runs on a changing population: new / continuing / changed / resolved with reasons, and the
disposition life cycle (suppressed, back on new evidence, back after the review date, unable to reach counted)."""

from __future__ import annotations

import duckdb
import pytest

from screening.export.dispositions import Disposition, DispositionError, read_all, record
from tests.test_worklist_support import read_csv, run_once


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("lifecycle")
    db = tmp / "db" / "w.duckdb"
    out = {}
    out[1] = run_once(tmp, 1)
    out["csv1"] = read_csv(tmp / "out" / "worklist.csv")
    record(db, [Disposition("wl-disp1", "contacted", "left a message", review_date=None, recorded_by="cm1"),
                Disposition("wl-disp2", "referred", None, recorded_by="cm2"),
                Disposition("wl-unreach", "unable to reach", recorded_by="cm1")], "cli")
    record(db, [Disposition("wl-disp1", "contacted", "called back", review_date=__import__("datetime").date(
        2026, 8, 15), recorded_by="cm1"), Disposition("wl-unreach", "unable to reach", recorded_by="cm1")], "cli")
    out[2] = run_once(tmp, 2)
    out["csv2"] = read_csv(tmp / "out" / "worklist.csv")
    out["resolved2"] = read_csv(tmp / "out" / "resolved.csv")
    out[3] = run_once(tmp, 3)
    out["csv3"] = read_csv(tmp / "out" / "worklist.csv")
    out["resolved3"] = read_csv(tmp / "out" / "resolved.csv")
    out["disp_csv3"] = read_csv(tmp / "out" / "dispositions.csv")
    out["db"] = db
    return out


def by_id(rows):
    return {r["patient_id"]: r for r in rows}


def test_first_run_everyone_new(runs):
    rows = runs["csv1"]
    assert {r["status"] for r in rows} == {"new"}
    assert all(r["first_listed"] == "2026-06-30" for r in rows)
    s = runs[1]["export"]["summary"]
    assert (s["new"], s["continuing"], s["resolved"], s["suppressed"]) == (len(rows), 0, 0, 0)


def test_second_run_statuses(runs):
    rows = by_id(runs["csv2"])
    assert rows["wl-cont"]["status"] == "continuing"
    assert rows["wl-change"]["status"] == "changed"            # a new unaddressed cause
    assert "glucocorticoid" in rows["wl-change"]["unaddressed"]
    assert rows["wl-evid"]["status"] == "continuing"           # new evidence id, same markers and causes
    assert "Observation/wl-evid-t2" in rows["wl-evid"]["evidence_ids"]
    assert rows["wl-new"]["status"] == "new"
    assert rows["wl-new"]["first_listed"] == "2026-07-31"
    assert rows["wl-cont"]["first_listed"] == "2026-06-30"


def test_second_run_resolved_with_reasons(runs):
    reasons = {r["patient_id"]: r["reason"] for r in runs["resolved2"]}
    assert reasons == {"wl-treat": "treated", "wl-dead": "deceased", "wl-gone": "cause gone"}


def test_dispositions_suppress_and_unable_to_reach_never_does(runs):
    rows = by_id(runs["csv2"])
    assert "wl-disp1" not in rows and "wl-disp2" not in rows
    assert rows["wl-unreach"]["status"] == "continuing"
    assert rows["wl-unreach"]["last_disposition"].startswith("unable to reach (attempt 2) ")
    s = runs[2]["export"]["summary"]
    assert s["suppressed"] == 2
    assert s["resolved"] == 3


def test_third_run_back_review_due_and_new_evidence(runs):
    rows = by_id(runs["csv3"])
    assert rows["wl-disp1"]["status"] == "back: review due"     # review date 2026-08-15 passed by 2026-08-31
    assert "contacted" in rows["wl-disp1"]["last_disposition"] and "review 2026-08-15" in \
        rows["wl-disp1"]["last_disposition"]
    assert rows["wl-disp2"]["status"] == "back: new evidence"   # referred (90 days) but a new cause arrived
    assert rows["wl-new"]["status"] == "continuing"
    assert rows["wl-disp1"]["first_listed"] == "2026-06-30"
    assert runs["resolved3"] == []
    s = runs[3]["export"]["summary"]
    assert s["back"] == 2 and s["suppressed"] == 0


def test_history_in_duckdb(runs):
    con = duckdb.connect(str(runs["db"]), read_only=True)
    try:
        n_runs = con.execute("SELECT count(*) FROM worklist_run").fetchone()[0]
        fp = con.execute("SELECT count(DISTINCT fingerprint) FROM worklist_history WHERE patient_id = 'wl-evid'"
                         ).fetchone()[0]
        ids = con.execute("SELECT count(DISTINCT evidence_ids) FROM worklist_history WHERE patient_id = 'wl-evid'"
                          ).fetchone()[0]
        sup = con.execute("SELECT status FROM worklist_history h JOIN worklist_run r USING (run_id) "
                          "WHERE patient_id = 'wl-disp1' ORDER BY run_seq").fetchall()
    finally:
        con.close()
    assert n_runs == 3
    assert fp == 1 and ids == 2
    assert [s for (s,) in sup] == ["new", "suppressed", "back: review due"]


def test_dispositions_kept_and_exported_with_the_run(runs):
    assert len(read_all(runs["db"])) == 5
    assert len(runs["disp_csv3"]) == 5
    assert {r["recorded_by"] for r in runs["disp_csv3"]} == {"cm1", "cm2"}


def test_care_team_rule(runs):
    rows = by_id(runs["csv1"])
    assert rows["wl-cont"]["care_team"] == "North Clinic"     # GP Practitioner -> PractitionerRole -> Organization
    assert rows["wl-change"]["care_team"] == "South Practice"  # managingOrganization
    assert rows["wl-evid"]["care_team"] == "East Surgery"      # GP Organization not loaded: its display
    assert rows["wl-unreach"]["care_team"] == "Unassigned"


def test_column_order(runs):
    cols = list(runs["csv1"][0])
    assert cols[12:17] == ["status", "care_team", "last_disposition", "first_listed", "safety"]
    assert cols[-4:] == ["disposition", "disposition_note", "disposition_review", "disposition_by"]


def test_not_appropriate_needs_reason_and_review(tmp_path):
    with pytest.raises(DispositionError, match="reason"):
        record(tmp_path / "x.duckdb", [Disposition("p", "not appropriate")], "cli")
    with pytest.raises(DispositionError, match="review date"):
        record(tmp_path / "x.duckdb", [Disposition("p", "not appropriate", "palliative")], "cli")
    with pytest.raises(DispositionError, match="unknown disposition"):
        record(tmp_path / "x.duckdb", [Disposition("p", "phoned")], "cli")
    assert read_all(tmp_path / "x.duckdb") == []


def test_data_removed_and_dispositions_survive_reload(tmp_path):
    """A Bulk `deleted` export removes a listed patient's records: resolved as `data removed`; a re-load and a
    re-screen of the same database keep every disposition."""
    from screening.pipeline import run_pipeline
    from tests.conftest import write_ndjson
    from tests.test_worklist_support import AS_OF

    run_once(tmp_path, 1)
    db = tmp_path / "db" / "w.duckdb"
    record(db, [Disposition("wl-evid", "contacted", recorded_by="cm")], "cli")
    gone = ["Patient/wl-cont", "Observation/wl-cont-t1", "MedicationStatement/wl-cont-ai"]
    write_ndjson(tmp_path / "del" / "deleted" / "del.ndjson", [{"resourceType": "Bundle", "type": "transaction",
                 "entry": [{"request": {"method": "DELETE", "url": u}} for u in gone]}])
    run_pipeline(tmp_path / "del", db, tmp_path / "out", AS_OF[0])
    assert {r["patient_id"]: r["reason"] for r in read_csv(tmp_path / "out" / "resolved.csv")} == \
        {"wl-cont": "data removed"}
    run_once(tmp_path, 1)   # re-load everything: wl-cont is back as new, the disposition is still there
    rows = {r["patient_id"]: r for r in read_csv(tmp_path / "out" / "worklist.csv")}
    assert rows["wl-cont"]["status"] == "new" and rows["wl-cont"]["first_listed"] == "2026-06-30"
    assert "wl-evid" not in rows
    assert [d[0] for d in read_all(db)] == ["wl-evid"]


def test_short_lock_waits_for_the_holder(tmp_path):
    """The dispositions lock is short: a writer waits for the holder (a run's snapshot) instead of failing."""
    import threading

    from screening.export.dispositions import disposition_lock, dispositions_path

    path = dispositions_path(tmp_path / "w.duckdb")
    held, release = threading.Event(), threading.Event()

    def holder():
        with disposition_lock(path):
            held.set()
            release.wait(5)

    t = threading.Thread(target=holder)
    t.start()
    held.wait(5)
    done = []
    w = threading.Thread(target=lambda: done.append(record(tmp_path / "w.duckdb",
                                                           [Disposition("p", "declined", recorded_by="x")], "cli")))
    w.start()
    w.join(0.3)
    assert done == []            # still waiting for the lock
    release.set()
    w.join(10)
    t.join(5)
    assert done == [1] and len(read_all(tmp_path / "w.duckdb")) == 1


def test_a_run_that_died_before_its_files_were_written_is_not_previous(tmp_path, monkeypatch):
    """History rows of an export that failed midway are kept but never count as the previous run."""
    import screening.export.report_html as report_html

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(report_html, "write_report", boom)
    with pytest.raises(Exception, match="disk|export"):  # phi_safe turns it into a one-line error
        run_once(tmp_path, 1)
    monkeypatch.undo()
    run_once(tmp_path, 1)
    assert {r["status"] for r in read_csv(tmp_path / "out" / "worklist.csv")} == {"new"}
    con = duckdb.connect(str(tmp_path / "db" / "w.duckdb"), read_only=True)
    try:
        runs = con.execute("SELECT run_seq, completed FROM worklist_run ORDER BY run_seq").fetchall()
    finally:
        con.close()
    assert runs == [(1, False), (2, True)]
