"""Routing rules: the most specific rule wins, otherwise the area's default owner (属地兜底)."""

from __future__ import annotations

import pytest

from intake.config import load_config
from intake.errors import ConfigError
from routing.rules import propose, validate
from routing.settings import RoutingSettings, routing_settings

QUANHE_CELL = "110116001001001"  # 泉河街道, community 001, cell 001
YANQI_CELL = "110116004002003"

SETTINGS = RoutingSettings.model_validate(
    {
        "rules": [
            {"name": "any public facility", "categories": ["public-facilities"], "unit": "urban-management"},
            {"name": "water", "categories": ["manhole-cover", "water-supply"], "unit": "water"},
            {"name": "lights in Quanhe", "categories": ["street-light"], "areas": ["110116001"], "unit": "town-lights"},
            {
                "name": "one cell's lights",
                "categories": ["street-light"],
                "areas": [QUANHE_CELL],
                "unit": "cell-lights",
            },
            {"name": "anything in Yanqi's community 2", "areas": ["110116004002"], "unit": "yanqi-2"},
            {"name": "same as rule 2", "categories": ["manhole-cover"], "unit": "second-water"},
        ],
        "default_owners": {"110116005": "miaocheng-owner", "110116005001": "miaocheng-community-1"},
    }
)


@pytest.mark.parametrize(
    ("category", "grid_code", "unit", "basis", "rule"),
    [
        # A subclass rule beats a class rule.
        ("manhole-cover", QUANHE_CELL, "water", "rule", 2),
        # The class rule takes the other subclasses of its class.
        ("street-light", "110116003001001", "urban-management", "rule", 1),
        # A longer area prefix beats a shorter one, and both beat a district-wide rule.
        ("street-light", "110116001001002", "town-lights", "rule", 3),
        ("street-light", QUANHE_CELL, "cell-lights", "rule", 4),
        # An area rule without categories applies to every category there, and beats district-wide rules.
        ("garbage", YANQI_CELL, "yanqi-2", "rule", 5),
        ("manhole-cover", YANQI_CELL, "yanqi-2", "rule", 5),
        # Equal specificity: the earlier rule wins (rule 2 over rule 6).
        ("manhole-cover", "110116009001001", "water", "rule", 2),
        # No rule: the configured default owner, the longest prefix first.
        ("garbage", "110116005002001", "miaocheng-owner", "default_owner", None),
        ("garbage", "110116005001001", "miaocheng-community-1", "default_owner", None),
        # No rule, no configured owner: the town's own sub-center.
        ("garbage", "110116007001001", "town-110116007", "town_center", None),
        (None, "110116007001001", "town-110116007", "town_center", None),
        # No location and no rule that ignores location: nothing to propose.
        ("garbage", None, None, "no_location", None),
        # A category rule without areas needs no location.
        ("manhole-cover", None, "water", "rule", 2),
    ],
)
def test_proposals(category: str | None, grid_code: str | None, unit: str | None, basis: str, rule: int | None) -> None:
    proposal = propose(SETTINGS, category=category, grid_code=grid_code)
    assert (proposal.unit, proposal.basis, proposal.rule) == (unit, basis, rule)


def test_the_rule_name_is_the_reason() -> None:
    assert propose(SETTINGS, category="water-supply", grid_code=None).reason == "water"


def test_a_catch_all_rule_is_ignored_so_default_owners_still_apply() -> None:
    settings = RoutingSettings.model_validate({"rules": [{"unit": "everything"}]})
    assert propose(settings, category="garbage", grid_code=YANQI_CELL).unit == "town-110116004"


def test_the_shipped_config_routes_the_demo_categories() -> None:
    settings = routing_settings(load_config())
    validate(settings)
    assert propose(settings, category="manhole-cover", grid_code=QUANHE_CELL).unit == "water"
    assert propose(settings, category="street-light", grid_code=QUANHE_CELL).unit == "urban-management"
    assert propose(settings, category="street-light", grid_code=YANQI_CELL).unit == "town-110116004"


def test_unknown_categories_and_areas_are_refused_naming_the_rule() -> None:
    bad = RoutingSettings.model_validate(
        {
            "rules": [
                {"categories": ["manhole-cover"], "unit": "x"},
                {"categories": ["manhole"], "areas": ["泉河"], "unit": "y"},
            ]
        }
    )
    with pytest.raises(ConfigError) as caught:
        validate(bad)
    assert "routing.rules.1.categories: 'manhole'" in str(caught.value)
    assert "routing.rules.1.areas: '泉河'" in str(caught.value)


def test_malformed_routing_config_names_the_key() -> None:
    with pytest.raises(ConfigError) as caught:
        routing_settings(load_config(routing={"rules": [{"categories": ["garbage"]}]}))
    assert "routing.rules.0.unit" in str(caught.value)
    with pytest.raises(ConfigError) as caught:
        routing_settings(load_config(routing={"deadlines": {"default": {"finish": "five days"}}}))
    assert "routing.deadlines.default.finish" in str(caught.value)
