"""Read a policy file's YAML defensively: bounded size, no duplicate keys, bounded alias expansion.

``yaml.safe_load`` alone keeps the *last* of two equal keys (``k: 10`` then ``k: 1`` releases with k = 1) and
expands aliases without limit (a "billion laughs" file of a few hundred bytes grew past 5 GB once validated).
Anchors and aliases stay allowed, since they let one hierarchy or step list serve several columns, but with
every alias expanded the document may hold at most ``MAX_ALIAS_NODES`` nodes more than the file itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

#: Largest policy file read; policies are hand-written, and large hierarchies live in their own CSV files.
MAX_BYTES = 1 << 20
#: How many nodes aliases may add once expanded.
MAX_ALIAS_NODES = 100_000
_MERGE = "tag:yaml.org,2002:merge"


class YamlRefused(Exception):
    """The file is not a policy YAML this reader accepts; ``loc`` is the path to the offending key, if any."""

    def __init__(self, message: str, loc: tuple[Any, ...] = ()) -> None:
        super().__init__(message)
        self.loc = loc


def _line(node: Node) -> int:
    return node.start_mark.line + 1


class _PolicyLoader(yaml.SafeLoader):
    """SafeLoader that checks the composed document before building Python objects from it."""

    def get_single_data(self) -> Any:
        node = self.get_single_node()
        if node is None:
            return None
        self._check(node, (), {}, set())
        return self.construct_document(node)

    def _check(self, node: Node, path: tuple[Any, ...], sizes: dict[int, int], open_: set[int]) -> int:
        """Expanded node count of ``node``; refuses duplicate keys, aliases that contain themselves, and a node
        whose expansion exceeds the distinct nodes seen so far (``sizes``) by more than ``MAX_ALIAS_NODES``: the
        first such node found is the smallest that expands too far, so its path points at the bomb."""
        if id(node) in sizes:
            return sizes[id(node)]
        if id(node) in open_:
            raise YamlRefused(f"an alias at line {_line(node)} refers to a node that contains it", path)
        open_.add(id(node))
        size = 1
        if isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                size += self._check(item, (*path, i), sizes, open_)
        elif isinstance(node, MappingNode):
            seen: dict[Any, int] = {}
            for key_node, value_node in node.value:
                name = key_node.value if isinstance(key_node, ScalarNode) else "?"
                sub = (*path, name)
                if isinstance(key_node, ScalarNode) and key_node.tag != _MERGE:
                    key = self.construct_object(key_node)
                    if key in seen:
                        raise YamlRefused(f"duplicate key '{name}' at line {_line(key_node)} (first given at line "
                                          f"{seen[key]}); YAML would silently keep the last", sub)
                    seen[key] = _line(key_node)
                size += self._check(key_node, sub, sizes, open_) + self._check(value_node, sub, sizes, open_)
        open_.discard(id(node))
        sizes[id(node)] = size
        if size - len(sizes) > MAX_ALIAS_NODES:
            raise YamlRefused(f"its aliases expand to {size} nodes, more than {MAX_ALIAS_NODES} beyond the file's "
                              f"own {len(sizes)} (an alias bomb?)", path)
        return size


def read_policy_yaml(path: Path) -> Any:
    """The parsed YAML of a policy file. Raises ``YamlRefused`` (message without the file name)."""
    with path.open("rb") as fh:
        raw = fh.read(MAX_BYTES + 1)
    if len(raw) > MAX_BYTES:
        raise YamlRefused(f"larger than {MAX_BYTES // 1024} KiB; a policy is a short hand-written file")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise YamlRefused(f"not UTF-8 text (byte {exc.start})") from None
    try:
        return yaml.load(text, Loader=_PolicyLoader)  # noqa: S506 -- a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None)
        raise YamlRefused(f"not valid YAML{where}" + (f": {problem}" if problem else "")) from None
    except RecursionError:
        raise YamlRefused("nested too deeply") from None
