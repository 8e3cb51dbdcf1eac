"""The user documentation cannot drift from the code: every setting is described, the settings
reference is the one the code generates now, and the docs name only modules that exist."""

from __future__ import annotations

import re
from pathlib import Path

from churn.settings_reference import settings_markdown, settings_models

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
DOCS = [
    ROOT / "README.md",
    ROOT / "CHANGELOG.md",
    ROOT / "benchmarks" / "README.md",
    ROOT / "data" / "raw" / "README.md",
    *sorted((ROOT / "docs").glob("*.md")),
]
REGENERATE = "make docs  (or: python -m churn.settings_reference > docs/settings.md)"


def test_every_setting_has_a_description() -> None:
    missing = [
        f"{model.__name__}.{name}"
        for model in settings_models()
        for name, info in model.model_fields.items()
        if not (info.description or "").strip()
    ]
    undocumented = [m.__name__ for m in settings_models() if not (m.__doc__ or "").strip()]
    assert not missing, (
        f"{len(missing)} setting(s) without Field(description=...) in src/churn/settings.py: "
        f"{missing}. Describe each in one sentence (unit, what the default means, what it "
        "changes), then regenerate docs/settings.md with: " + REGENERATE
    )
    assert not undocumented, f"settings model(s) without a docstring: {undocumented}"


def test_settings_reference_is_up_to_date() -> None:
    expected = settings_markdown()
    path = ROOT / "docs" / "settings.md"
    found = path.read_text(encoding="utf-8") if path.is_file() else ""
    assert found == expected, (
        "docs/settings.md differs from what src/churn/settings.py generates now; "
        "regenerate it with: " + REGENERATE
    )


def _module_exists(dotted: str) -> bool:
    """Whether ``churn.a.b`` names a package, a module, or a name defined in one."""
    path = SRC
    for part in dotted.split("."):
        if (path / part).is_dir():
            path = path / part
        elif (path / f"{part}.py").is_file():
            return True  # any further parts are names inside the module
        else:
            init = path / "__init__.py"
            return (
                init.is_file()
                and re.search(
                    rf"\b(def|class) {part}\b|^{part}\b|\b{part},?$|import .*\b{part}\b",
                    init.read_text(encoding="utf-8"),
                    re.MULTILINE,
                )
                is not None
            )
    return True


def test_docs_name_only_modules_that_exist() -> None:
    problems = []
    for doc in DOCS:
        if not doc.is_file():
            continue
        text = doc.read_text(encoding="utf-8")
        for path in sorted(set(re.findall(r"src/churn/[\w./-]*\w", text))):
            if not (ROOT / path).exists():
                problems.append(f"{doc.relative_to(ROOT)}: {path}")
        for dotted in sorted(set(re.findall(r"(?<![\w./-])churn(?:\.[A-Za-z_]\w*)+", text))):
            if not _module_exists(dotted):
                problems.append(f"{doc.relative_to(ROOT)}: {dotted}")
    assert not problems, (
        "the docs name module paths that do not exist (moved or renamed?); use the package "
        f"layout under src/churn/: {problems}"
    )
