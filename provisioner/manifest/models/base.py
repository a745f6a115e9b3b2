"""The base of every manifest model: strict types, unknown keys refused, values frozen."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Model(BaseModel):
    """Strict (no silent coercion of 1.10 into '1.1'), closed (typos are errors) and immutable."""

    model_config = ConfigDict(extra="forbid", strict=True, frozen=True, populate_by_name=False)
