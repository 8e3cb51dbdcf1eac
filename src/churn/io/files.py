"""Reading raw tables and writing outputs. The only module (with the CLI) that touches files.

Every write goes to a temporary file in the destination folder and is renamed into place, so
a failed or killed run leaves the previous output intact. What a killed run leaves behind (a
hidden temporary file or folder, or a folder swapped out but not yet replaced) is cleaned up
or put back by the next write of the same output, or by :func:`recover`.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import math
import os
import re
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from churn.errors import InputDataError, OutputWriteError, PipelineStateError
from churn.io.excel_sheets import is_excel_name, sheet_chunks
from churn.io.json_records import is_json_name, json_record_chunks
from churn.io.paths import Output

if TYPE_CHECKING:  # settings reads params through churn.io.yaml_files
    from churn.settings import SourceSettings

log = logging.getLogger("churn")


def read_source(project_dir: Path, source: SourceSettings) -> pd.DataFrame:
    """Read one raw file as it is. CSV cells are read as text; the contract parses them."""
    chunks = list(read_source_chunks(project_dir, source, rows=None))
    return chunks[0] if len(chunks) == 1 else pd.concat(chunks)


def read_source_chunks(
    project_dir: Path, source: SourceSettings, *, rows: int | None
) -> Iterator[pd.DataFrame]:
    """One raw file as it is, ``rows`` rows at a time (None: all at once), each chunk indexed by
    its rows' 0-based positions in the file. CSV cells are read as text."""
    path = project_dir / source.path
    if not path.is_file():
        raise InputDataError(
            f"{source.path}: file not found (looked in {path.parent}). "
            "Check the 'path' of this source in the params file."
        )
    if path.stat().st_size == 0:
        raise InputDataError(f"{source.path}: the file is empty; expected a header and rows.")
    fmt = auto_format(source.path) if source.format == "auto" else source.format
    if fmt == "excel":
        yield from sheet_chunks(
            path, source.sheet, name=source.path, rows=rows, skip_rows=source.skip_rows
        )
        return
    if fmt == "json":
        try:
            yield from json_record_chunks(
                path, name=source.path, encoding=source.encoding, rows=rows
            )
        except UnicodeDecodeError as exc:
            raise _undecodable(source, exc) from exc
        return
    if fmt == "parquet":
        try:
            _refuse_repeated_columns(source, pq.read_schema(path).names)
            if rows is None:
                yield pq.read_table(path).to_pandas(types_mapper=_EXACT_INTEGERS.get)
                return
            offset = 0
            for batch in parquet_file(path).iter_batches(batch_size=rows):
                frame = batch.to_pandas(types_mapper=_EXACT_INTEGERS.get)
                frame.index = pd.RangeIndex(offset, offset + len(frame))
                offset += len(frame)
                yield frame
            return
        except (pa.ArrowInvalid, OSError) as exc:
            raise InputDataError(f"{source.path}: not a readable parquet file: {exc}") from exc
    sep = r"\s+" if source.separator == "whitespace" else source.separator
    options: dict[str, Any] = {
        "sep": sep,
        "dtype": str,
        "keep_default_na": False,
        "na_values": [""],
        "encoding": source.encoding,
        "header": 0 if source.header else None,
        "names": source.column_names,
        "skipinitialspace": True,
        "skiprows": source.skip_rows,
    }
    try:
        if source.header:
            header = pd.read_csv(path, **{**options, "header": None, "nrows": 1})
            _refuse_repeated_columns(source, [str(c) for c in header.iloc[0].dropna()])
        if rows is None:
            yield pd.read_csv(path, **options)
            return
        with pd.read_csv(path, chunksize=rows, **options) as reader:
            for chunk in reader:  # noqa: UP028 - `yield from` loses the stubs' chunk type
                yield chunk
    except UnicodeDecodeError as exc:
        raise _undecodable(source, exc) from exc
    except pd.errors.EmptyDataError as exc:
        raise InputDataError(f"{source.path}: no columns to read; is it empty?") from exc
    except pd.errors.ParserError as exc:
        raise InputDataError(f"{source.path}: malformed CSV: {exc}") from exc


def auto_format(path: str) -> Literal["csv", "parquet", "json", "excel"]:
    """The format ``format: auto`` reads ``path`` as: parquet for .parquet or .pq, JSON records
    for .json, .jsonl or .ndjson (gzipped or not), excel for .xlsx, .xlsm (or .xls, to say
    it cannot), else CSV."""
    suffix = PurePosixPath(path).suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if is_excel_name(path) or suffix == ".xls":
        return "excel"
    return "json" if is_json_name(path) else "csv"


def _undecodable(source: SourceSettings, exc: UnicodeDecodeError) -> InputDataError:
    return InputDataError(
        f"{source.path}: cannot be decoded as {source.encoding} (byte {exc.start}: "
        f"{exc.object[exc.start : exc.start + 1]!r}). Set 'encoding' of this source, "
        "e.g. encoding: latin-1."
    )


_EXACT_INTEGERS = {
    pa.int8(): pd.Int8Dtype(),
    pa.int16(): pd.Int16Dtype(),
    pa.int32(): pd.Int32Dtype(),
    pa.int64(): pd.Int64Dtype(),
    pa.uint8(): pd.UInt8Dtype(),
    pa.uint16(): pd.UInt16Dtype(),
    pa.uint32(): pd.UInt32Dtype(),
    pa.uint64(): pd.UInt64Dtype(),
}
"""Parquet integer columns read as pandas' nullable integers: by default a column with a
missing value becomes float64, which rounds 17-digit ids and merges customers."""


def _refuse_repeated_columns(source: SourceSettings, names: list[str]) -> None:
    """InputDataError when the header names a column twice: a reader would keep one of them
    (or rename the second) without saying so."""
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise InputDataError(
            f"{source.path}: the header names column(s) {repeated} more than once; expected "
            "unique column names. Rename or remove the repeated column(s) in the file."
        )


def _old_folder(dest: Path) -> Path:
    """Where :func:`write_folder` parks the previous ``dest`` while it swaps in the new one."""
    return dest.with_name(f".{dest.name}.old")


def _leftovers(dest: Path) -> list[Path]:
    """Temporary files and staging folders of writes to ``dest`` that never finished (named
    by ``tempfile``: ``.<name>.<8 random characters>[.tmp]``)."""
    if not dest.parent.is_dir():
        return []
    pattern = re.compile(rf"\.{re.escape(dest.name)}\.[a-z0-9_]{{8}}(\.tmp)?")
    return sorted(p for p in dest.parent.iterdir() if pattern.fullmatch(p.name))


def recover(dest: Path) -> list[str]:
    """Undo what a killed write to ``dest`` left behind; returns what was done, for the log.

    A folder parked by :func:`write_folder` whose replacement never arrived (killed between its
    two renames) is put back; otherwise the parked copy and every temporary file or staging
    folder of ``dest`` is deleted. Only call it while no other process writes ``dest``: the
    CLI holds the pipeline's lock.
    """
    done = []
    old = _old_folder(dest)
    with _output_errors(dest):
        if old.exists() and not dest.exists():
            old.rename(dest)
            done.append(f"restored {dest} from {old.name}")
        for leftover in [*_leftovers(dest), *([old] if old.exists() else [])]:
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)
            done.append(f"removed {leftover}")
    return done


def _umask() -> int:
    """The process's umask, read from /proc on Linux (setting it to read it back, elsewhere,
    briefly changes it for every thread)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o077)
    os.umask(mask)
    return mask


_CANNOT_WRITE = {
    errno.ENOSPC: "the disk is full: free some space on it",
    errno.EDQUOT: "the disk quota is used up: free some space or ask for a larger quota",
    errno.EROFS: "the file system is read-only: make it writable, or work in a copy of the "
    "project on a writable disk",
    errno.EACCES: "permission denied: make the folder writable for this user (chmod u+w), or "
    "run as its owner",
    errno.EPERM: "permission denied: make the folder writable for this user (chmod u+w), or "
    "run as its owner",
}
"""Why an output cannot be written, by errno, and what to do about it."""


def _write_error(dest: Path, exc: OSError) -> OutputWriteError | None:
    """The :class:`OutputWriteError` of ``exc`` raised while writing ``dest``, or None when
    ``exc`` is not one of ``_CANNOT_WRITE`` or is about a file elsewhere (an input)."""
    advice = _CANNOT_WRITE.get(exc.errno or 0)
    if advice is None:
        return None
    if exc.filename is not None:  # beside dest, or a folder on the way to it
        where, folder = os.path.abspath(os.fsdecode(exc.filename)), os.path.abspath(dest.parent)
        if os.path.commonpath([folder, where]) not in (folder, where):
            return None
    return OutputWriteError(
        f"{dest}: cannot be written ({exc.strerror or exc}): {advice}, then run the command "
        "again. The previous output is unchanged."
    )


@contextlib.contextmanager
def _output_errors(dest: Path) -> Iterator[None]:
    """Turn a full disk, a read-only file system or a folder not writable while writing
    ``dest`` into :class:`OutputWriteError` (exit code 9) naming ``dest``."""
    try:
        yield
    except OSError as exc:
        error = _write_error(dest, exc)
        if error is None:
            raise
        raise error from exc


def staging_folder(dest: Path, prefix: str) -> Path:
    """A new hidden folder beside ``dest`` for its parts while they are written (the caller
    removes it); a full disk or a folder not writable is :class:`OutputWriteError` naming
    ``dest``."""
    with _output_errors(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=prefix, dir=dest.parent))


@contextlib.contextmanager
def _atomic_path(dest: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``dest``; rename it over ``dest`` only on success."""
    with _output_errors(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        recover(dest)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
        os.close(fd)
        tmp = Path(tmp_name)
        try:
            yield tmp
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
            # mkstemp makes the file private (0600); give it the permissions any new file gets
            os.chmod(tmp, 0o666 & ~_umask())
            os.replace(tmp, dest)
        finally:
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)


PARQUET_ROW_GROUP_ROWS = 1024 * 1024
"""Rows per parquet row group: pyarrow's default, which ``DataFrame.to_parquet`` uses."""


def parquet_file(path: str | os.PathLike[str]) -> pq.ParquetFile:
    """A reader of the parquet file ``path`` whose batches are let go once read. pyarrow's
    ``pre_buffer`` (on by default, meant for object stores) keeps every column chunk it has
    read until the reader is closed: a pass over a 20-million-row list in batches ended holding
    456 MB (``pa.total_allocated_bytes()``) against 2.5 MB without it, at the same speed on a
    local disk (``tests/test_parquet_passes.py``)."""
    return pq.ParquetFile(path, pre_buffer=False)


def write_parquet(
    frame: pd.DataFrame, dest: Path, *, row_group_rows: int = PARQUET_ROW_GROUP_ROWS
) -> None:
    """Write ``frame`` (without its index) as ``DataFrame.to_parquet(index=False)`` would, byte
    for byte, but one row group at a time: only a row group's slice is ever held in Arrow
    memory besides the frame, not a second copy of the whole table."""
    with _atomic_path(dest) as tmp:
        _write_row_groups(frame, tmp, row_group_rows)
    log.info("wrote %s: %s rows x %s columns", dest, f"{len(frame):,}", len(frame.columns))


def _write_row_groups(frame: pd.DataFrame, dest: Path, row_group_rows: int) -> None:
    if len(frame) <= row_group_rows:  # one row group: the whole frame is the slice
        frame.to_parquet(dest, index=False, row_group_size=row_group_rows)
        return
    # the schema of the whole frame: a slice's object column could be all missing
    schema = pa.Schema.from_pandas(frame, preserve_index=False)
    if frame.attrs:  # as pandas stores them
        schema = schema.with_metadata(
            {**(schema.metadata or {}), b"PANDAS_ATTRS": json.dumps(frame.attrs).encode()}
        )
    with pq.ParquetWriter(dest, schema, compression="snappy") as writer:
        for start in range(0, len(frame), row_group_rows):
            part = frame.iloc[start : start + row_group_rows]
            table = pa.Table.from_pandas(part, schema=schema, preserve_index=False)
            writer.write_table(table, row_group_size=row_group_rows)


def write_parquet_parts(
    parts: Iterable[pd.DataFrame], dest: Path, *, row_group_rows: int = PARQUET_ROW_GROUP_ROWS
) -> pd.DataFrame:
    """Write the concatenation of ``parts`` (frames with the same columns and dtypes, in
    order) as :func:`write_parquet` would write it, byte for byte, holding about one row group
    at a time: what a stream of frames from an engine needs. Returns the columns written, as
    an empty frame with their dtypes.

    The file's schema is the whole table's: a text column missing from every row so far is
    typed by its first value, so row groups wait in Arrow memory until each such column has
    shown one (or the parts end). Each object column is taken to hold one Python type, as a
    query result's columns do.
    """
    writer: _PartsWriter | None = None
    with _atomic_path(dest) as tmp:
        for part in parts:
            if writer is None:
                writer = _PartsWriter(tmp, part, row_group_rows)
            writer.add(part)
        if writer is None:
            raise ValueError(f"{dest}: no parts to write; expected at least one frame.")
        writer.close()
    log.info(
        "wrote %s: %s rows x %s columns", dest, f"{writer.rows:,}", len(writer.columns.columns)
    )
    return writer.columns


class _PartsWriter:
    """Row groups of ``row_group_rows`` rows from frames of any size, into one parquet file.
    Each frame is converted to Arrow as it arrives, so pandas holds one small part at a time
    and Arrow the rows of one row group."""

    def __init__(self, dest: Path, first: pd.DataFrame, row_group_rows: int) -> None:
        self.dest, self.row_group_rows = dest, row_group_rows
        self.columns = first.iloc[:0]
        self.sample = first.iloc[:1].reset_index(drop=True)  # the whole table's types
        self.attrs = dict(first.attrs)
        self.pieces: list[pa.Table] = []  # converted, not yet written
        self.schema: pa.Schema | None = None
        self.writer: pq.ParquetWriter | None = None
        self.rows = 0

    def add(self, part: pd.DataFrame) -> None:
        if self.rows == 0 and len(part):  # the first rows: every column's dtype
            self.sample = part.iloc[:1].reset_index(drop=True)
        self.rows += len(part)
        self._learn_types(part)
        if self.schema is None and not self._unknown():
            self.schema = self._schema()
        # before the schema is known (a text column without values so far), with the part's
        # own types: cast when written (the column is all nulls there)
        self.pieces.append(pa.Table.from_pandas(part, schema=self.schema, preserve_index=False))
        self._write(final=False)

    def close(self) -> None:
        if self.schema is None:  # a column without any value: its type is the whole's, null
            self.schema = self._schema()
        self._write(final=True)
        assert self.writer is not None
        self.writer.close()

    def _write(self, *, final: bool) -> None:
        """Write every full row group held (and, at the end, the rest)."""
        held = sum(p.num_rows for p in self.pieces)
        if self.schema is None or (held < self.row_group_rows and not final):
            return
        schema = self.schema
        if self.writer is None:
            self.writer = pq.ParquetWriter(self.dest, schema, compression="snappy")
        table = pa.concat_tables(
            [self._cast(p, schema) for p in self.pieces] or [schema.empty_table()]
        )
        self.pieces = []
        while table.num_rows >= self.row_group_rows or (final and table.num_rows):
            # one contiguous row group: the pages come out as when the frame was converted whole
            group = table.slice(0, self.row_group_rows).combine_chunks()
            table = table.slice(self.row_group_rows)
            self.writer.write_table(group, row_group_size=self.row_group_rows)
            del group
        if final and self.rows == 0:  # an empty table still gets its row group, as to_parquet
            self.writer.write_table(table, row_group_size=self.row_group_rows)
        if table.num_rows:
            self.pieces = [table]

    @staticmethod
    def _cast(piece: pa.Table, schema: pa.Schema) -> pa.Table:
        if piece.schema.equals(schema, check_metadata=True):
            return piece
        columns = [piece.column(f.name).cast(f.type) for f in schema]
        return pa.Table.from_arrays(columns, schema=schema)

    def _learn_types(self, part: pd.DataFrame) -> None:
        for column in self._unknown():
            known = part[column].dropna()
            if len(known):
                # as an object column: assigning the bare values would make it a str column
                self.sample[column] = pd.Series(known.iloc[:1].to_numpy(), dtype=object)

    def _unknown(self) -> list[str]:
        """Object columns without a value so far: their type is not yet known."""
        return [
            str(c)
            for c in self.sample.columns
            if self.sample[c].dtype == object and self.sample[c].isna().all()
        ]

    def _schema(self) -> pa.Schema:
        schema = pa.Schema.from_pandas(self.sample, preserve_index=False)
        if self.attrs:  # as pandas stores them
            schema = schema.with_metadata(
                {**(schema.metadata or {}), b"PANDAS_ATTRS": json.dumps(self.attrs).encode()}
            )
        return schema


def write_png(figure: Any, dest: Path) -> None:
    """Save a matplotlib figure as PNG (fixed metadata, so identical runs give identical files)."""
    with _atomic_path(dest) as tmp:
        figure.savefig(tmp, format="png", dpi=110, metadata={"Software": None})


def write_bytes(data: bytes, dest: Path) -> None:
    with _atomic_path(dest) as tmp:
        tmp.write_bytes(data)


class StagedFiles:
    """Files written piece by piece, each to a temporary file beside its destination, and put
    in place together by :meth:`commit`: until then every previous file is unchanged, and a
    failure (:meth:`discard`, or leaving the ``with`` block on an exception) leaves none of
    the new ones. So a set of files too large to hold is still all or nothing."""

    def __init__(self) -> None:
        self._staged: dict[Path, Path] = {}
        self._removed: list[Path] = []

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, kind: object, *_: object) -> None:
        if kind is None:
            self.commit()
        else:
            self.discard()

    def append(self, dest: Path, data: bytes) -> None:
        """Add ``data`` to the end of ``dest``'s new content (the first call starts it)."""
        with _output_errors(dest), open(self._temporary(dest), "ab") as fh:
            fh.write(data)

    def copy(self, source: Path, dest: Path) -> None:
        """Stage ``dest`` as a copy of the content staged so far for ``source``."""
        with _output_errors(dest):
            shutil.copyfile(self._staged[source], self._temporary(dest))

    def rename(self, dest: Path, new: Path) -> None:
        """Let the content staged for ``dest`` go to ``new`` instead."""
        self._staged[new] = self._staged.pop(dest)

    def remove(self, dest: Path) -> None:
        """Delete ``dest`` at :meth:`commit` (an earlier output the new set replaces)."""
        self._removed.append(dest)

    def commit(self) -> None:
        """Put every staged file in place, in the order they were started, then delete those
        :meth:`remove` named."""
        staged, self._staged = self._staged, {}
        removed, self._removed = self._removed, []
        try:
            for dest, tmp in staged.items():
                with _output_errors(dest):
                    with open(tmp, "rb") as fh:
                        os.fsync(fh.fileno())
                    os.chmod(tmp, 0o666 & ~_umask())
                    os.replace(tmp, dest)
            for dest in removed:
                with _output_errors(dest):
                    dest.unlink(missing_ok=True)
        finally:
            for tmp in staged.values():
                with contextlib.suppress(OSError):
                    tmp.unlink(missing_ok=True)

    def discard(self) -> None:
        """Remove every staged file; the destinations keep what they held."""
        staged, self._staged, self._removed = self._staged, {}, []
        for tmp in staged.values():
            with contextlib.suppress(OSError):
                tmp.unlink(missing_ok=True)

    def _temporary(self, dest: Path) -> Path:
        if dest not in self._staged:
            with _output_errors(dest):
                dest.parent.mkdir(parents=True, exist_ok=True)
                recover(dest)
                fd, name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".tmp", dir=dest.parent)
                os.close(fd)
            self._staged[dest] = Path(name)
        return self._staged[dest]


def write_csv(frame: pd.DataFrame, dest: Path) -> None:
    with _atomic_path(dest) as tmp:
        frame.to_csv(tmp, index=False, float_format="%.10g")


def _json_safe(obj: Any) -> Any:
    """NaN and infinities become null: strict JSON readers (and DVC) reject bare NaN. Floats
    keep 10 significant digits, so last-bit noise of multi-threaded maths does not change the
    file between identical runs."""
    if isinstance(obj, float):
        return float(f"{obj:.10g}") if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(k): _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and callable(obj.item):  # numpy scalars
        return _json_safe(obj.item())
    return obj


def write_json(obj: Any, dest: Path) -> None:
    with _atomic_path(dest) as tmp:
        text = json.dumps(_json_safe(obj), indent=2, default=str, allow_nan=False)
        tmp.write_text(text + "\n", encoding="utf-8")


def write_folder(dest: Path, fill: Callable[[Path], None]) -> None:
    """Let ``fill`` write a fresh folder, then swap it in place of ``dest`` (all or nothing).
    The folder gets the permissions any new folder gets (``tempfile`` makes it private)."""
    with _output_errors(dest):
        dest.parent.mkdir(parents=True, exist_ok=True)
        recover(dest)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    old = _old_folder(dest)
    try:
        with _output_errors(dest):
            os.chmod(staging, 0o777 & ~_umask())
            try:
                fill(staging)
            except OutputWriteError as exc:  # name the output, not its staging folder
                cause = exc.__cause__
                error = _write_error(dest, cause) if isinstance(cause, OSError) else None
                raise (error or exc) from cause
            shutil.rmtree(old, ignore_errors=True)
            if dest.exists():
                dest.rename(old)
            try:
                staging.rename(dest)
            except OSError:
                if old.exists() and not dest.exists():
                    old.rename(dest)  # keep the previous output
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
        shutil.rmtree(old, ignore_errors=True)


def read_json(path: Output) -> Any:
    """Read an output of an earlier stage; say which command to run (``path.made_by``) if it
    is missing or broken."""
    if not path.is_file():
        raise PipelineStateError(f"{path}: not found. Run `{path.made_by}` first.")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise PipelineStateError(
            f"{path}: expected JSON written by `{path.made_by}`, found unreadable content "
            f"({exc}). Run `{path.made_by}` again to rebuild it."
        ) from exc


@contextlib.contextmanager
def _earlier_output(path: Output) -> Iterator[None]:
    """Say which command to run when an output of an earlier stage is missing or unreadable."""
    if not path.is_file():
        raise PipelineStateError(f"{path}: not found. Run `{path.made_by}` first.")
    try:
        yield
    except (pa.ArrowException, OSError) as exc:
        raise PipelineStateError(
            f"{path}: expected a parquet file written by `{path.made_by}`, found an unreadable "
            f"file ({exc}). Run `{path.made_by}` again to rebuild it."
        ) from exc


def require_parquet(path: Output) -> int:
    """Check that an output of an earlier stage is a readable parquet file without reading its
    rows (its footer only); return the row count. Errors as ``read_parquet``."""
    with _earlier_output(path):
        rows = int(pq.read_metadata(path).num_rows)
    log.info("scanning %s in place: %s rows", path, f"{rows:,}")
    return rows


def read_parquet(
    path: Output,
    *,
    columns: list[str] | None = None,
    filters: list[tuple[str, str, Any]] | None = None,
) -> pd.DataFrame:
    """Read an output of an earlier stage; say which command to run (``path.made_by``) if it
    is missing or broken. ``columns``: only these (default: all); ``filters``: only the rows
    they match (pyarrow's DNF filters, e.g. ``[("cutoff", "==", day)]``), in file order. Each
    Arrow column is freed as it is converted, so the table is never held twice."""
    with _earlier_output(path):
        frame = pd.read_parquet(
            path,
            engine="pyarrow",
            columns=columns,
            filters=filters,
            to_pandas_kwargs={"split_blocks": True, "self_destruct": True},
        )
    shown = "" if columns is None else f" x {len(columns)} of its columns"
    log.info("read %s: %s rows%s", path, f"{len(frame):,}", shown)
    return frame


def read_labels(
    path: Output, *, filters: list[tuple[str, str, Any]] | None = None, rows: Any = None
) -> pd.DataFrame:
    """``labels.parquet`` as :func:`read_parquet` reads it, ``churned`` as pandas' nullable
    boolean whoever wrote the file: one Spark wrote has no pandas metadata, and pyarrow turns a
    boolean column with gaps into ``object`` without it. ``filters``: only the rows they match,
    as :func:`read_parquet`'s; or ``rows``: only those positions (:func:`read_parquet_rows`)."""
    frame = read_parquet(path, filters=filters) if rows is None else read_parquet_rows(path, rows)
    if "churned" in frame.columns:
        frame["churned"] = frame["churned"].astype("boolean")
    return frame


def parquet_column_names(path: Output) -> list[str]:
    """The column names of an output of an earlier stage, from its footer alone."""
    with _earlier_output(path):
        names: list[str] = pq.read_schema(path).names
    return names


def parquet_empty_frame(path: Output) -> pd.DataFrame:
    """The columns and dtypes :func:`read_parquet` would give, without rows (the footer
    alone). Errors as ``read_parquet``."""
    with _earlier_output(path):
        schema = pq.read_schema(path)
    frame: pd.DataFrame = schema.empty_table().to_pandas()
    return frame


def read_parquet_rows(
    path: Output, rows: Any, columns: list[str] | None = None, *, said: bool = True
) -> pd.DataFrame:
    """Rows ``rows`` (0-based positions, ascending) and ``columns`` (None: all) of an output of
    an earlier stage, read one row group at a time so that only the rows kept are ever held;
    dtypes as :func:`read_parquet` gives them. Errors as ``read_parquet``. ``said``: log the
    read (a caller reading column after column says so once)."""
    keep = np.asarray(rows, dtype="int64")
    with _earlier_output(path):
        parquet = parquet_file(path)
        columns = parquet.schema_arrow.names if columns is None else columns
        parts, start = [], 0
        for group in range(parquet.num_row_groups):
            n = parquet.metadata.row_group(group).num_rows
            lo, hi = np.searchsorted(keep, [start, start + n])
            if hi > lo:
                part = parquet.read_row_group(group, columns=columns)
                parts.append(part.take(pa.array(keep[lo:hi] - start)))
            start += n
        schema = parquet.schema_arrow
        table = (
            pa.concat_tables(parts)
            if parts
            else pa.table({c: pa.array([], schema.field(c).type) for c in columns})
        )
        frame: pd.DataFrame = table.replace_schema_metadata(schema.metadata).to_pandas()
    if said:
        log.info("read %s: %s of its rows", path, f"{len(frame):,}")
    return frame


def parquet_column_batches(
    path: Output, columns: list[str], *, batch_rows: int = PARQUET_ROW_GROUP_ROWS
) -> Iterator[pd.DataFrame]:
    """``columns`` of every row of an output of an earlier stage, ``batch_rows`` rows at a
    time, in file order (no frame when the file has no rows): a pass over a file that may not
    fit in memory. Dtypes as :func:`read_parquet` gives them. Errors as ``read_parquet``."""
    with _earlier_output(path):
        parquet = parquet_file(path)
        for batch in parquet.iter_batches(batch_size=batch_rows, columns=columns):
            yield _as_read(pa.Table.from_batches([batch]), parquet.schema_arrow)


def exact_batches(
    batches: Iterable[pa.RecordBatch], rows: int, schema: pa.Schema | None = None
) -> Iterator[pa.Table]:
    """``batches`` as tables of exactly ``rows`` rows, the last one shorter; one empty table
    when there are no rows (with ``schema``, else the first batch's columns)."""
    if rows < 1:
        raise ValueError(f"The 'rows' parameter must be a positive int. Got {rows} instead.")
    pending: list[pa.RecordBatch] = []
    held, yielded = 0, False
    for batch in batches:
        if batch.num_rows == 0 and (pending or schema is not None):
            continue
        pending.append(batch)
        held += batch.num_rows
        while held >= rows:
            table = pa.Table.from_batches(pending)
            yield table.slice(0, rows)
            yielded = True
            rest = table.slice(rows)
            pending, held = rest.to_batches(), rest.num_rows
            del table, rest
    if held or not yielded:  # the rest, or the empty result with its columns
        yield pa.Table.from_batches(pending, schema=schema if not pending else None)


def parquet_row_batches(
    path: Output, *, where: str | None = None, batch_rows: int = PARQUET_ROW_GROUP_ROWS
) -> Iterator[pd.DataFrame]:
    """Every column of the rows of an output of an earlier stage, ``batch_rows`` rows at a
    time (the last frame fewer), in file order: with ``where`` (a boolean column), only the
    rows it marks true. One empty frame when no row is kept; dtypes as :func:`read_parquet`
    gives them. Errors as ``read_parquet``."""
    with _earlier_output(path):
        parquet = parquet_file(path)
        schema = parquet.schema_arrow

        def kept() -> Iterator[pa.RecordBatch]:
            for batch in parquet.iter_batches(batch_size=batch_rows):
                yield batch if where is None else batch.filter(pc.fill_null(batch[where], False))

        rows = 0
        for table in exact_batches(kept(), batch_rows, schema):
            rows += table.num_rows
            yield _as_read(table, schema)
    log.info("read %s: %s rows, %s at a time", path, f"{rows:,}", f"{batch_rows:,}")


def _as_read(table: pa.Table, schema: pa.Schema) -> pd.DataFrame:
    """``table`` (rows of a file of ``schema``) as :func:`read_parquet` gives it: the pandas
    dtypes its writer recorded, a fresh 0-based index."""
    frame: pd.DataFrame = table.replace_schema_metadata(schema.metadata).to_pandas()
    return frame.reset_index(drop=True)


def positions_where(
    path: Output, keep: Callable[[pd.DataFrame], pd.Series], columns: list[str], *, most: int
) -> np.ndarray:
    """The first ``most`` row positions (0-based, ascending) of an output of an earlier stage
    whose ``columns`` ``keep`` marks True, read batch by batch and stopping once found."""
    found: list[np.ndarray] = []
    start, count = 0, 0
    for frame in parquet_column_batches(path, columns):
        hits = np.flatnonzero(keep(frame).to_numpy(dtype=bool))[: most - count] + start
        found.append(hits)
        count += len(hits)
        start += len(frame)
        if count >= most:
            break
    return np.concatenate(found) if found else np.array([], dtype="int64")


class ParquetRows:
    """Rows ``rows`` (0-based positions, ascending) of an output of an earlier stage, never
    read whole: ``table[name]`` reads one column of them (dtypes as :func:`read_parquet`
    gives them), :meth:`frames` a few columns a batch of rows at a time. Errors as
    ``read_parquet``."""

    def __init__(self, path: Output, rows: Any) -> None:
        self.path = path
        self.rows = np.asarray(rows, dtype="int64")
        log.info("reading %s of the rows of %s as needed", f"{len(self.rows):,}", path)

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, column: str) -> pd.Series:
        return read_parquet_rows(self.path, self.rows, [column], said=False)[column]

    def frames(self, columns: list[str], *, batch_rows: int) -> Iterator[pd.DataFrame]:
        """``columns`` of the rows, ``batch_rows`` rows at a time, in order (one empty frame
        when there are no rows)."""
        for start in range(0, max(len(self.rows), 1), batch_rows):
            rows = self.rows[start : start + batch_rows]
            yield read_parquet_rows(self.path, rows, columns, said=False)
