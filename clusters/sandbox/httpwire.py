"""The little HTTP/1.1 parsing the pods and the balancer share (hot path: no allocations
beyond what the answer needs)."""

from __future__ import annotations

CONTENT_LENGTH = b"content-length:"


def content_length(head: bytes) -> tuple[int, bytes | None]:
    """The Content-Length of a message head (0 when absent), and the head lower-cased if that
    was needed to find it (None otherwise), so a caller can reuse it for other headers.

    Tries the usual spelling first: lower-casing every head would cost on every request.
    """
    lower = None
    at = head.find(b"Content-Length:")
    if at < 0:
        lower = head.lower()
        at = lower.find(CONTENT_LENGTH)
    if at < 0:
        return 0, lower
    stop = head.find(b"\r\n", at)
    return int(head[at + len(CONTENT_LENGTH):stop if stop >= 0 else len(head)]), lower
