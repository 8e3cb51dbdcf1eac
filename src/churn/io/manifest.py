"""The ingest manifest: which events files the canonical tables hold, what each file was when
it was read (size, sha256) and how it was read (a fingerprint of the settings that cleaned
it), beside each file's cleaned rows.

``churn ingest`` writes ``manifest.json`` and ``events_by_file/<folder>/part-*.parquet`` inside
the canonical folder, which is swapped in whole (:func:`churn.io.write_folder`), so the
manifest, the cleaned rows and ``events.parquet`` always describe the same files, even after a
kill. The next ingest reads only the files the manifest does not hold as they are now
(:func:`plan_ingest`) and reuses the cleaned rows of the others.

A file matched by a glob pattern (a weekly drop) is ingested once: if it changes or goes away
afterwards the ingest is refused, since history would change or be lost silently; ``churn
ingest <p> --rebuild`` reads every file again. A file named plainly (a full export replaced in
place) is simply read again when it changed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from churn.errors import InputDataError, PipelineStateError
from churn.io.paths import Output

MANIFEST = "manifest.json"
"""The manifest's name inside the canonical folder."""

CLEANED = "events_by_file"
"""Folder inside the canonical folder holding each events file's cleaned rows."""

FORMAT = 1
"""Version of the manifest's layout; another version is read as no manifest (all read)."""


def cleaned_folder(path: str, fingerprint: str) -> str:
    """The folder, relative to the canonical folder, of the cleaned rows of the file at
    ``path`` read with settings of ``fingerprint``."""
    digest = hashlib.sha256(f"{path}\0{fingerprint}".encode()).hexdigest()
    return f"{CLEANED}/{digest[:16]}"


@dataclass(frozen=True)
class FileRecord:
    """One events file as an ingest read it, and what it left in the canonical folder."""

    path: str
    """The file, relative to the project folder as the params name it."""
    pattern: str | None
    """The glob pattern that matched it; None when a source names it plainly."""
    size: int
    sha256: str
    fingerprint: str
    """``churn.data.contract.cleaning_fingerprint`` of the settings that cleaned it."""
    rows_read: int
    rows_kept: int
    """Rows cleaned into its part files (rows read less those dropped for lack of an id)."""
    missing_customer_id: int
    ingested_at: str
    """When it was read (ISO 8601, UTC)."""
    parts: tuple[str, ...]
    """Its part files' names under :attr:`folder`, in reading order."""
    warnings: tuple[str, ...] = ()
    """What reading it logged as warnings, logged again by each ingest that reuses it."""
    spellings: dict[str, list[str]] = field(default_factory=dict)
    """Event type (folded) -> the spellings the file gave it."""

    @property
    def key(self) -> tuple[str, str]:
        """Path and fingerprint: the same file read the same way."""
        return self.path, self.fingerprint

    @property
    def folder(self) -> str:
        """Its cleaned rows' folder, relative to the canonical folder."""
        return cleaned_folder(self.path, self.fingerprint)

    def described(self) -> str:
        return f"{self.size:,} bytes, sha256 {self.sha256[:12]}, ingested {self.ingested_at}"


@dataclass(frozen=True)
class FoundFile:
    """One events file as this ingest finds it."""

    path: str
    source_key: str
    """Its source's params key, e.g. ``data.events.sources[0]``."""
    pattern: str | None
    fingerprint: str
    size: int | None
    """None: not on disk (its reader reports it)."""
    sha256: str | None

    def described(self) -> str:
        return f"{self.size:,} bytes, sha256 {(self.sha256 or '')[:12]}"


@dataclass(frozen=True)
class IngestPlan:
    """Which files of an ingest to read and which to take from the manifest."""

    reuse: dict[int, FileRecord]
    """Position among the found files -> the record whose cleaned rows it reuses."""
    read: list[int]
    """Positions of the files to read, map and validate."""
    reasons: list[str]
    """Why a file the manifest holds is read again, one line each, for the log."""


def plan_ingest(
    records: Sequence[FileRecord],
    found: Sequence[FoundFile],
    *,
    on_disk: Collection[str],
    lost: Collection[tuple[str, str]] = (),
    manifest: str,
    rebuild_command: str,
) -> IngestPlan:
    """Decide which ``found`` files (this ingest's events files, in order) to read and which to
    reuse from ``records`` (the manifest): a file is reused when a record has its path,
    fingerprint, size and sha256, and its cleaned rows are not ``lost`` (keys of records
    whose part files are gone).

    Raises InputDataError, naming every such file, what ``manifest`` recorded and what was
    found, when a file matched by a pattern changed since it was ingested, or when a recorded
    file matched by a pattern is no longer found (``on_disk``: the recorded paths still on
    disk); ``rebuild_command`` reads every file again."""
    by_path: dict[str, list[FileRecord]] = {}
    for record in records:
        by_path.setdefault(record.path, []).append(record)
    refusals = []
    for file in found:
        if file.pattern is None or file.size is None:
            continue
        changed = [r for r in by_path.get(file.path, []) if (r.size, r.sha256) != _content(file)]
        if changed:
            refusals.append(
                f"{file.path}: changed since it was ingested: {manifest} recorded "
                f"{changed[0].described()}; found {file.described()}"
            )
    found_paths = {file.path for file in found}
    for path, recorded in by_path.items():
        if path in found_paths or all(r.pattern is None for r in recorded):
            continue
        where = "not matched by data.events.sources any more" if path in on_disk else "gone"
        pattern = next(r.pattern for r in recorded if r.pattern is not None)
        refusals.append(
            f"{path}: {where}; {manifest} recorded it ({recorded[0].described()}, matched "
            f"by {pattern!r})"
        )
    if refusals:
        raise InputDataError(
            f"{len(refusals)} events file(s) ingested before changed or went away:\n"
            + "\n".join(f"  - {line}" for line in refusals)
            + "\nA file matched by a glob pattern is ingested once and its rows kept, so the "
            "weekly files must stay as they were: put the file(s) back, or run "
            f"`{rebuild_command}` to read every file again (the canonical events then hold "
            "what the files hold now)."
        )
    reuse: dict[int, FileRecord] = {}
    read: list[int] = []
    reasons: list[str] = []
    for position, file in enumerate(found):
        recorded = by_path.get(file.path, [])
        same_content = [r for r in recorded if (r.size, r.sha256) == _content(file)]
        same = [r for r in same_content if r.fingerprint == file.fingerprint]
        if same and same[0].key not in lost:
            reuse[position] = replace(same[0], pattern=file.pattern)  # as matched now
            continue
        read.append(position)
        if same:
            reasons.append(
                f"{file.path}: its cleaned rows are missing from the canonical folder; read again"
            )
        elif same_content:
            reasons.append(
                f"{file.path}: the settings of {file.source_key} (or the cleaning code) changed "
                f"since it was ingested {same_content[0].ingested_at}; read again"
            )
        elif recorded and file.size is not None:
            reasons.append(
                f"{file.path}: changed since it was ingested ({recorded[0].described()}; found "
                f"{file.described()}); read again"
            )
    return IngestPlan(reuse, read, reasons)


def _content(file: FoundFile) -> tuple[int | None, str | None]:
    return file.size, file.sha256


def file_identity(path: Path) -> tuple[int, str] | None:
    """Size in bytes and hex sha256 of the file at ``path``; None if there is no such file."""
    if not path.is_file():
        return None
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            digest.update(block)
    return path.stat().st_size, digest.hexdigest()


def read_manifest(canonical: Output) -> list[FileRecord]:
    """The records of ``canonical``'s manifest; none when there is no manifest (a first ingest,
    or canonical tables written before churn kept one) or one of another ``FORMAT``. An
    unreadable manifest is PipelineStateError, which says how to rebuild it."""
    path = canonical / MANIFEST
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        if document.get("format") != FORMAT:
            return []
        return [
            FileRecord(
                **{**entry, "parts": tuple(entry["parts"]), "warnings": tuple(entry["warnings"])}
            )
            for entry in document["files"]
        ]
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise PipelineStateError(
            f"{path}: expected the manifest written by `{canonical.made_by}`, found unreadable "
            f"content ({type(exc).__name__}: {exc}). Run `{canonical.made_by} --rebuild` to read "
            "every raw file again and rebuild it."
        ) from exc


def manifest_document(records: Sequence[FileRecord]) -> dict[str, Any]:
    """The manifest's JSON content: each record once, in the order given."""
    unique = {record.key: record for record in reversed(records)}
    ordered = [unique[key] for key in dict.fromkeys(r.key for r in records)]
    return {"format": FORMAT, "files": [asdict(record) for record in ordered]}


def keep_file(src: Path, dest: Path) -> None:
    """Put ``src`` (a part file of the previous canonical folder, never modified in place) at
    ``dest`` as a hard link, or a copy where the file system has none."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        with contextlib.suppress(FileNotFoundError):
            dest.unlink()
        shutil.copyfile(src, dest)
