"""A project's SQLite tracking store that follows its folder when the folder is copied or moved.

MLflow stores every artifact location as an absolute ``file://`` URI (experiments, runs, logged
models, model versions); a copied project would read, and write, the original folder's
``mlartifacts/``. MLflow makes locations location-free only behind a tracking server that proxies
artifacts (``mlflow-artifacts:``), which a project without a server does not have, so the store
is relocated instead: when the project's churn experiments name another folder's
``mlartifacts/``, every ``file://`` URI under that old folder is rewritten to the same path under
this one, in one transaction, before any run is read or written.
"""

from __future__ import annotations

import contextlib
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from churn.errors import TrackingError

EXPERIMENT_PREFIX = "churn-"
_ARTIFACTS_MARK = "/mlartifacts/"
_BUSY_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Relocation:
    """The store moved from ``old_root`` to ``new_root`` (both ``file://`` URIs of project
    folders, no trailing slash); ``rows``: how many stored values were rewritten."""

    old_root: str
    new_root: str
    rows: int


def old_roots(locations: dict[str, str], project_dir: Path) -> list[str]:
    """The ``file://`` URIs of the project folders other than ``project_dir`` that the
    experiments ``{name: artifact location}`` point into (``<root>/mlartifacts/<name>``).
    Experiments not named ``churn-*``, or whose location is elsewhere (a bucket, a folder the
    user chose), are not churn's to move."""
    here = project_dir.resolve().as_uri()
    roots = set()
    for name, location in locations.items():
        suffix = f"{_ARTIFACTS_MARK}{name}"
        if (
            name.startswith(EXPERIMENT_PREFIX)
            and location.startswith("file://")
            and location.endswith(suffix)
        ):
            root = location[: -len(suffix)]
            if root != here:
                roots.add(root)
    return sorted(roots)


def relocate_store(db: Path, project_dir: Path) -> list[Relocation]:
    """Rewrite the ``file://`` URIs in the SQLite store ``db`` that point into another copy of
    the project (see :func:`old_roots`) so they point into ``project_dir``; nothing when the
    store is already this project's. Every text column of every table is rewritten (artifact
    locations, model version sources, trace and dataset locations), only where the value holds
    ``<old root>/``. Raises TrackingError naming the file when SQLite refuses."""
    try:
        with contextlib.closing(sqlite3.connect(db, timeout=_BUSY_TIMEOUT_S)) as con, con:
            if not _has_table(con, "experiments"):
                return []
            locations = dict(
                con.execute(
                    "SELECT name, artifact_location FROM experiments "
                    "WHERE artifact_location IS NOT NULL"
                ).fetchall()
            )
            roots = old_roots(locations, project_dir)
            if not roots:
                return []
            con.execute("BEGIN IMMEDIATE")
            new_root = project_dir.resolve().as_uri()
            return [
                Relocation(old, new_root, _rewrite(con, f"{old}/", f"{new_root}/")) for old in roots
            ]
    except sqlite3.Error as exc:
        raise TrackingError(
            f"could not check or move the artifact locations of the MLflow store {db} (a "
            f"copied project's point into another folder; they belong under "
            f"{project_dir / 'mlartifacts'}): {type(exc).__name__}: {exc}. Check that {db} is "
            "a SQLite file this user can read and write, and that no other command holds it."
        ) from exc


def _has_table(con: sqlite3.Connection, name: str) -> bool:
    found = con.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
    ).fetchone()
    return found is not None


def _rewrite(con: sqlite3.Connection, old: str, new: str) -> int:
    """``old`` replaced by ``new`` in every text value holding it; the number of values."""
    rows = 0
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    for table in tables:
        for column in _text_columns(con, table):
            cursor = con.execute(
                f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) '
                f'WHERE typeof("{column}") = \'text\' AND instr("{column}", ?) > 0',
                (old, new, old),
            )
            rows += cursor.rowcount
    return rows


def _text_columns(con: sqlite3.Connection, table: str) -> list[str]:
    """Columns of ``table`` declared as text (VARCHAR, TEXT, CLOB, JSON)."""
    columns = con.execute(f'PRAGMA table_info("{table}")').fetchall()
    wanted = ("CHAR", "TEXT", "CLOB", "JSON")
    return [str(c[1]) for c in columns if any(w in str(c[2]).upper() for w in wanted)]
