"""The configuration the daemon runs, kept as its YAML files in the state directory (`applied-config/`), so that
`treatywatch check --impact` can set an edited folder beside what is live, not beside itself. The files are copied
as written: `${ENV}` references stay references, no secret is written out."""

from __future__ import annotations

import shutil
from pathlib import Path

from .config.loader import config_files

APPLIED = "applied-config"


def applied_dir(state_dir: Path) -> Path:
    return state_dir / APPLIED


def save_applied(config_path: Path, state_dir: Path) -> Path:
    """Replace the copy with the files of `config_path` (a folder or one file); the old copy goes only once the new
    one is complete, so a reader sees one or the other."""
    target, fresh, old = applied_dir(state_dir), state_dir / f"{APPLIED}.new", state_dir / f"{APPLIED}.old"
    shutil.rmtree(fresh, ignore_errors=True)
    shutil.rmtree(old, ignore_errors=True)
    for file in config_files(config_path):
        where = fresh / (file.relative_to(config_path) if config_path.is_dir() else Path(file.name))
        where.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(file, where)
    if target.exists():
        target.rename(old)
    fresh.rename(target)
    shutil.rmtree(old, ignore_errors=True)
    return target
