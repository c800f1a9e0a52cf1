"""The API's parsers (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): a module of their own, since DRF
reads that setting while its views are imported."""

from __future__ import annotations

from rest_framework import parsers
from rest_framework.exceptions import ParseError

# Deeper than any object the API takes (a run's inline scenario with its stages is 3 levels):
# past it, Python's recursive parsing, copying and encoding would fail with a RecursionError.
MAX_JSON_DEPTH = 32


def json_depth_exceeds(value, limit: int) -> bool:
    """Whether `value` nests lists and objects more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > limit:
                return True
            stack.extend((child, depth + 1) for child in (item.values() if isinstance(item, dict) else item))
    return False


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, with a 400 instead of a 500 for a body nested too deep (100,000 brackets
    overflow the decoder's recursion; fewer would overflow what copies or stores the data later)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels") from None
        if json_depth_exceeds(data, MAX_JSON_DEPTH):
            raise ParseError(f"JSON parse error - nested deeper than {MAX_JSON_DEPTH} levels")
        return data
