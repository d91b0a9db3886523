"""YAML reading that remembers where each value came from, so errors can name file:line."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ..errors import ConfigError

Path_ = tuple[str | int, ...]
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass
class YamlDoc:
    """Plain data of one file plus the line of every node, keyed by its path in the document."""

    path: Path
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)

    def line_of(self, loc: Path_) -> int:
        """Line of the deepest known node on `loc` (pydantic locations may run deeper than the YAML)."""
        for n in range(len(loc), -1, -1):
            if loc[:n] in self.lines:
                return self.lines[loc[:n]]
        return 1

    def where(self, loc: Path_) -> str:
        return f"{self.path}:{self.line_of(loc)}"


def substitute_env(text: str, env: dict[str, str], missing: list[str]) -> str:
    """Replace ${NAME} and ${NAME:-default}; names without value and default are collected, not guessed."""

    def repl(m: re.Match[str]) -> str:
        name, default = m.group(1), m.group(2)
        if name in env:
            return env[name]
        if default is not None:
            return default
        missing.append(name)
        return ""

    return _ENV.sub(repl, text)


def _to_python(
    node: yaml.Node, at: Path_, lines: dict[Path_, int], env: dict[str, str], problems: list[str], where: str
) -> Any:
    lines[at] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        out: dict[str, Any] = {}
        for knode, vnode in node.value:
            key = (
                yaml.SafeLoader(b"").construct_object(knode) if not isinstance(knode, yaml.ScalarNode) else knode.value
            )
            key = str(key)
            if key in out:
                problems.append(f"{where}:{knode.start_mark.line + 1}: duplicate key '{key}'")
            out[key] = _to_python(vnode, (*at, key), lines, env, problems, where)
            lines[(*at, key)] = knode.start_mark.line + 1  # the key line, where a reader looks
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_to_python(v, (*at, i), lines, env, problems, where) for i, v in enumerate(node.value)]
    loader = yaml.SafeLoader("")
    value = loader.construct_object(node)
    if isinstance(value, str) and "${" in value:
        missing: list[str] = []
        value = substitute_env(value, env, missing)
        for name in missing:
            problems.append(
                f"{where}:{node.start_mark.line + 1}: environment variable {name} is not set "
                f"(set it, or write ${{{name}:-default}})"
            )
    return value


def load_yaml(path: Path, env: dict[str, str] | None = None) -> YamlDoc:
    """Parse one file; syntax errors become a ConfigError with the file and line."""
    env = dict(os.environ) if env is None else env
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise ConfigError([f"{path}:{line}: YAML syntax error: {exc.problem or exc}"]) from exc
    if node is None:
        return YamlDoc(path, {})
    problems: list[str] = []
    lines: dict[Path_, int] = {}
    data = _to_python(node, (), lines, env, problems, str(path))
    if problems:
        raise ConfigError(problems)
    if not isinstance(data, dict):
        raise ConfigError([f"{path}:1: expected a mapping of sections (sources:, watches:, ...)"])
    return YamlDoc(path, data, lines)
