"""An item's key from its canonical link: identity_key takes the link make_item made canonical and does not run
canonical_url over it again. That holds only while a second canonical_url changes nothing but the spaces a path
kept before its fragment; these tests hold that equality, so a change to canonical_url that breaks it fails here
instead of re-keying (and re-alerting) stored items."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from treatywatch.items import canonical_url, identity_key, make_item
from treatywatch.sources.identity import fetch_independent

URL_CHARS = "aZ09-._~:/?#[]@!$&'()*+,;=% \t\u00a0\u2003é\u0436"
urls = st.builds(
    lambda scheme, sep, rest: scheme + sep + rest,
    st.sampled_from(["http", "HTTPS", "ftp", "", "mailto", " http"]),
    st.sampled_from(["://", "//", ":", ""]),
    st.text(alphabet=URL_CHARS, max_size=40),
)

AWKWARD = [
    "http://Example.ORG/a b #top",
    "http://b3/path \t#frag&",
    "https://x.example/?utm_source=feed&id=4&utm_medium=rss#c",
    "http://x.example/p?a=1&b;=2&&c",
    "http://x.example/p?q=%20+x&a+b=c+d",
    "http://h #x",
    "  http://x.example/trailing  ",
    "http://[::1/broken",
    "/relative/only?x=1",
]


@settings(max_examples=2000, deadline=None)
@given(urls)
def test_a_second_canonical_url_only_strips_what_the_first_left_at_the_end(url):
    once = canonical_url(url)
    assert canonical_url(once) == once.strip()


def test_awkward_links_key_as_canonical_url_twice_would():
    for url in AWKWARD:
        link = canonical_url(url)
        if link:
            assert identity_key(None, link, "t", None) == canonical_url(link), url


def test_an_items_key_is_its_link_canonical_and_a_guid_wins():
    item = make_item("s", title="T", link="HTTP://WWW.Example.org/a?utm_source=x&id=2#frag", base_url="http://f/")
    assert item.link == item.key == "http://www.example.org/a?id=2"
    assert make_item("s", title="T", link=item.link, guid=" g-1 ").key == "g-1"


def test_a_link_on_the_feeds_host_is_keyed_by_path_and_query_under_any_host_name():
    for home in ("http://127.0.0.1:8000/feed.xml", "https://localhost/feed.xml"):
        item = make_item("s", title="T", link="/news/1?p=2#x", base_url=home)
        assert fetch_independent(item, home, None, None).key == "/news/1?p=2"
    item = make_item("s", title="T", link="https://other.example/news/1", base_url="http://127.0.0.1/feed.xml")
    assert fetch_independent(item, "http://127.0.0.1/feed.xml", None, None).key == "https://other.example/news/1"
