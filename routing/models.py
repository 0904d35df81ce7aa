"""Places and units: administrative areas, grid cells (网格) and departments."""

from __future__ import annotations

from sqlalchemy import Float, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from intake.models import Base


class Area(Base):
    """District, town/subdistrict (街道/镇/乡) or community/village: the parents of grid cells."""

    __tablename__ = "areas"

    #: 6 digits (district), 9 (town/subdistrict) or 12 (community/village): a prefix of cell codes.
    code: Mapped[str] = mapped_column(String(12), primary_key=True)
    level: Mapped[str] = mapped_column(String(16))  # district | town | community
    parent_code: Mapped[str | None] = mapped_column(String(12), index=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    #: Boundary as GeoJSON geometry text (lon/lat, WGS 84).
    geometry: Mapped[str | None] = mapped_column(Text)


class GridCell(Base):
    __tablename__ = "grid_cells"

    #: 15 digits: 6 district + 3 town/subdistrict + 3 community/village + 3 cell.
    code: Mapped[str] = mapped_column(String(15), primary_key=True)
    name: Mapped[str] = mapped_column(String(100))
    community_code: Mapped[str] = mapped_column(String(12), index=True)
    town_code: Mapped[str] = mapped_column(String(9), index=True)
    geometry: Mapped[str] = mapped_column(Text)
    min_lon: Mapped[float] = mapped_column(Float)
    min_lat: Mapped[float] = mapped_column(Float)
    max_lon: Mapped[float] = mapped_column(Float)
    max_lat: Mapped[float] = mapped_column(Float)


class Department(Base):
    """A district department (委办局) or a town/subdistrict sub-center that cases are dispatched to."""

    __tablename__ = "departments"

    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    name_zh: Mapped[str] = mapped_column(String(100))
    name_en: Mapped[str] = mapped_column(String(100), default="")
    kind: Mapped[str] = mapped_column(String(16), default="department")  # department | town_center
    #: For town sub-centers: the town/subdistrict they answer for.
    area_code: Mapped[str | None] = mapped_column(String(12))
    duty_phone: Mapped[str | None] = mapped_column(String(32))
    email: Mapped[str | None] = mapped_column(String(254))
    #: The unit's head, whom supervision escalates overdue cases to.
    head_name: Mapped[str | None] = mapped_column(String(100))
    head_phone: Mapped[str | None] = mapped_column(String(32))


class Address(Base):
    """One entry of the address gazetteer (门牌地址库): a standard address with its point and cell."""

    __tablename__ = "addresses"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    #: The standard form, e.g. "北京市怀柔区泉河街道青春路12号".
    text: Mapped[str] = mapped_column(String(200))
    town_code: Mapped[str] = mapped_column(String(9), index=True)
    community_code: Mapped[str | None] = mapped_column(String(12))
    grid_code: Mapped[str | None] = mapped_column(String(15))
    #: Street or road (青春路), house number (12号), and building or estate name, where known.
    road: Mapped[str | None] = mapped_column(String(100))
    number: Mapped[str | None] = mapped_column(String(32))
    building: Mapped[str | None] = mapped_column(String(100))
    lat: Mapped[float] = mapped_column(Float)
    lon: Mapped[float] = mapped_column(Float)
