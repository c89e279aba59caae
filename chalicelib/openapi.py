"""The OpenAPI 3.1 document of the API, shipped beside this module and served at /v1/openapi.json."""
from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

DOCUMENT = Path(__file__).with_name("openapi.json")


@lru_cache(maxsize=1)
def document() -> dict[str, Any]:
    return json.loads(DOCUMENT.read_text())
