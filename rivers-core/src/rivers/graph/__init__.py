"""The asset graph: nodes, the steps producing them, and their dependencies."""

from rivers.graph.graph import AssetGraph
from rivers.graph.model import InputSpec, Node, StepSpec

__all__ = ["AssetGraph", "InputSpec", "Node", "StepSpec"]
