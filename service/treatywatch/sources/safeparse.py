"""Checks that keep a hostile document's parse bounded in time and memory, applied before the real parser runs.

- XML: a document that declares entities is refused, as defusedxml does (forbid_entities): an internal entity
  referenced 10,000 times (the "quadratic blowup") or nested ones ("billion laughs") expand to gigabytes inside
  expat, and feedparser keeps entity declarations it deems "safe" (plain text), which the quadratic blowup is.
  We refuse rather than strip: stripping would leave the references undefined, so the feed would fail anyway, and
  a refusal names the cause. A DOCTYPE without entity declarations (the RSS 0.91 one) is harmless and kept.
  The search runs over the whole text, not only the prolog: a comment or attribute value in the DTD could hide a
  declaration from a prolog-only scan. A feed quoting `<!ENTITY` inside CDATA is refused too (a rare false alarm).
- HTML: lexbor's tree builder checks element scopes by walking the stack of open elements, so its time grows with
  the sum over start tags of the nesting depth (20,000 nested lists: 9.5 s; a 10 MB page of them: minutes). A
  linear pre-scan estimates that sum (a stack of tag names; void and self-closed tags skipped, li/p/td/... closing
  their own kind) and refuses pages past a budget of about 2.5 seconds of lexbor work. Real pages are 20-40 deep.
- JSON: CPython's decoder recurses per nesting level and raises RecursionError near 1,000 levels; that becomes a
  ParseError naming the cause instead of a traceback. An integer longer than CPython converts (4,300 digits) is
  read as a float (inf), so one such field costs that field, not the document.
"""

from __future__ import annotations

import itertools
import json
import operator
import re

from ..errors import ParseError

_ENTITY_DECL = re.compile(r"<!\s*ENTITY", re.I)
_SKIPPED = (  # void tags never nest; li, p, td and their kind close their own kind, so nest only through others
    "area|base|br|col|embed|hr|img|input|link|meta|param|source|track|wbr|basefont|bgsound|frame|keygen|"
    "li|p|dt|dd|option|optgroup|tr|td|th|thead|tbody|tfoot|rb|rt|rp"
)
# only the tag's start is matched, so an unclosed '<a' costs one step, never a scan to the end
_TAG = re.compile(rf"<(/?)(?!(?:{_SKIPPED})[\s/>])[A-Za-z]", re.I)
MAX_HTML_WORK = 100_000_000  # sum of depths over start and end tags (2x lexbor's ~20 M steps/s)


def refuse_xml_entities(text: str) -> None:
    """Raise ParseError when the document declares XML entities (internal, external or parameter)."""
    if _ENTITY_DECL.search(text):
        raise ParseError("feed declares XML entities (DTD refused)")


def refuse_deep_html(text: str, budget: int = MAX_HTML_WORK) -> None:
    """Raise ParseError when parsing would cost more than `budget` (tags times their nesting depth).

    Depth is the running sum of +1 per start tag and -1 per end tag, clamped at 0 (stray end tags bank nothing),
    computed with itertools in C: about 0.7 s on a 9 MB page of a million tags (lexbor: 0.9 s).
    """
    slashes = _TAG.findall(text)
    if len(slashes) * len(slashes) // 2 <= budget:
        return  # even fully nested, this few tags cannot exceed the budget
    steps = map(operator.sub, itertools.repeat(1), map(operator.mul, itertools.repeat(2), map(len, slashes)))
    raw = list(itertools.accumulate(steps))
    floor = itertools.islice(itertools.accumulate(raw, min, initial=0), 1, None)
    depth = list(map(operator.sub, raw, floor))
    work = sum(depth)
    if work > budget:
        raise ParseError(f"HTML nested too deeply to parse in bounded time ({max(depth)} levels; refused)")


# CPython's default limit on int(str) (sys.get_int_max_str_digits); past it, int() raises ValueError
_INT_DIGITS = 4300


def _int(digits: str) -> int | float:
    return int(digits) if len(digits) <= _INT_DIGITS else float(digits)


def loads_bounded(text: str) -> object:
    """json.loads that ends in ParseError, never RecursionError, on deep nesting."""
    try:
        return json.loads(text, parse_int=_int)
    except RecursionError as exc:
        raise ParseError("JSON nested too deeply (refused)") from exc
    except json.JSONDecodeError as exc:
        raise ParseError(f"response is not JSON: {exc}") from exc
