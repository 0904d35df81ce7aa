"""The category taxonomy (GB/T 30428 style: parts and events, classes, subclasses)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import yaml

DEFAULT_TAXONOMY = Path(__file__).with_name("categories.yaml")


@dataclass(frozen=True)
class Category:
    code: str
    #: The class it belongs to (``public-facilities``): routing rules and deadlines may name either.
    class_code: str
    zh: str
    en: str
    group_zh: str  # "部件 · 公用设施"
    group_en: str

    def name(self, lang: str) -> str:
        return self.en if lang == "en" else self.zh

    def group(self, lang: str) -> str:
        return self.group_en if lang == "en" else self.group_zh


@functools.cache
def load(path: Path = DEFAULT_TAXONOMY) -> dict[str, Category]:
    """Subclass code → category, in taxonomy order."""
    categories: dict[str, Category] = {}
    for kind in yaml.safe_load(path.read_text(encoding="utf-8")):
        for klass in kind["classes"]:
            for sub in klass["subclasses"]:
                categories[sub["code"]] = Category(
                    code=sub["code"],
                    class_code=klass["code"],
                    zh=sub["zh"],
                    en=sub["en"],
                    group_zh=f"{kind['zh']} · {klass['zh']}",
                    group_en=f"{kind['en']} · {klass['en']}",
                )
    return categories


def is_known(code: str) -> bool:
    return code in load()


def is_known_code(code: str) -> bool:
    """Whether ``code`` names a subclass or a class of the taxonomy."""
    return code in load() or any(c.class_code == code for c in load().values())
