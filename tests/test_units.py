"""Importing units (承办单位) with their contacts: an upsert that names every bad line."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from intake.runtime import Runtime
from routing.errors import UnitImportError
from routing.models import Department
from routing.units import import_units
from tests.test_cli import env_for, gridline

UNITS = Path(__file__).parent / "fixtures" / "units" / "huairou_units.csv"


def test_units_are_created_then_updated_never_duplicated(runtime: Runtime, places: None) -> None:
    with runtime.db.transaction() as session:
        done = import_units(session, UNITS)
    # water and the Quanhe sub-center exist in the demo district (contacts change); gas is new.
    assert (done.created, done.updated, done.unchanged) == (1, 2, 0)
    with runtime.db.transaction() as session:
        water = session.get(Department, "water")
        assert water is not None
        assert (water.duty_phone, water.head_phone, water.email) == (
            "+861069611234",
            "+8613800001234",
            "duty@water.example.gov.cn",
        )
        again = import_units(session, UNITS)
        assert (again.created, again.updated, again.unchanged) == (0, 0, 3)
        assert session.scalar(select(Department.kind).where(Department.code == "gas")) == "department"


def test_a_bad_file_writes_nothing_and_names_each_line(runtime: Runtime, tmp_path: Path) -> None:
    bad = tmp_path / "units.csv"
    bad.write_text(
        "code,name_zh,kind,area_code,duty_phone,email\n"
        "ok-unit,好单位,department,,,\n"
        "Bad Code,坏单位,department,,,\n"
        "town-x,分中心,town_center,,,\n"
        "phones,单位,department,,call me,\n"
        "mail,单位,department,,,not-an-address\n"
        "ok-unit,重复,department,,,\n",
        encoding="utf-8",
    )
    with pytest.raises(UnitImportError) as caught, runtime.db.transaction() as session:
        import_units(session, bad)
    message = str(caught.value)
    for expected in (
        "line 3: code 'Bad Code'",
        "line 4: area_code: required for a town_center",
        "line 5: duty_phone: 'call me' is not a phone number",
        "line 6: email 'not-an-address'",
        "line 7: code ok-unit is also on line 2",
    ):
        assert expected in message
    with runtime.db.transaction() as session:
        assert session.get(Department, "ok-unit") is None
    (tmp_path / "no_name.csv").write_text("code\nx\n", encoding="utf-8")
    with pytest.raises(UnitImportError, match="missing column"), runtime.db.transaction() as session:
        import_units(session, tmp_path / "no_name.csv")


def test_gb18030_files_from_spreadsheets_are_read(runtime: Runtime, tmp_path: Path) -> None:
    legacy = tmp_path / "units_gbk.csv"
    legacy.write_bytes("code,name_zh\nroads,区公路分局\n".encode("gb18030"))
    with runtime.db.transaction() as session:
        assert import_units(session, legacy).created == 1
        assert session.scalar(select(Department.name_zh).where(Department.code == "roads")) == "区公路分局"


def test_the_command_prints_counts(tmp_path: Path) -> None:
    env = env_for(tmp_path / "data")
    assert gridline("db", "upgrade", env=env, cwd=tmp_path).returncode == 0
    done = gridline("units", "import", str(UNITS), env=env, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "units: 3 created, 0 updated, 0 unchanged"
