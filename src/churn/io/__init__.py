"""Everything that touches the file system: atomic reads and writes, each pipeline's paths, locks,
progress lines and what the notebooks share. The rest of churn computes; this package reads and
writes."""

from churn.io.files import (
    PARQUET_ROW_GROUP_ROWS,
    StagedFiles,
    read_json,
    read_parquet,
    read_source,
    read_source_chunks,
    recover,
    require_parquet,
    staging_folder,
    write_bytes,
    write_csv,
    write_folder,
    write_json,
    write_parquet,
    write_parquet_parts,
    write_png,
)

__all__ = [
    "PARQUET_ROW_GROUP_ROWS",
    "StagedFiles",
    "read_json",
    "read_parquet",
    "read_source",
    "read_source_chunks",
    "recover",
    "require_parquet",
    "staging_folder",
    "write_bytes",
    "write_csv",
    "write_folder",
    "write_json",
    "write_parquet",
    "write_parquet_parts",
    "write_png",
]
