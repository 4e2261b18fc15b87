"""YAML as Compose reads it: PyYAML's safe loader with YAML 1.2 booleans (only
``true``/``false``: ``yes``, ``no``, ``on`` and ``off`` stay strings, as in go-yaml v3,
which Docker Compose uses) and a guard against alias bombs (nested anchors that expand
exponentially, "billion laughs"), refused as go-yaml refuses them."""

from __future__ import annotations

import re
from typing import Any

import yaml

from dockyard.compose.errors import ComposeError

#: Most nodes a document may expand to through its aliases (go-yaml refuses documents
#: whose aliases expand far beyond their size; this bound is generous for real files).
MAX_EXPANDED_NODES = 1_000_000


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core-schema booleans and go-yaml v3's refusal of a key
    written twice in one mapping (PyYAML would keep the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if (
                not isinstance(key_node, yaml.ScalarNode)
                or key_node.tag == "tag:yaml.org,2002:merge"
            ):
                continue
            key = key_node.value
            line = key_node.start_mark.line + 1
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f'mapping key "{key}" already defined at line {seen[key]}',
                    key_node.start_mark,
                )  # fmt: skip
            seen[key] = line
        return super().construct_mapping(node, deep)


_Loader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


def _expanded_size(node: yaml.Node, memo: dict[int, int], limit: int) -> int:
    """How many nodes ``node`` stands for once every alias is expanded (memoised per
    node object, so the walk itself stays linear)."""
    key = id(node)
    if key in memo:
        return memo[key]
    memo[key] = 1  # a recursive alias counts once (the constructor handles the cycle)
    total = 1
    if isinstance(node, yaml.SequenceNode):
        children: list[yaml.Node] = list(node.value)
    elif isinstance(node, yaml.MappingNode):
        children = [n for pair in node.value for n in pair]
    else:
        children = []
    for child in children:
        total += _expanded_size(child, memo, limit)
        if total > limit:
            break
    memo[key] = total
    return total


def load(text: str, filename: str) -> Any:
    """The single document in ``text`` as Python values. Raises ComposeError naming
    ``filename`` (and the line, for a syntax error) for bad YAML, several documents, or a
    document that expands past :data:`MAX_EXPANDED_NODES` nodes."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node, {}, MAX_EXPANDED_NODES) > MAX_EXPANDED_NODES:
            raise ComposeError(f"{filename}: yaml: document contains excessive aliasing")
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        where = f"line {mark.line + 1}" if mark is not None else "?"
        problem = e.problem or e.context or "invalid YAML"
        raise ComposeError(f"{filename}: yaml: {where}: {problem}") from None
    except yaml.YAMLError as e:
        raise ComposeError(f"{filename}: yaml: {e}") from None
    finally:
        loader.dispose()


def dump(data: Any) -> str:
    """``data`` as block-style YAML, keys in their order (``compose config``)."""
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)
