"""Text hygiene at the edge: what people type reaches storage and screens only once cleaned.

Control characters are dropped (PostgreSQL refuses NUL in text, the others render as nothing
or garbage; tabs and newlines stay) and bidirectional overrides and isolates are removed, so a
right-to-left override cannot show text reversed on the dashboard or in a card."""

from __future__ import annotations

import re

# C0 controls except tab and newline, DEL, C1 controls; bidi embeddings, overrides, isolates.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def clean(text: str) -> str:
    """`text` without control characters (NUL included) and bidirectional overrides."""
    return _UNSAFE.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
