"""Making repeated estimates of one graph cheap: attribute reads and per-folding results.

A sweep estimates the same graph thousands of times, changing only PE and SIMD. FINN
re-derives everything on every call; these helpers remember what cannot have changed.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def with_static_schema(inst: Any) -> Any:
    """Give a custom-op wrapper a memoized attribute schema and attribute reads.

    FINN rebuilds a node's attribute-schema dict and scans the node's attribute list on
    every single attribute read, which is most of the cost of an estimate. The schema of
    an op type never changes, and an attribute only changes through `set_nodeattr`, which
    here forgets the remembered value. Values read, and so the estimates, are unchanged
    (the perf benchmark and the tests compare against a full FINN build).
    """
    schema = inst.get_nodeattr_types()
    inst.get_nodeattr_types = lambda: schema
    read, write = inst.get_nodeattr, inst.set_nodeattr
    remembered: dict[str, Any] = {}

    def get_nodeattr(name: str) -> Any:
        if name not in remembered:
            remembered[name] = read(name)
        return remembered[name]

    def set_nodeattr(name: str, value: Any) -> None:
        remembered.pop(name, None)
        write(name, value)

    inst.get_nodeattr, inst.set_nodeattr = get_nodeattr, set_nodeattr
    return inst


def has_attr(inst: Any, attr: str) -> bool:
    return attr in inst.get_nodeattr_types()




class FoldingMemo:
    """Results of pure functions of a node's attributes, remembered per folding of the node.

    FINN's cycle and resource models and our calibrated costs depend only on a node's
    attributes, and only PE and SIMD change between foldings of one graph (`pristine`
    names them per node): so a result is keyed by the node, what it is, and the node's
    current PE/SIMD, and a layer folding priced once is never priced again.
    """

    def __init__(self, nodes: dict[str, Any], pristine: dict[str, dict[str, Any]]) -> None:
        self._nodes = nodes
        self._folding_attrs = {name: tuple(attrs) for name, attrs in pristine.items()}
        self._results: dict[tuple[Any, ...], Any] = {}

    def get(self, name: str, what: str, compute: Callable[[], Any]) -> Any:
        inst = self._nodes[name]
        key = (name, what, *(inst.get_nodeattr(a) for a in self._folding_attrs[name]))
        if key not in self._results:
            self._results[key] = compute()
        return self._results[key]
