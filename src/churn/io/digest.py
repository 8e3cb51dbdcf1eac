"""Digests of files and folders: fingerprints that say whether two copies hold the same bytes
(the model a run trained, the churn model an uplift model was judged against), not security."""

from __future__ import annotations

import hashlib
from pathlib import Path


def file_md5(path: Path) -> str:
    """Hex MD5 of the file at ``path``, read in 1 MiB blocks (a fingerprint, not security)."""
    digest = hashlib.md5(usedforsecurity=False)
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def folder_md5(folder: Path) -> str:
    """Hex MD5 of every file under ``folder``: their paths relative to it and their bytes, in
    path order, so equal folders give equal digests wherever they lie. Hidden files (a
    temporary left by an interrupted write) are left out."""
    digest = hashlib.md5(usedforsecurity=False)
    for path in sorted(folder.rglob("*")):
        name = path.relative_to(folder).as_posix()
        if path.is_file() and not any(part.startswith(".") for part in name.split("/")):
            digest.update(name.encode() + b"\0" + file_md5(path).encode())
    return digest.hexdigest()
