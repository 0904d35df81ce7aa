"""Demo: the sample website reports (they live in :mod:`intake.demo`, with the demo users)."""

from __future__ import annotations

from channels.common import DemoContext
from intake.demo import submit_reports


def load(context: DemoContext) -> list[str]:
    numbers = submit_reports()
    url = context.runtime.config.public_url
    return [f"{len(numbers)} website reports; the public form is {url}/report, follow a case at {url}/track"]
