"""The base of every upstream model: typed where the vendor pages say, unknown fields kept as they came."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict


class UpstreamModel(BaseModel):
    """A shape from a vendor page; fields the page does not list are kept (``extra="allow"``), not dropped."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    def body(self) -> dict[str, Any]:
        """Return the JSON body to send: upstream field names, unset optional fields left out."""
        return self.model_dump(by_alias=True, exclude_none=True, mode="json")
