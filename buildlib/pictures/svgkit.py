"""Helpers for SVG written by hand: text escaping, stable numbers, text widths, axis ticks, the document.

Every picture of the project is plain SVG text made by its own code, so that a render is the same on every
machine (the architecture test compares the committed file with a fresh render): numbers are rounded here,
and text widths are estimated from character counts instead of measured with a font.
"""

from __future__ import annotations

import math
from xml.sax.saxutils import escape

FONT_FAMILY = "-apple-system, BlinkMacSystemFont, 'Segoe UI', Helvetica, Arial, sans-serif"

# Average advance of a character, as a fraction of the font size (sans-serif, mixed case and digits).
_CHAR_EM = 0.58
_BOLD_EM = 0.66


def esc(text: object) -> str:
    """Text for an SVG text node or attribute value."""
    return escape(str(text), {'"': "&quot;"})


def num(value: float) -> str:
    """A coordinate with one decimal at most: `12`, `12.5` (never `-0`)."""
    rounded = round(value, 1)
    if rounded == 0:
        return "0"
    return f"{rounded:.1f}".rstrip("0").rstrip(".")


def text_width(text: str, size: float, bold: bool = False) -> float:
    """Estimated width of `text` at font size `size` (wide enough for the common fonts of the family)."""
    return len(text) * size * (_BOLD_EM if bold else _CHAR_EM)


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About `count` round tick values (1, 2 or 5 × 10^k apart) covering [low, high]."""
    if high <= low:
        high = low + 1
    raw = (high - low) / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def log_ticks(low: float, high: float) -> list[float]:
    """Powers of ten from the one at or below `low` to the one at or above `high` (both > 0)."""
    first, last = math.floor(math.log10(low)), math.ceil(math.log10(high))
    return [10.0**k for k in range(first, last + 1)]


def seconds_label(value: float) -> str:
    """An axis label in seconds: `0.5 s`, `12 s`, `1,200 s`."""
    if value >= 100:
        return f"{value:,.0f} s"
    return f"{value:g} s"


def document(width: float, height: float, body: list[str], title: str, style: str = "") -> str:
    """A standalone SVG document (GitHub shows it in a README as an image: no script, no external font)."""
    css = f"text{{font-family:{FONT_FAMILY};fill:#16191f}}" + style
    return "\n".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" width="{num(width)}" height="{num(height)}" '
            f'viewBox="0 0 {num(width)} {num(height)}" role="img">',
            f"<title>{esc(title)}</title>",
            f"<style>{css}</style>",
            f'<rect width="{num(width)}" height="{num(height)}" fill="#ffffff"/>',
            *body,
            "</svg>",
            "",
        ]
    )
