"""The one policy for untrusted HTML and URLs from feeds: what may reach a mail or a screen.

Item HTML is sanitised once, at ingest (DESIGN.md, Security), with nh3
(ammonia): an allowlist of tags and attributes, so anything not named here
is gone, including <script>, <style>, <iframe>, <object>, <embed>, forms,
event handlers (`on*=`), `style` (and with it CSS `expression()`), `class`
and `id`. The URL attributes are rewritten by our own filter rather than
trusted to nh3's scheme list: nh3 applies the filter after its own scheme
check and does not check the filter's result, so the filter has the last
word. Links may be http, https or mailto; images http, https, or a base64
raster `data:` URL. Relative URLs become absolute against the item's base,
and links get rel="noopener noreferrer".
"""

from __future__ import annotations

import re
from collections.abc import Set
from functools import partial
from urllib.parse import urljoin, urlsplit

import nh3

WEB_SCHEMES = frozenset({"http", "https"})
LINK_SCHEMES = WEB_SCHEMES | {"mailto"}

TAGS = frozenset({
    "a", "abbr", "acronym", "article", "aside", "b", "bdi", "bdo", "blockquote", "br", "caption", "center",
    "cite", "code", "col", "colgroup", "data", "dd", "del", "details", "dfn", "div", "dl", "dt", "em",
    "figcaption", "figure", "footer", "h1", "h2", "h3", "h4", "h5", "h6", "header", "hgroup", "hr", "i", "img",
    "ins", "kbd", "li", "mark", "nav", "ol", "p", "pre", "q", "rp", "rt", "rtc", "ruby", "s", "samp", "section",
    "small", "span", "strike", "strong", "sub", "summary", "sup", "table", "tbody", "td", "tfoot", "th", "thead",
    "time", "tr", "tt", "u", "ul", "var", "wbr",
})

# Removed with everything inside: their content is code, a widget's fallback or form data, never prose.
HIDDEN_TAGS = frozenset({
    "script", "style", "iframe", "frame", "frameset", "object", "embed", "applet", "noscript", "noembed",
    "noframes", "template", "svg", "math", "textarea", "select", "title",
})

ATTRIBUTES = {
    "*": {"lang", "dir", "title"},
    "a": {"href", "hreflang"},
    "img": {"src", "alt", "width", "height"},
    "blockquote": {"cite"},
    "q": {"cite"},
    "del": {"cite", "datetime"},
    "ins": {"cite", "datetime"},
    "time": {"datetime"},
    "data": {"value"},
    "ol": {"start", "reversed", "type"},
    "td": {"colspan", "rowspan", "headers"},
    "th": {"colspan", "rowspan", "headers", "scope"},
    "col": {"span"},
    "colgroup": {"span"},
}

_SURROGATE = re.compile("[\ud800-\udfff]")
# Inline images that some intranets embed (pasted screenshots); SVG is left out because it is a document.
_DATA_IMAGE = re.compile(r"data:image/(?:png|gif|jpeg|webp|avif);base64,[A-Za-z0-9+/=\s]*\Z", re.IGNORECASE)


def absolute_url(url: str | None, base: str | None, *, schemes: Set[str] = WEB_SCHEMES) -> str | None:
    """`url` made absolute against `base`, or None unless it then has one of `schemes`.

    Browsers ignore leading spaces and control characters and any tab or
    newline in a URL (`java\\tscript:`); urllib does the same before we look
    at the scheme, and the normalised form is what we return.
    """
    if not url or not url.strip():
        return None
    try:
        parts = urlsplit(urljoin(base or "", url.strip()))
    except ValueError:  # an unparsable host such as "http://[oops"
        return None
    if parts.scheme.lower() not in schemes:
        return None
    if parts.scheme.lower() in WEB_SCHEMES and not parts.hostname:
        return None
    return parts.geturl()


def without_surrogates(text: str) -> str:
    """`text` with each lone UTF-16 surrogate (JSON may hold "\\ud800") as U+FFFD.

    UTF-8 has no encoding for them, so nh3, the store and mail would fail on them.
    """
    return _SURROGATE.sub("\ufffd", text)


def sanitise_html(html: str | None, base_url: str | None) -> str:
    """Untrusted HTML -> HTML that is safe to show in a mail or on a screen (see the module docstring)."""
    if not html or not html.strip():
        return ""
    return nh3.clean(
        without_surrogates(html),
        tags=set(TAGS),
        clean_content_tags=set(HIDDEN_TAGS),
        attributes={tag: set(names) for tag, names in ATTRIBUTES.items()},
        attribute_filter=partial(_filter_url, base_url),
        url_schemes=set(LINK_SCHEMES | {"data"}),
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def _filter_url(base_url: str | None, tag: str, attribute: str, value: str) -> str | None:
    """nh3's attribute filter: decides every URL attribute (it must never raise: nh3 would only log it)."""
    if attribute in ("href", "cite"):
        return absolute_url(value, base_url, schemes=LINK_SCHEMES)
    if attribute == "src":
        if tag == "img" and _DATA_IMAGE.match(value.strip()):
            return value.strip()
        return absolute_url(value, base_url)
    return value
