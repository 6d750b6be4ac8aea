"""An input's own io_handler (``AssetDef.input(name, io_handler=...)``) as a step runtime loads through it."""

from __future__ import annotations

import pytest

import rivers as rs
from rivers.exceptions import AssetDefinitionError


class Recording(rs.InMemoryIOHandler):
    """The in-memory handler, remembering which inputs it loaded."""

    def __init__(self) -> None:
        super().__init__()
        self.loaded: list[str] = []

    def load_input(self, context: rs.InputContext) -> object:
        self.loaded.append(context.asset_name)
        return super().load_input(context)


def _pair(reference: str, node_handler: str | None = None) -> tuple[rs.Asset, rs.Asset]:
    """``up`` (written through ``node_handler``, default: the same resource) and ``down``, whose input ``up``
    names the resource ``reference`` as its own handler."""

    @rs.Asset(io_handler=node_handler or reference)
    def up() -> int:
        return 1

    @rs.Asset(deps=[rs.AssetDef.input("up", io_handler=reference)])
    def down(up: int) -> int:
        return up + 1

    return up, down


def test_an_input_handler_named_by_resource_is_the_resource():
    store = Recording()
    repo = rs.CodeRepository(assets=list(_pair("store")), resources={"store": store})
    result = repo.materialize()
    assert result.success
    assert store.loaded == ["up"]
    assert repo.load_node("down") == 2


def test_an_input_handler_naming_a_missing_resource_fails_at_resolve():
    # the node's own handler exists: only the input's reference is missing
    repo = rs.CodeRepository(assets=list(_pair("store", node_handler="other")), resources={"other": Recording()})
    with pytest.raises(AssetDefinitionError, match="Asset 'down': input 'up': io_handler references resource 'store' "
                                                   "which is not in resources; resources: \\['other'\\]"):
        repo.resolve(rs.Storage.memory())


def test_an_input_handler_naming_a_resource_that_is_no_handler_fails_at_resolve():
    class Api(rs.Resource):
        url: str = "x"

    repo = rs.CodeRepository(assets=list(_pair("api", node_handler="store")),
                             resources={"api": Api(), "store": Recording()})
    with pytest.raises(AssetDefinitionError,
                       match=r"Asset 'down': input 'up': io_handler references resource 'api' which does not "
                             r"implement the IOHandler protocol"):
        repo.resolve(rs.Storage.memory())
