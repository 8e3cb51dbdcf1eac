"""Reading the YAML files users write (params files, reason catalogues), which travel between
teams and through pull requests and so are untrusted input.

On top of ``yaml.SafeLoader`` (no Python objects), the loader refuses what a plain YAML parser
accepts without a word: a key given twice in one mapping (YAML keeps the last one silently),
and aliases that make a small file expand into a huge structure (the "billion laughs" bomb),
which is refused while the file is parsed, before anything walks the expanded values. A file
that is not UTF-8 is refused naming the first byte that is not. Booleans are YAML 1.2's
(``true``/``false``): ``Yes``, ``no``, ``on`` stay text, as DVC writes them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from yaml.events import AliasEvent
from yaml.nodes import MappingNode, Node, SequenceNode

from churn.errors import ConfigError

MAX_ALIASES = 100
"""Alias uses (``*name``) allowed in one file: enough to share a few blocks, not a bomb."""

MAX_VALUES = 100_000
"""Values (scalars, lists and mappings) one file may expand to once its aliases are followed;
a bundled params file has a few hundred."""

_MERGE_TAG = "tag:yaml.org,2002:merge"


class _Refused(yaml.YAMLError):
    """A rule of this loader broken at ``line`` (1-based); the reader adds the file name."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _expanded_size(node: Node, sizes: dict[int, int]) -> int:
    """How many values ``node`` stands for with its aliases followed; ``sizes`` memoises by node
    (an alias is the same node object as its anchor), so this takes one pass over the file."""
    key = id(node)
    if key not in sizes:
        size = 1
        if isinstance(node, SequenceNode):
            size += sum(_expanded_size(child, sizes) for child in node.value)
        elif isinstance(node, MappingNode):
            size += sum(_expanded_size(k, sizes) + _expanded_size(v, sizes) for k, v in node.value)
        sizes[key] = size
    return sizes[key]


class _StrictLoader(yaml.SafeLoader):
    """``SafeLoader`` that counts aliases and what they expand to as it composes the file, and
    refuses duplicate keys as it builds each mapping."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0
        self._expanded = 0
        self._sizes: dict[int, int] = {}

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            self._check_alias(self.peek_event())  # type: ignore[no-untyped-call]
        return super().compose_node(parent, index)

    def _check_alias(self, event: AliasEvent) -> None:
        line = event.start_mark.line + 1 if event.start_mark else 0
        self._aliases += 1
        if self._aliases > MAX_ALIASES:
            raise _Refused(
                line,
                f"more than {MAX_ALIASES} aliases (*name); refused as a possible alias bomb. "
                "Write the values out instead of repeating an alias.",
            )
        anchored = self.anchors.get(event.anchor)
        if anchored is None:  # SafeLoader says "found undefined alias" itself
            return
        if anchored.end_mark is None:
            raise _Refused(
                line,
                f"the alias *{event.anchor} is inside its own anchor: an endless structure. "
                "Write the values out.",
            )
        self._expanded += _expanded_size(anchored, self._sizes)
        if self._expanded > MAX_VALUES:
            raise _Refused(
                line,
                f"the alias *{event.anchor} makes the file expand to more than {MAX_VALUES:,} "
                "values; refused as an alias bomb ('billion laughs'). Write the values out "
                "instead of nesting aliases.",
            )

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG:  # `<<: *base`: keys written here override it
                continue
            key = self.construct_object(key_node, deep=True)  # type: ignore[no-untyped-call]
            line = key_node.start_mark.line + 1
            try:
                first = seen.get(key)
            except TypeError:  # an unhashable key: SafeLoader says so itself
                continue
            seen.setdefault(key, line)
            if first is not None:
                raise _Refused(
                    line,
                    f"key {key!r} appears twice in one mapping (lines {first} and {line}); "
                    "YAML would silently keep the last one. Remove or merge one of them.",
                )
        return super().construct_mapping(node, deep=deep)


_BOOL_TAG = "tag:yaml.org,2002:bool"
# YAML 1.2's booleans only: YAML 1.1 (PyYAML) also reads yes/no/on/off/y/n as booleans, and
# DVC, which rewrites a params file on `dvc exp run -S` as YAML 1.2, drops the quotes that kept
# `positive_label: "Yes"` a string; read back as 1.1, the label became True.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _BOOL_TAG]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def parse_yaml(text: str, source: str) -> Any:
    """The YAML document in ``text``, read as :class:`_StrictLoader` does; ``source`` (a file
    name) starts every message. Raises ConfigError for a duplicate key or an alias bomb, naming
    the line, and lets ``yaml.YAMLError`` through for a syntax error (each caller words that)."""
    loader = _StrictLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as exc:
        raise ConfigError(f"{source}: line {exc.line}: {exc.message}") from None
    finally:
        loader.dispose()  # type: ignore[no-untyped-call]


def decode_utf8(data: bytes, source: str) -> str:
    """``data`` as UTF-8 text (a BOM is allowed); ConfigError naming the byte offset and line of
    the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(
            f"{source}: not UTF-8 text: byte {exc.start} (line {line}) is "
            f"{data[exc.start : exc.start + 1]!r}. Save the file as UTF-8."
        ) from None


def read_yaml(path: Path) -> Any:
    """The YAML document in the file ``path``, read as :func:`decode_utf8` and
    :func:`parse_yaml` do."""
    return parse_yaml(decode_utf8(path.read_bytes(), str(path)), str(path))
