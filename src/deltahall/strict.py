"""Base of every typed params section: unknown keys are errors, values are frozen, types strict.

No field has a default: params.yaml is the one source of every value, so a missing key is an
error that names it (never a silent code default). Strict types: `epochs: true` or
`epochs: "3"` is refused rather than read as 1 or 3.
"""

from pydantic import BaseModel, ConfigDict


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)
