"""YAML reading: safe loading that also reads exponent numbers such as ``15.6e12`` as numbers."""

from __future__ import annotations

import re
from typing import Any

import yaml


class SafeLoader(yaml.SafeLoader):
    """SafeLoader that also reads ``15.6e12`` and ``1e5`` as numbers (PyYAML's YAML 1.1 float rule needs a dot)."""


_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+]?[0-9]+)?
    |[-+]?(?:[0-9][0-9_]*)(?:[eE][-+]?[0-9]+)
    |\.[0-9_]+(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.X,
)
SafeLoader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:float"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
SafeLoader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


def _int_if_whole(loader: SafeLoader, node: yaml.Node) -> Any:
    value = yaml.SafeLoader.construct_yaml_float(loader, node)
    whole = value == value and abs(value) != float("inf") and value.is_integer() and abs(value) < 2**63
    return int(value) if whole else value


SafeLoader.add_constructor("tag:yaml.org,2002:float", _int_if_whole)



def safe_load(text: str) -> Any:
    """yaml.safe_load with exponent floats."""
    return yaml.load(text, Loader=SafeLoader)  # noqa: S506 - a SafeLoader subclass
