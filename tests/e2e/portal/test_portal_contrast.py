"""WCAG 2.x contrast of the portal's colour pairs (text on its background): at least 4.5:1."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = (Path(__file__).resolve().parents[3] / "api" / "portal" / "static" / "portal.css").read_text()
VARS = dict(re.findall(r"--([a-z-]+):\s*(#[0-9a-fA-F]{6})", CSS))

PAIRS = [  # (text, background, where)
    ("ink", "paper", "body text"), ("ink", "wash", "page background"), ("muted", "paper", "secondary text"),
    ("muted", "wash", "footer, captions"), ("link", "paper", "links"), ("link", "wash", "links on the page"),
    ("#ffffff", "brand", "header"), ("#e3ebf2", "brand", "header role"), ("#ffffff", "link", "buttons"),
    ("ok-ink", "ok-bg", "verified badge"), ("warn-ink", "warn-bg", "pending badge, gaps"),
    ("bad-ink", "bad-bg", "failed badge, errors"), ("ink", "#e6ebf0", "table heads, status chips"),
    ("bad-ink", "#fdf0f2", "refused rows"), ("warn-ink", "#fff8e1", "corrected rows"), ("ink", "#ffe7a3", "target row"),
    ("bad-ink", "#fff8e1", "struck old value"), ("ok-ink", "#fff8e1", "new value"), ("muted", "#e6ebf0", "chips"),
    ("ink", "#eef3f8", "graph boxes"), ("ink", "#f4eefb", "lot boxes"), ("ok-ink", "paper", "spec band label"),
    ("bad-ink", "paper", "excursion label"), ("muted", "#fbfcfd", "chart ticks"),
]


def _colour(name: str) -> str:
    return name if name.startswith("#") else VARS[name]


def _luminance(hex_colour: str) -> float:
    channels = [int(hex_colour[i:i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(fg: str, bg: str) -> float:
    a, b = sorted((_luminance(_colour(fg)), _luminance(_colour(bg))), reverse=True)
    return (a + 0.05) / (b + 0.05)


@pytest.mark.parametrize(("fg", "bg", "where"), PAIRS, ids=[p[2] for p in PAIRS])
def test_text_contrast_is_at_least_4_5_to_1(fg, bg, where):
    assert contrast(fg, bg) >= 4.5, f"{where}: {fg} on {bg} is {contrast(fg, bg):.2f}:1"
