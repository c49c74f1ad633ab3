"""YAML reading and writing: a bounded, strict safe loader, and a writer that follows the loader's rules.

- ``15.6e12`` and ``1e5`` read as numbers (PyYAML's YAML 1.1 float rule needs a dot);
- only ``true``/``false`` are booleans and there are no base-60 numbers (YAML 1.2 core schema:
  ``units: yes`` and ``17:04`` stay strings, so the scenario check refuses them instead of reading 1 or 1024), and
  octal is written ``0o17``: ``020`` is text, twenty in a number field (YAML 1.1 read it as sixteen);
- a mapping with the same key twice is an error (the last one would silently win);
- aliases may not expand beyond ``MAX_ALIAS_NODES`` nodes in all (an alias bomb of a few hundred bytes
  would otherwise build billions of nodes); nesting deeper than ``MAX_DEPTH`` and more than ``MAX_NODES``
  values are refused;
- a value a tag cannot construct (``!!int abc``, ``2025-02-30``, a 100,000-digit integer) is a YAML error at
  its line and column, never a Python exception of another kind.

``dump`` writes with the same resolver rules: a string that the loader would read back as a number, a boolean,
a date or null (``1e5``, ``0o17``, ``.5``, ``true``, ``null``, ``2025-01-01``) is quoted, so every string comes
back unchanged.
"""

from __future__ import annotations

import re
from typing import Any

import yaml
from yaml.constructor import ConstructorError, SafeConstructor
from yaml.nodes import MappingNode, SequenceNode

MAX_ALIAS_NODES = 10_000  # nodes reachable through aliases, summed over every alias use
MAX_DEPTH = 200  # nested mappings/sequences; the scenario format needs fewer than 10
MAX_NODES = 100_000  # values in one file; a large scenario has a few thousand (reading 100,000 takes ~2 s)
MAX_INT_DIGITS = 30  # no field of the format needs more; Python refuses > 4300 digits with a ValueError


class SafeLoader(yaml.SafeLoader):
    """PyYAML's SafeLoader with the rules of the module docstring."""

    def __init__(self, stream: Any) -> None:
        super().__init__(stream)
        self._alias_nodes = 0
        self._depth = 0
        self._nodes = 0
        self._open: list[str] = []  # the anchors of the nodes being composed (an alias to one would hold itself)

    # ---- composing: bounded nesting and bounded alias expansion
    def compose_node(self, parent: Any, index: Any) -> Any:  # noqa: D102
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            if event.anchor in self._open:  # `a: &x [*x]`: a value that contains itself, endless to read or check
                raise yaml.composer.ComposerError(
                    None, None, f"alias *{clip(event.anchor, 40)} is inside the value its anchor names (a value "
                    "cannot contain itself)", event.start_mark)
            node = super().compose_node(parent, index)
            self._alias_nodes += _size(node, MAX_ALIAS_NODES + 1)
            if self._alias_nodes > MAX_ALIAS_NODES:
                raise yaml.composer.ComposerError(
                    None, None, f"aliases expand to more than {MAX_ALIAS_NODES:,} values; write the values out",
                    event.start_mark)
            return node
        self._depth += 1
        self._nodes += 1
        if self._nodes > MAX_NODES:
            raise yaml.composer.ComposerError(
                None, None, f"more than {MAX_NODES:,} values in one file", self.peek_event().start_mark)
        anchor = getattr(self.peek_event(), "anchor", None)
        if anchor is not None:
            self._open.append(anchor)
        try:
            if self._depth > MAX_DEPTH:
                raise yaml.composer.ComposerError(
                    None, None, f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1
            if anchor is not None:
                self._open.pop()

    # ---- constructing: one error class with a position, whatever went wrong
    def construct_object(self, node: Any, deep: bool = False) -> Any:  # noqa: D102
        try:
            return super().construct_object(node, deep=deep)
        except ConstructorError:
            raise
        except (ValueError, TypeError, KeyError, OverflowError, AttributeError, IndexError) as exc:
            value = node.value if isinstance(node.value, str) else ""
            kind = node.tag.rsplit(":", 1)[-1]
            if kind == "timestamp" and value:
                # ``2024-13-01`` unquoted: the text, as if quoted; the scenario's checks then name its field
                # (``fleet[1].deliveries[1].date``) and say why, as they do for a quoted date
                return value
            why = ("not a real date (YYYY-MM-DD)" if kind == "timestamp"
                   else clip(exc) if isinstance(exc, ValueError) and str(exc) else f"not a valid {kind}")
            raise ConstructorError(None, None, f"cannot read {clip(value)!r} as {kind}: {why}",
                                   node.start_mark) from None

    def construct_mapping(self, node: Any, deep: bool = False) -> Any:  # noqa: D102
        if isinstance(node, MappingNode):
            seen: set = set()
            for key_node, _ in node.value:
                if isinstance(key_node, yaml.ScalarNode):
                    key = (key_node.tag, key_node.value)
                    if key in seen:
                        raise ConstructorError(None, None, f"key {clip(key_node.value)!r} appears twice",
                                               key_node.start_mark)
                    seen.add(key)
        return super().construct_mapping(node, deep=deep)


def _size(node: Any, limit: int) -> int:
    """Nodes below ``node`` (counted with repeats, as an expansion would build them), stopping at ``limit``."""
    count, stack = 0, [node]
    while stack and count < limit:
        n = stack.pop()
        count += 1
        if isinstance(n, SequenceNode):
            stack.extend(n.value)
        elif isinstance(n, MappingNode):
            for k, v in n.value:
                stack.extend((k, v))
    return count


def clip(value: Any, limit: int = 80) -> str:
    """``str(value)`` cut to ``limit`` characters, then ``…`` (every value quoted in a message goes through this)."""
    text = str(value)
    return text if len(text) <= limit else text[:limit] + "…"


_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
# YAML 1.2 core: booleans are true/false only; integers without base 60
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
# octal is written 0o17 (YAML 1.2); 020 is no integer here but text, as 08 is (YAML 1.1 read 020 as sixteen:
# ``mw: 020`` ran 16 MW): a number field reads plain digits as their decimal number (planner/validation.py), and
# an id such as ``name: 08`` stays the text written
_INT = re.compile(r"^(?:[-+]?0b[0-1_]+|[-+]?0o[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+)$")
_REPLACED = {"tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:int"}
SafeLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag not in _REPLACED]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SafeLoader.add_implicit_resolver("tag:yaml.org,2002:bool", _BOOL, list("tTfF"))
SafeLoader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _int_if_whole(loader: SafeLoader, node: yaml.Node) -> Any:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    whole = value == value and abs(value) != float("inf") and value.is_integer() and abs(value) < 2**63
    return int(value) if whole else value


def _bounded_int(loader: SafeLoader, node: yaml.Node) -> Any:
    digits = sum(ch.isalnum() for ch in str(node.value))
    if digits > MAX_INT_DIGITS:
        raise ConstructorError(None, None, f"an integer of {digits:,} digits is too long", node.start_mark)
    return yaml.SafeLoader.construct_yaml_int(loader, node)


def _strict_bool(loader: SafeLoader, node: yaml.Node) -> Any:
    value = loader.construct_scalar(node)
    if str(value).lower() not in ("true", "false"):
        raise ConstructorError(None, None, f"{clip(value)!r} is not a boolean (true or false)", node.start_mark)
    return str(value).lower() == "true"


SafeLoader.add_constructor("tag:yaml.org,2002:float", _int_if_whole)
SafeLoader.add_constructor("tag:yaml.org,2002:int", _bounded_int)
SafeLoader.add_constructor("tag:yaml.org,2002:bool", _strict_bool)


if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser


    class FastSafeLoader(CParser, SafeLoader):  # type: ignore[misc]
        """The same rules, with libyaml's C scanner and parser (several times faster on large files).

        Composing stays in Python (``SafeLoader.compose_node``, bounded): libyaml's own composer recurses
        without a limit and crashes the interpreter on deep nesting.
        """

        def __init__(self, stream: Any) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
            self._alias_nodes = 0
            self._depth = 0
            self._nodes = 0
            self._open = []

        get_single_node = yaml.composer.Composer.get_single_node
        get_node = yaml.composer.Composer.get_node
        check_node = yaml.composer.Composer.check_node
        compose_document = yaml.composer.Composer.compose_document
        compose_scalar_node = yaml.composer.Composer.compose_scalar_node
        compose_sequence_node = yaml.composer.Composer.compose_sequence_node
        compose_mapping_node = yaml.composer.Composer.compose_mapping_node
        compose_node = SafeLoader.compose_node

    LOADER: type = FastSafeLoader
else:  # pragma: no cover - PyYAML built without libyaml
    LOADER = SafeLoader


def safe_load(text: str) -> Any:
    """yaml.safe_load with the rules of this module."""
    return yaml.load(text, Loader=LOADER)  # noqa: S506 - a SafeLoader subclass


class SafeDumper(yaml.SafeDumper):
    """PyYAML's SafeDumper resolving plain scalars as :class:`SafeLoader` does.

    The emitter writes a string plain only when the resolver reads that plain text back as a string; with
    PyYAML's own YAML 1.1 rules ``1e5``, ``0o17`` or ``+.5`` were written plain and read back as numbers here.
    """


SafeDumper.yaml_implicit_resolvers = {k: list(v) for k, v in SafeLoader.yaml_implicit_resolvers.items()}
# what a plain or single-quoted scalar cannot carry as is: control characters, and the line breaks NEL, LS and PS
# that a reader folds into spaces (a double-quoted scalar escapes them: ``\x1b``, ``\N``, ``\L``)
_DOUBLE_QUOTED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff\ufffe\uffff]")


def _represent_str(dumper: SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if _DOUBLE_QUOTED.search(data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


SafeDumper.add_representer(str, _represent_str)


def dump(data: Any, **kwargs: Any) -> str:
    """``data`` as YAML that :func:`safe_load` reads back equal (keys in their order, Unicode as written)."""
    kwargs.setdefault("sort_keys", False)
    kwargs.setdefault("allow_unicode", True)
    return yaml.dump(data, Dumper=SafeDumper, **kwargs)
