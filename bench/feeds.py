"""Generated intranet feeds, and a server for them in a process of its own.

`feed_body(n, version, epoch)` is feed `n` at `version`: 50 items, about 60 KB,
shaped like WordPress's RSS (even `n`) or SharePoint's list feed (odd `n`),
the same bytes in every process, so that the server and the bench's bare
parsing loop see the very same bodies. Version `v` holds items `v` to `v+49`:
a new version adds one item on top and drops the oldest, as a busy feed does.

`FeedServer` serves `/feeds/{n}` with a strong ETag and 304 on
`If-None-Match`, as both products do. It runs in a process of its own so
that serving costs the measured process nothing. `POST /change` bumps
feeds to their next version; `GET /served/{n}` says when the current
version of a feed was first served (`time.time()`), the start of the
screens scenario's clock.
"""

from __future__ import annotations

import hashlib
import random
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime

import aiohttp
from aiohttp import web

from bench.appserver import app_process

ITEMS = 50
WORDS = ("medewerkers", "afdeling", "nieuwe", "locatie", "week", "team", "zorg", "rooster", "dienst",
         "collega's", "project", "vergadering", "intranet", "kantine", "parkeren", "verbouwing", "training",
         "aanmelden", "vragen", "informatie", "directie", "plannen", "jaar", "cliënten", "veiligheid",
         "welkom", "bijeenkomst", "maandag", "vrijdag", "samen", "resultaten", "werkplek", "ICT", "storing")
AUTHORS = ("Anouk de Vries", "Mohamed El Amrani", "Sanne Bakker", "Jan Jansen", "Facilitair Bedrijf", "Priya Ramdin")
CATEGORIES = ("Nieuws", "Zorg", "ICT", "Facilitair", "HR", "Roosters", "Kwaliteit")
TYPES = ("application/rss+xml; charset=UTF-8", "text/xml; charset=utf-8")  # WordPress, SharePoint


def sentence(rng: random.Random, words: int) -> str:
    text = " ".join(rng.choice(WORDS) for _ in range(words))
    return text[0].upper() + text[1:] + "."


def paragraph(rng: random.Random) -> str:
    return " ".join(sentence(rng, rng.randint(7, 11)) for _ in range(rng.randint(2, 3)))


@dataclass(frozen=True)
class Post:
    """One item's text, the same for both shapes; `n` numbers it within its feed."""

    n: int
    title: str
    paragraphs: tuple[str, ...]
    author: str
    categories: tuple[str, ...]
    published: datetime

    @classmethod
    def make(cls, feed: int, n: int, epoch: datetime) -> Post:
        rng = random.Random(feed * 1_000_003 + n)
        return cls(n, sentence(rng, rng.randint(4, 8)).rstrip("."), tuple(paragraph(rng) for _ in range(2)),
                   rng.choice(AUTHORS), tuple(rng.sample(CATEGORIES, rng.randint(1, 3))),
                   epoch - timedelta(hours=2 * (ITEMS - n)))


def wordpress_item(feed: int, post: Post) -> str:
    link = f"https://nieuws{feed}.example.org/{post.published:%Y/%m/%d}/bericht-{post.n}/"
    body = "\n".join(f"<p>{p}</p>" for p in post.paragraphs)
    categories = "".join(f"\n\t\t<category><![CDATA[{c}]]></category>" for c in post.categories)
    picture = (f'<figure class="wp-block-image size-large"><img decoding="async" width="1024" height="576" '
               f'src="https://nieuws{feed}.example.org/wp-content/uploads/bericht-{post.n}-1024x576.jpg" alt="" '
               f'class="wp-image-{post.n}" /></figure>')
    return f"""
	<item>
		<title>{post.title}</title>
		<link>{link}</link>
		<comments>{link}#respond</comments>
		<dc:creator><![CDATA[{post.author}]]></dc:creator>
		<pubDate>{format_datetime(post.published)}</pubDate>{categories}
		<guid isPermaLink="false">https://nieuws{feed}.example.org/?p={post.n}</guid>
		<description><![CDATA[{post.paragraphs[0][:280]} [&#8230;]]]></description>
		<content:encoded><![CDATA[{body}
{picture}
]]></content:encoded>
		<wfw:commentRss>{link}feed/</wfw:commentRss>
		<slash:comments>0</slash:comments>
	</item>"""


def wordpress(feed: int, posts: Sequence[Post]) -> str:
    return f"""<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"
	xmlns:content="http://purl.org/rss/1.0/modules/content/"
	xmlns:wfw="http://wellformedweb.org/CommentAPI/"
	xmlns:dc="http://purl.org/dc/elements/1.1/"
	xmlns:atom="http://www.w3.org/2005/Atom"
	xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"
	xmlns:slash="http://purl.org/rss/1.0/modules/slash/"
	>
<channel>
	<title>Nieuws {feed}</title>
	<atom:link href="https://nieuws{feed}.example.org/feed/" rel="self" type="application/rss+xml" />
	<link>https://nieuws{feed}.example.org</link>
	<description>Nieuws van afdeling {feed}</description>
	<lastBuildDate>{format_datetime(posts[0].published)}</lastBuildDate>
	<language>nl-NL</language>
	<sy:updatePeriod>hourly</sy:updatePeriod>
	<generator>https://wordpress.org/?v=6.6.2</generator>{"".join(wordpress_item(feed, p) for p in posts)}
</channel>
</rss>
"""


def sharepoint_item(feed: int, post: Post) -> str:
    link = f"https://sharepoint.example.org/sites/afdeling{feed}/Lists/Announcements/DispForm.aspx?ID={post.n}"
    body = "".join(f"<p>{p}</p>" for p in post.paragraphs)
    return (f"<item><title>{post.title}</title><link>{link}</link><description><![CDATA[<div><b>Hoofdtekst:</b> "
            f'<div class="ExternalClass{post.n:032X}">{body}</div></div>\n'
            f"<div><b>Categorie:</b> {post.categories[0]}</div>\n]]></description><author>{post.author}</author>"
            f"<category>{post.categories[0]}</category><pubDate>{format_datetime(post.published, usegmt=True)}"
            f'</pubDate><guid isPermaLink="true">{link}</guid></item>')


def sharepoint(feed: int, posts: Sequence[Post]) -> str:
    site = f"https://sharepoint.example.org/sites/afdeling{feed}"
    return (f'<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel><title>Afdeling {feed}: '
            f"Mededelingen</title><link>{site}/Lists/Announcements/AllItems.aspx</link><description>RSS-feed voor "
            f"de lijst Mededelingen.</description><lastBuildDate>{format_datetime(posts[0].published, usegmt=True)}"
            f"</lastBuildDate><generator>Microsoft SharePoint Foundation RSS Generator</generator><ttl>60</ttl>"
            f"<language>nl-NL</language>{''.join(sharepoint_item(feed, p) for p in posts)}</channel></rss>")


def feed_body(n: int, version: int, epoch: datetime) -> bytes:
    """Feed `n` at `version`, newest item first. Item i is dated `epoch` + 2 h x (i - 50), so a
    version's new item is the newest, and version 1's is dated `epoch`."""
    posts = [Post.make(n, i, epoch) for i in range(version + ITEMS - 1, version - 1, -1)]
    return (sharepoint if n % 2 else wordpress)(n, posts).encode()


def content_type(n: int) -> str:
    return TYPES[n % 2]


class Feeds:
    """The server process's state: each feed's version, body and ETag."""

    def __init__(self, count: int, epoch: datetime) -> None:
        self.epoch = epoch
        self.versions = [0] * count
        self.bodies = [feed_body(n, 0, epoch) for n in range(count)]
        self.served: dict[int, float] = {}

    def etag(self, n: int) -> str:
        return f'"{hashlib.sha1(self.bodies[n]).hexdigest()[:20]}"'

    def change(self, n: int) -> None:
        self.versions[n] += 1
        self.bodies[n] = feed_body(n, self.versions[n], self.epoch)
        self.served.pop(n, None)


def app_for(count: int, epoch: datetime) -> web.Application:
    """The server: built in its own process, which generates the feeds."""
    feeds = Feeds(count, epoch)

    async def feed(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        etag = feeds.etag(n)
        if request.headers.get("If-None-Match") == etag:
            return web.Response(status=304, headers={"ETag": etag})
        feeds.served.setdefault(n, time.time())
        return web.Response(body=feeds.bodies[n], headers={"ETag": etag, "Content-Type": content_type(n)})

    async def change(request: web.Request) -> web.Response:
        for n in await request.json():
            feeds.change(int(n))
        return web.Response(status=204)

    async def served(request: web.Request) -> web.Response:
        return web.json_response(feeds.served.get(int(request.match_info["n"])))

    app = web.Application()
    app.router.add_get("/feeds/{n:\\d+}", feed)
    app.router.add_post("/change", change)
    app.router.add_get("/served/{n:\\d+}", served)
    return app


@dataclass(frozen=True)
class FeedServer:
    base: str

    def url(self, n: int) -> str:
        return f"{self.base}/feeds/{n}"

    async def change(self, feeds: Sequence[int]) -> None:
        async with aiohttp.ClientSession() as session, session.post(f"{self.base}/change", json=list(feeds)) as r:
            r.raise_for_status()

    async def served_at(self, n: int) -> float | None:
        """When the current version of feed `n` was first served (`time.time()`), if it was."""
        async with aiohttp.ClientSession() as session, session.get(f"{self.base}/served/{n}") as response:
            return await response.json()


@contextmanager
def feed_server(count: int, epoch: datetime) -> Iterator[FeedServer]:
    with app_process("feed-server", app_for, count, epoch) as base:
        yield FeedServer(base)
