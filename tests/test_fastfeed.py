"""The fast feed path must give exactly what feedparser gives, or decline: a differential test over every feed in
the repository (feedparser's own corpus included), the bench farm's feeds and hand-made documents aimed at each rule
the fast path copies from feedparser."""

from __future__ import annotations

import random
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from treatywatch.sources import fastfeed
from treatywatch.sources.base import MAX_ITEMS_PER_PAGE, Request, Response
from treatywatch.sources.encoding import decode, strip_xml_declaration
from treatywatch.sources.feed import FeedConfig, FeedSource, feedparser_entries, visible

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "bench"))
from farmlib import LANGS, rss_feed, rss_item  # noqa: E402

BASE = "http://feeds.example.org/section/rss.xml"
RSS = '<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{}</channel></rss>'
ATOM = '<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"{}>{}</feed>'
CONTENT_NS = 'xmlns:content="http://purl.org/rss/1.0/modules/content/"'

HAND_MADE = [
    RSS.format("<language>ru-RU</language><item><title> A  title </title><link>/relative/1</link></item>"),
    RSS.format('<item><title>t</title><guid isPermaLink="false">abc-1</guid></item>'),
    RSS.format("<item><title>t</title><guid>relative/guid</guid></item>"),
    RSS.format("<item><title>t</title><guid>https://x.example/1</guid><link>https://x.example/2</link></item>"),
    RSS.format("<item><link>https://x.example/q?a=1&amp;amp;b=2&amp;c;=3</link><title>q</title></item>"),
    RSS.format("<item><title>t</title><description>&lt;p&gt;Hello &amp;amp; bye&lt;/p&gt;</description></item>"),
    RSS.format("<item><title><![CDATA[Cdata <b>bold</b>]]></title><description><![CDATA[x]]></description></item>"),
    RSS.format("<item><title>Ã©tÃ© mojibake</title><description>\x93quoted\x94 \x80</description></item>"),
    RSS.format("<item><title>t</title><pubDate>Tue, 25 Nov 2025 10:00:00 +0300</pubDate></item>"),
    RSS.format("<item><title>t</title><pubDate>not a date</pubDate></item>"),
    RSS.format("<item><title>t</title><guid></guid></item>"),
    RSS.format(
        "<item><title>t</title><description>&lt;script&gt;evil()&lt;/script&gt;seen&lt;!-- x --&gt;</description>"
        "</item>"
    ),
    RSS.replace("<rss ", f"<rss {CONTENT_NS} ").format(
        "<item><title>t</title><content:encoded>&lt;p&gt;full text&lt;/p&gt;</content:encoded></item>"
    ),
    RSS.replace("<rss ", f"<rss {CONTENT_NS} ").format(
        "<item><content:encoded>body</content:encoded><description>desc</description><title>t</title></item>"
    ),
    RSS.format("<item><title>one</title><title>two</title></item>"),  # declines: repeated field
    RSS.format('<item><title>t</title><link href="https://x.example/"/></item>'),  # declines: Atom-style link
    '<rss version="2.0" xml:lang="fr"><channel><item><title>t</title></item></channel></rss>',
    '<rss version="2.0"><channel xml:base="http://other.example/"><item><link>a</link></item></channel></rss>',
    ATOM.format(
        ' xml:lang="de"',
        '<entry><id>urn:uuid:1</id><title type="html">&lt;b&gt;T&lt;/b&gt;</title>'
        '<link rel="alternate" href="/a"/><link href="/b" type="text/html"/><link rel="self" href="/c"/>'
        "<updated>2025-11-25T10:00:00Z</updated><summary>s</summary></entry>",
    ),
    ATOM.format("", "<entry><id>tag:x,2025:1</id><title>no link</title><published>2025-11-25</published></entry>"),
    ATOM.format("", '<entry><id>x</id><content type="html">&lt;p&gt;c&lt;/p&gt;</content><title>t</title></entry>'),
    ATOM.format("", "<entry><content>c</content><summary>s</summary><title>t</title><id>i</id></entry>"),
    ATOM.format("", '<entry><content type="application/pdf">c</content><title>t</title></entry>'),
    ATOM.format("", '<entry><link href="/pdf" type="application/pdf"/><id>/id</id><title>t</title></entry>'),
    ATOM.format(
        "", '<entry><title type="xhtml"><div xmlns="http://www.w3.org/1999/xhtml">x</div></title></entry>'
    ),  # declines: XHTML
]


def repo_feeds() -> list[Path]:
    roots = [REPO / "tests" / "data", REPO / "service" / "treatywatch" / "demo_data"]
    return sorted(p for root in roots for p in root.rglob("*.xml"))


def farm_feeds() -> list[str]:
    rng = random.Random(5)
    docs = []
    for f in range(12):
        lang, words = LANGS[f % len(LANGS)]
        items = [rss_item(rng, lang, words, f, i, fastfeed_when()) for i in range(20)]
        docs.append(rss_feed(f, items, lang).decode())
    return docs


def fastfeed_when() -> datetime:
    return datetime(2025, 11, 25, 9, 0, tzinfo=UTC)


def both(text: str) -> tuple[object, object]:
    fast = fastfeed.read(strip_xml_declaration(text), BASE, MAX_ITEMS_PER_PAGE)
    if fast is None:
        return None, None
    try:
        slow = feedparser_entries(text, BASE)
    except Exception as exc:  # feedparser refusing what we read would be a difference too
        slow = exc
    return (fast.language, fast.entries), slow


def test_every_repository_feed_reads_the_same_or_declines() -> None:
    taken = 0
    for path in repo_feeds():
        text, _ = decode(path.read_bytes(), "")
        if "<!ENTITY" in text.upper():
            continue  # refused before either parser runs
        fast, slow = both(text)
        if fast is None:
            continue
        taken += 1
        assert fast == slow, path
    assert taken >= 20  # the comparison is not vacuous: real documents take the fast path


@pytest.mark.parametrize("text", HAND_MADE, ids=range(len(HAND_MADE)))
def test_hand_made_feeds_read_the_same_or_decline(text: str) -> None:
    fast, slow = both(text)
    if fast is not None:
        assert fast == slow


def test_hand_made_feeds_mostly_take_the_fast_path() -> None:
    taken = sum(both(t)[0] is not None for t in HAND_MADE)
    assert taken >= len(HAND_MADE) - 6


def test_farm_feeds_take_the_fast_path_and_read_the_same() -> None:
    for text in farm_feeds():
        fast, slow = both(text)
        assert fast is not None
        assert fast == slow


def test_declines_what_it_does_not_reproduce() -> None:
    assert both(RSS.format("<item><title>one</title><title>two</title></item>"))[0] is None
    assert fastfeed.read("<rss><channel><item><title>&nbsp;</title></item></channel></rss>", BASE, 10) is None
    assert fastfeed.read('<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>', BASE, 10) is None


def test_items_through_the_source_hide_script_and_comments() -> None:
    body = RSS.format(
        "<item><title>T &lt;script&gt;x()&lt;/script&gt;</title><link>/a</link>"
        "<description>&lt;style&gt;p{}&lt;/style&gt;seen &lt;!-- hidden --&gt;here</description></item>"
    ).encode()
    cfg = FeedConfig(id="s", url=BASE)
    page = FeedSource().parse(cfg, Request(BASE), Response(BASE, 200, body, {"content-type": "application/rss+xml"}))
    (item,) = page.items
    assert (item.title, item.summary, item.link) == ("T", "seen here", "http://feeds.example.org/a")


def test_visible_drops_hidden_parts_and_an_unclosed_one_hides_the_rest() -> None:
    assert visible("a<SCRIPT type='x'>b</script >c<style>d</style>e<!-- f -->g") == "a c e g"
    assert visible("a<script>never closed <p>b") == "a"
    assert visible("a<!-- open") == "a"
    assert visible("plain") == "plain"
