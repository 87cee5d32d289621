"""ARIA attributes for Dash components, which take them only as `**{"aria-label": ...}`."""

from __future__ import annotations

from typing import Any


def aria(**attributes: str) -> dict[str, Any]:
    """`html.Nav(links, **aria(label="Reports"))` sets aria-label. Typed Any: a spread
    dict[str, str] would be matched against every named parameter of the component (hidden,
    tabIndex...) and rejected by the type checker."""
    return {f"aria-{name}": value for name, value in attributes.items()}
