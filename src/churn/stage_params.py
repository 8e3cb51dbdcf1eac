"""Settings restricted to the params a stage declares, so a stage cannot read a param that
``dvc.yaml`` does not know about.

Each module under ``churn.stages`` names the params it reads in ``PARAMS`` (sections such as
``"labels"``, or dotted keys such as ``"monitoring.backfill_cutoffs"``); ``dvc.yaml`` declares
the same list (``tests/test_dvc_declarations.py`` checks both). The CLI hands each stage
:func:`restrict` of the loaded settings: every undeclared section or key is replaced by a value
whose every use raises :class:`UndeclaredParamError`, so any run of a stage, in production or in
a test, proves its declaration complete for the code path it took.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, NoReturn

from pydantic import BaseModel

from churn.settings import PipelineSettings

ALWAYS = frozenset({"name"})
"""Fields every stage may read: the pipeline's name is its folder, not a param."""


class UndeclaredParamError(Exception):
    """A stage read a param it does not declare: a bug in churn, not in the params file."""

    def __init__(self, stage: str, key: str) -> None:
        self.stage, self.key = stage, key
        super().__init__(
            f"stage {stage!r} read the param {key!r} but does not declare it; this is a bug in "
            f"churn. Add {key!r} (or its section) to PARAMS in src/churn/stages/{stage}.py and "
            f"to the stage's params in dvc.yaml."
        )


class _Undeclared:
    """Stands in for an undeclared param: any use of it raises, including ``isinstance``."""

    __slots__ = ("_key", "_stage")
    _key: str
    _stage: str

    def __init__(self, stage: str, key: str) -> None:
        object.__setattr__(self, "_stage", stage)
        object.__setattr__(self, "_key", key)

    def _fail(self, *args: object, **kwargs: object) -> NoReturn:
        raise UndeclaredParamError(self._stage, self._key)

    def __repr__(self) -> str:  # readable in tracebacks and debuggers; never a value
        return f"<undeclared param {self._key!r} of stage {self._stage!r}>"

    __class__ = property(_fail)  # type: ignore[assignment]  # isinstance() reads it
    __getattr__ = __setattr__ = __delattr__ = __call__ = _fail
    __bool__ = __len__ = __iter__ = __contains__ = __getitem__ = __hash__ = _fail
    __eq__ = __ne__ = __lt__ = __le__ = __gt__ = __ge__ = _fail  # type: ignore[assignment]
    __str__ = __format__ = __bytes__ = __int__ = __float__ = __index__ = _fail
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = _fail
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = __mod__ = __rmod__ = _fail
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = __round__ = _fail
    __and__ = __rand__ = __or__ = __ror__ = __xor__ = __rxor__ = __invert__ = _fail


type _Declared = dict[str, _Declared | None]
"""Declared params as a tree: ``None`` marks a whole section or key, a dict the keys inside."""


def _tree(params: Iterable[str]) -> _Declared:
    tree: _Declared = {}
    for param in params:
        *parents, last = param.split(".")
        node: _Declared | None = tree
        for part in parents:
            if node is None:  # a whole section already covers this key
                break
            node = node.setdefault(part, {})
        if node is not None:
            node[last] = None
    return tree


def _restricted[M: BaseModel](model: M, declared: _Declared, stage: str, prefix: str) -> M:
    fields = type(model).model_fields
    unknown = sorted(set(declared) - set(fields))
    if unknown:
        raise ValueError(
            f"stage {stage!r} declares param(s) {[prefix + u for u in unknown]} that the "
            f"settings do not have; expected keys of {prefix.rstrip('.') or 'params.yaml'}: "
            f"{sorted(fields)}."
        )
    values: dict[str, Any] = {}
    for name in fields:
        value = getattr(model, name)
        key = prefix + name
        if not prefix and name in ALWAYS:
            values[name] = value
        elif name not in declared:
            values[name] = _Undeclared(stage, key)
        elif (inner := declared[name]) is None:
            values[name] = value
        elif isinstance(value, BaseModel):
            values[name] = _restricted(value, inner, stage, key + ".")
        else:
            raise ValueError(
                f"stage {stage!r} declares keys inside {key!r}, which is a value, not a "
                f"section. Declare {key!r} itself."
            )
    return model.model_construct(_fields_set=model.model_fields_set, **values)


def restrict(settings: PipelineSettings, params: Iterable[str], *, stage: str) -> PipelineSettings:
    """``settings`` with only ``params`` readable (plus the pipeline's name): every other
    section or key raises :class:`UndeclaredParamError` naming ``stage`` and itself when used.
    Raises ValueError if ``params`` names a section or key the settings do not have."""
    return _restricted(settings, _tree(params), stage, "")
