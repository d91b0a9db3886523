"""Field specs shared by the `html` and `json` sources: "css.selector@attr" and "dotted.path[0].field"."""

from __future__ import annotations

import re
from typing import Any

_PATH_PART = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


def split_attr(spec: str) -> tuple[str, str | None]:
    """'a.doc-link@href' -> ('a.doc-link', 'href'); '@href' alone means the item node's own attribute."""
    if "@" in spec:
        css, attr = spec.rsplit("@", 1)
        return css.strip(), attr.strip()
    return spec.strip(), None


def json_path(data: Any, path: str) -> Any:
    """Follow 'a.b[0].c' through dicts and lists; None when any step is missing."""
    if path in ("", "."):
        return data
    current = data
    for name, index in _PATH_PART.findall(path):
        if name:
            if not isinstance(current, dict) or name not in current:
                return None
            current = current[name]
        else:
            if not isinstance(current, list) or int(index) >= len(current):
                return None
            current = current[int(index)]
    return current
