"""The shipped depot and route-text tables load as data, a site can add depot rows, and a bad row is a config error."""

from __future__ import annotations

import duckdb
import pytest

from screening.codes.valuesets import load_code_tables
from screening.errors import ConfigError
from screening.settings import DEFAULT_CONFIG_DIR

HEADER = "ingredient,strength_mg,system,code,product_token,interval_value,interval_unit,spread,label\n"


def test_shipped_depot_rows_cover_section_8():
    con = duckdb.connect()
    load_code_tables(con, [DEFAULT_CONFIG_DIR])
    rows = set(con.execute("SELECT ingredient, strength_mg, interval_value, interval_unit FROM med_depot").fetchall())
    for want in [("leuprolide", 22.5, 3, "month"), ("leuprolide", 45.0, 6, "month"), ("goserelin", 10.8, 12, "week"),
                 ("triptorelin", 22.5, 24, "week"), ("degarelix", 240.0, 28, "day")]:
        assert want in rows
    tokens = dict(con.execute("SELECT token, kind FROM med_route_token").fetchall())
    assert tokens["od"] == "ophthalmic" and tokens["mdi"] == "inhaled" and tokens["nasl"] == "local"


def test_local_depot_row_is_added(tmp_path):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "depots_site.csv").write_text(HEADER + "triptorelin,6,,,,1,month,false,site row\n")
    con = duckdb.connect()
    load_code_tables(con, [DEFAULT_CONFIG_DIR, tmp_path])
    assert con.execute("SELECT count(*) FROM med_depot WHERE label = 'site row'").fetchone()[0] == 1


@pytest.mark.parametrize("row", ["leuprolide,7.5,,,,1,fortnight,false,x", "leuprolide,abc,,,,1,month,false,x",
                                 "leuprolide,7.5,,,,0,month,false,x"])
def test_bad_depot_row_is_a_config_error(tmp_path, row):
    (tmp_path / "local").mkdir()
    (tmp_path / "local" / "depots_bad.csv").write_text(HEADER + row + "\n")
    with pytest.raises(ConfigError, match="depots_bad.csv: row 2: (interval|ingredient)"):
        load_code_tables(duckdb.connect(), [DEFAULT_CONFIG_DIR, tmp_path])
