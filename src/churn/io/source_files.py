"""Which raw files a source names: its ``path`` as written, or, when that is a glob pattern
(``data/raw/shop/orders_*.csv``, ``data/raw/**/*.parquet``), every file it matches in the
project folder, in sorted order. Each matched file is read as a source of its own with the
same mapping, so "an earlier source" (``data.events.overlap_key``) is an earlier file in that
order.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from churn.errors import ConfigError

if TYPE_CHECKING:  # settings reads params through churn.io.yaml_files
    from churn.settings import SourceSettings

GLOB_CHARACTERS = frozenset("*?[")
"""A ``path`` holding one of these is a pattern: ``*`` any characters but ``/``, ``**`` any
folders, ``?`` one character, ``[...]`` one of a set."""


def is_pattern(path: str) -> bool:
    """Whether a source's ``path`` is a glob pattern rather than the name of one file."""
    return any(c in GLOB_CHARACTERS for c in path)


def matching_files(project_dir: Path, path: str, *, key: str) -> list[str]:
    """The files ``path`` names, relative to ``project_dir`` as ``path`` is: ``[path]`` for a
    plain path (a missing file is the reader's error, which names it), else every file the
    pattern matches, sorted (hidden files, such as a half-copied ``.orders.csv.tmp``, and
    folders are left out). A pattern that matches no file is ConfigError naming ``key`` (the
    params key, e.g. ``data.events.sources[0].path``), the pattern and the folder searched."""
    if not is_pattern(path) or (project_dir / path).is_file():
        return [path]
    found = sorted(
        name
        for name in glob.glob(path, root_dir=project_dir, recursive=True)
        if (project_dir / name).is_file()
    )
    if not found:
        raise ConfigError(
            f"{key}: the pattern {path!r} matches no file in {os.path.abspath(project_dir)}. "
            "Expected at least one file: check the pattern (relative to the project folder; "
            "* matches within a folder, ** across folders), or put the files there."
        )
    return [Path(name).as_posix() for name in found]


@dataclass(frozen=True)
class SourceFile[S: SourceSettings]:
    """One file a source names, with the source's settings (``path``: the file)."""

    source: S
    key: str
    """The source's params key, e.g. ``data.events.sources[0]``."""
    pattern: str | None
    """The glob pattern that matched the file; None when the source names it plainly."""


def source_files[S: SourceSettings](
    project_dir: Path, sources: Sequence[S], *, key: str
) -> list[SourceFile[S]]:
    """Every file of ``sources`` (the list at params key ``key``, e.g. ``data.events.sources``),
    a pattern replaced by the files it matches, in order (see :func:`matching_files`)."""
    files = []
    for i, source in enumerate(sources):
        where = f"{key}[{i}]"
        pattern = source.path if is_pattern(source.path) else None
        for path in matching_files(project_dir, source.path, key=f"{where}.path"):
            settings = source if path == source.path else source.model_copy(update={"path": path})
            files.append(SourceFile(settings, where, None if path == source.path else pattern))
    return files


def expand_sources[S: SourceSettings](
    project_dir: Path, sources: Sequence[S], *, key: str
) -> list[S]:
    """``sources`` with every pattern replaced by one source per matching file, in order."""
    return [file.source for file in source_files(project_dir, sources, key=key)]
