"""Playwright helpers shared by browser tests: Debian's Chromium, contexts, screenshots, local-only checks.

Tests take the session-scoped ``browser`` fixture (registered in conftest.py, so one Chromium
serves the whole session), then open pages with :func:`new_page`.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

#: Debian's package; Playwright's own browser downloads are not used.
CHROMIUM = os.environ.get("GRIDLINE_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
#: Screenshots land here (repository root) for people to look at.
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
#: Default wait for an expectation, in milliseconds: generous for a loaded CI machine, never slept.
TIMEOUT_MS = 10_000
MOBILE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True, "device_scale_factor": 2}


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless Chromium for the whole session; each test gets its own context."""
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).exists():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield instance
        finally:
            instance.close()


def new_context(browser: Browser, base_url: str, *, locale: str = "zh-CN", **options: Any) -> BrowserContext:
    """A fresh context (own cookies) whose relative URLs resolve against ``base_url``."""
    context = browser.new_context(base_url=base_url, locale=locale, **options)
    context.set_default_timeout(TIMEOUT_MS)
    return context


class LocalOnly:
    """Records every request a page makes that leaves ``base_url`` (CDNs, map tiles, fonts...)."""

    def __init__(self, page: Page, base_url: str) -> None:
        self.base_url = base_url
        self.outside: list[str] = []
        page.on("request", self._seen)

    def _seen(self, request: Any) -> None:
        url: str = request.url
        if not url.startswith((self.base_url, "data:", "blob:", "about:")):
            self.outside.append(url)


def new_page(context: BrowserContext, base_url: str) -> tuple[Page, LocalOnly]:
    page = context.new_page()
    return page, LocalOnly(page, base_url)


def screenshot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """Save ``test-artifacts/<name>.png`` and return its path."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    # Written aside, then renamed: the other backend's run of the same test may be saving it right now.
    partial = path.with_name(f"{name}.{os.getpid()}.png")
    page.screenshot(path=str(partial), full_page=full_page)
    partial.replace(path)
    return path
