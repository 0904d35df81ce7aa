"""Routing rules: category × area → the responsible unit, with a default owner per area (属地兜底).

A rule names category subclass or class codes and area code prefixes (town, community or cell);
empty lists match anything. Of the rules that match, the most specific wins: the longest matching
area prefix first, then a subclass over a class over "any category", then the order in config.
When no rule matches, the area's default owner takes the case: ``routing.default_owners`` by the
longest matching prefix, otherwise the sub-center of the case's town (``town-<9-digit code>``).
"""

from __future__ import annotations

from dataclasses import dataclass

from intake.categories import is_known_code
from intake.categories import load as load_categories
from intake.errors import ConfigError
from routing.settings import RoutingSettings, Rule

#: Prefix of a town sub-center's unit code; the rest is the town's 9-digit area code.
TOWN_CENTER_PREFIX = "town-"
#: Length of a town/subdistrict area code, a prefix of every cell code.
TOWN_CODE_DIGITS = 9


@dataclass(frozen=True)
class Proposal:
    """The unit routing proposes and why; ``unit`` is None when there is nothing to go on."""

    unit: str | None
    #: 1-based position of the matching rule in ``routing.rules``; None for a default owner.
    rule: int | None
    #: "rule" | "default_owner" | "town_center" | "no_location"
    basis: str
    #: Text for the agent (the rule's name, or which area's default owner).
    reason: str


def validate(settings: RoutingSettings) -> None:
    """Reject rules naming categories that are not in the taxonomy (a typo would never match)."""
    problems = [
        f"routing.rules.{index}.categories: {code!r} is not a category or class code"
        for index, rule in enumerate(settings.rules)
        for code in rule.categories
        if not is_known_code(code)
    ]
    problems += [
        f"routing.rules.{index}.areas: {area!r} is not an area code prefix (digits)"
        for index, rule in enumerate(settings.rules)
        for area in rule.areas
        if not area.isdigit()
    ]
    if problems:
        raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))


def _category_rank(rule: Rule, category: str | None) -> int | None:
    """2 subclass match, 1 class match, 0 any category; None if the rule does not match."""
    if not rule.categories:
        return 0
    if category is None:
        return None
    if category in rule.categories:
        return 2
    known = load_categories().get(category)
    if known is not None and known.class_code in rule.categories:
        return 1
    return None


def _area_rank(prefixes: list[str], grid_code: str | None) -> int | None:
    """Length of the longest matching prefix (0 for "anywhere"); None if none matches."""
    if not prefixes:
        return 0
    if grid_code is None:
        return None
    matching = [len(prefix) for prefix in prefixes if grid_code.startswith(prefix)]
    return max(matching) if matching else None


def propose(settings: RoutingSettings, *, category: str | None, grid_code: str | None) -> Proposal:
    best: tuple[int, int, int] | None = None
    best_index = -1
    for index, rule in enumerate(settings.rules):
        category_rank = _category_rank(rule, category)
        area_rank = _area_rank(rule.areas, grid_code)
        if category_rank is None or area_rank is None:
            continue
        if not rule.categories and not rule.areas:
            continue  # a catch-all rule would hide the default owners; use default_owners instead
        key = (area_rank, category_rank, -index)
        if best is None or key > best:
            best, best_index = key, index
    if best is not None:
        rule = settings.rules[best_index]
        return Proposal(rule.unit, best_index + 1, "rule", rule.name or f"rule {best_index + 1}")
    if grid_code is None:
        return Proposal(None, None, "no_location", "no location: choose the unit")
    owners = [prefix for prefix in settings.default_owners if grid_code.startswith(prefix)]
    if owners:
        prefix = max(owners, key=len)
        return Proposal(settings.default_owners[prefix], None, "default_owner", f"default owner of {prefix}")
    town = grid_code[:TOWN_CODE_DIGITS]
    return Proposal(f"{TOWN_CENTER_PREFIX}{town}", None, "town_center", f"town sub-center of {town}")
