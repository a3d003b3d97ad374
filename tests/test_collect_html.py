"""Citations in HTML pages: main text, reader comments, noise, robustness (issue 3).

The per-page expectations below were checked by reading each page's HTML: for
every page, which comment (1-based, document order, replies counted where
they appear) holds which link, and why the other links on the page are not
citations. Pages are read from tests/data/corpus/pages; the base URL is the
page's own canonical URL, as if it had been fetched from its site.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lxml.html import document_fromstring

from archiver.collect import Collected, collect_file, collect_html, normalize_url
from archiver.collect.comments import find_comments
from archiver.collect.filters import Page, noise_reason, unwrap_redirect

CORPUS = Path(__file__).resolve().parent / "data" / "corpus" / "pages"
DATA = Path(__file__).parent / "data" / "collect"

# Links that are never citations, whatever the page: taxonomy pages, feeds,
# log-in, comment reply/like/share variants of the page, share buttons.
NOISE = re.compile(
    r"/category/|/tag/|/author/|/labels/|/feed/?$|/feed/|wp-login|replytocom|like_comment|[?&]share=|sharer|"
    r"intent/tweet|shareArticle|^mailto:|^javascript:|^feed:"
)


@dataclass
class PageCase:
    file: str
    base_url: str
    comments: int  # comment entries found (pingbacks excluded)
    comment_links: dict[int, list[str]]  # comment number -> URLs cited in it, in order
    authors: dict[int, str] = field(default_factory=dict)
    dates: dict[int, str] = field(default_factory=dict)
    body_includes: list[str] = field(default_factory=list)
    never: list[str] = field(default_factory=list)  # URLs on the page that must not be reported
    problems: list[str] = field(default_factory=list)  # substrings of expected problem messages


CASES = [
    # netzpolitik.org: WordPress, 74 comments threaded up to depth 5 (li.comment >
    # article.comment-body > .comment-content). Seven comments cite sources in
    # their text. "John Weitzmann" and "Markus Beckedahl" link their names to
    # creativecommons.de / beckedahl.org: commenter homepages, not citations.
    PageCase(
        "netzpolitik.org.abmahnungen.html",
        "https://netzpolitik.org/2016/die-cider-connection-abmahnungen-gegen-nutzer-von-creative-commons-bildern/",
        comments=74,
        comment_links={
            14: ["http://www.ndr.de/nachrichten/Abmahnen-als-Geschaeftsmodell,abmahner100.html"],
            25: ["http://dipbt.bundestag.de/dip21/btd/17/130/1713057.pdf"],
            56: [
                "http://www.kanzleikompa.de/2016/07/11/abmahnungen-fuer-fotos-von-denis-skley-durch-rechtsanwalt-lutz-schroeder-aus-kiel/"
            ],
            60: [
                "http://www.rjheuropaunsinn.eu/blog-e7339-quot-Manipulation-quot.html",
                "https://www.unzensuriert.at/content/0021115-Umfragen-geben-Stimmung-wieder-Die-Haelfte-der-Oesterreicher-glaubt-Wahl",
            ],
            64: ["http://www.internetrecht-rostock.de/abmahnung-thomas-von-haugwitz.htm"],
            72: [
                "http://www.kanzleikompa.de/2018/04/05/die-creative-commons-rechnungen-des-fotografs-marco-verch-fuer-kostenlose-bildlizenzen/"
            ],
            74: ["http://www.kanzleikompa.de/2018/10/31/creative-commons-abzocke-negative-feststellungsklagen-"],
        },
        authors={1: "blah blubb", 14: "Moin", 56: "Markus Kompa", 74: "Anonymaus"},
        dates={14: "2016-06-24T03:24:54+02:00"},
        body_includes=["https://irights.info/artikel/vermehrte-abmahnungen-bei-creative-commons-fotos/27407"],
        never=["http://creativecommons.de", "http://beckedahl.org/", "http://www.kanzleikompa.de"],
    ),
    # internet-law.de: an old theme, li#comment-N without classes, author and
    # date in "<cite>Comment by <a class=url>Name</a> — 17.07, 2011 @ 13:24</cite>".
    # The name links (class="url": mirkolange.de, tutsi.de ...) are homepages.
    PageCase(
        "internet-law.de.pseudonymen.html",
        "http://www.internet-law.de/2011/07/verstost-der-ausschluss-von-pseudonymen-bei-google-gegen-deutsches-recht.html",
        comments=35,
        comment_links={
            4: [
                "http://www.google.com/accounts/b/0/TOS?hl=de&loc=DE",
                "http://www.google.com/support/accounts/bin/answer.py?answer=107107",
            ],
            17: ["http://www.google.de/accounts/TOS"],
            20: ["http://dejure.org/gesetze/TMG/13.html"],
            23: ["http://www.google.com/intl/de/+/policy/content.html"],
            25: ["http://dejure.org/gesetze/TMG/13.html"],
            28: ["http://dejure.org/gesetze/TMG/13.html"],
            29: ["http://dejure.org/gesetze/TMG/13.html"],
        },
        authors={4: "XSized", 17: "Tutsi", 20: "Tim", 23: "Philip"},
        dates={4: "2011-07-17T13:24", 35: "2011-07-18T17:16"},
        body_includes=[
            "http://dejure.org/gesetze/TMG/13.html",
            "http://www.afs-rechtsanwaelte.de/urteile/impressumspflicht_blogs.php",
        ],
        never=[
            "http://www.mirkolange.de",
            "http://www.tutsi.de/google-sperrt-tutsi-de-die-diktatur-des-realnamens-bei-google-plus/2011/07/17/tutsi-blog-aktuell/",
        ],
    ),
    # moritz-meyer.net: 20 comments (div.the-comment > .comment-text) and 16
    # pingbacks, numbered together in thread order (36 entries); a pingback's
    # link is the page citing the article. Comment 10 (RA Michael Seidlitz)
    # cites two court decisions, comment 14 (the author's reply to Pascal) an
    # EU directive. Pascal's name links to senfdazu.net: a homepage.
    PageCase(
        "moritz-meyer.net.vreni.html",
        "https://moritz-meyer.net/blog/vreni-frost-instagram-abmahnung/",
        comments=36,
        comment_links={
            10: [
                "http://www.gerichtsentscheidungen.berlin-brandenburg.de/jportal/portal/t/279b/bs/10/page/sammlung.psml?pid=Dokumentanzeige&showdoccase=1&js_peid=Trefferliste&documentnumber=1&numberofresults=1&fromdoctodoc=yes&doc.id=KORE256282017",
                "http://www.gerichtsentscheidungen.berlin-brandenburg.de/jportal/portal/t/279b/bs/10/page/sammlung.psml?pid=Dokumentanzeige&showdoccase=1&js_peid=Trefferliste&documentnumber=1&numberofresults=1&fromdoctodoc=yes&doc.id=KORE523912017",
            ],
            14: ["https://www.jurion.de/gesetze/eu/32006l0114/2/"],
            12: ["https://castlemaker.de/kennzeichnung-der-blogartikel/"],  # pingback
            15: ["https://chaoshoch2.com/2018/06/22/instagram-werbung-werbung-werbung/"],  # pingback
            20: ["https://www.eileens-good-vibes.de/werbung-weils-so-muss/"],  # pingback
            21: ["https://www.basicthinking.de/blog/2018/06/27/vreni-frost-urteil-folgen/"],  # pingback
            22: ["https://greenshadesofred.de/2018/06/27/naturkosmetik-neuheiten-linkliebe-im-mai-juni-2018/"],  # pingback
            24: ["https://blog.austria-insiderinfo.com/treibgut/kennzeichnung-werbung/"],  # pingback
            25: ["https://crafting-cafe.de/crafting-linktipps-juni-2018/"],  # pingback
            26: ["https://seitenglueck.wordpress.com/2018/07/01/blog-glueck-juni-2018/"],  # pingback
            27: ["https://frl-immergruen.de/monatsrueckblick-juni-2018/"],  # pingback
            28: ["http://www.projecter.de/blog/social-media/auslese-juni-2018.html"],  # pingback
            29: ["https://online-zeichenkurs.de/fotografieren-digitale-bildbearbeitung/werbung-in-sozialen-medien-facebook-instagram-twitter-19418.html"],  # pingback
            30: ["http://www.stellasternstunde.de/was-man-jetzt-uber-die-kennzeichnung-von-werbung-in-sozialen-netzwerken-wissen-sollte-was-muss-uberhaupt-gekennzeichnet-werden/"],  # pingback
            32: ["https://www.zeilenabstand.net/wie-influencer-vom-verband-sozialer-wettbewerb-abgemahnt-werden/"],  # pingback
            33: ["http://digital-evangelist.de/2018/07/25/ist-jetzt-alles-werbung/"],  # pingback
            35: ["https://1ppm.de/2018/08/freundeskreis/"],  # pingback
            36: ["http://www.stellasternstunde.de/social-media-wissen-fuer-blogger/was-man-jetzt-uber-die-kennzeichnung-von-werbung-in-sozialen-netzwerken-wissen-sollte-was-muss-uberhaupt-gekennzeichnet-werden/"],  # pingback
        },
        authors={10: "RA Michael Seidlitz", 13: "Pascal", 14: "MoritzMeyer"},
        dates={10: "2018-06-20T13:54"},
        body_includes=["https://www.neverever.me/werbung-verband-sozialer-wettbewerb/"],
        never=[
            "https://www.senfdazu.net/",
            "https://twitter.com/mr_mo56?ref_src=twsrc%5Etfw",
        ],
    ),
    # franziska-elea.de: 17 comments; blogger readers sign with their blog URL
    # in the comment text (comments 10, 15, 17). Comment 12 writes
    # "http://www.eileens-good-vibes..de", a malformed URL: a problem, not a link.
    # Name links (bookdreams4everyone, miras-world ...) are homepages.
    PageCase(
        "franziska-elea.de.vuitton.html",
        "http://www.franziska-elea.de/2019/02/10/das-louis-vuitton-missgeschick/",
        comments=17,
        comment_links={
            10: ["https://www.millilovesfashion.de"],
            15: ["http://www.celinesofficial.com"],
            17: ["https://gd-exclusive.de/"],
        },
        authors={1: "Jasmin", 2: "Franziska Elea", 10: "Milli", 17: "Katharina Scheel"},
        dates={1: "2019-02-10T18:05"},
        never=["http://www.bookdreams4everyone.home.blog", "https://miras-world.com/"],
        problems=["malformed URL 'http://www.eileens-good-vibes..de'"],
    ),
    # en.blog.wordpress.com: 13 comments (Jetpack "highlander" markup,
    # cite.comment-author + div.contenttext). Comment 2 is Andrea Middleton's
    # reply nested under comment 1 and cites meetup.com. Like buttons
    # (?like_comment=), the ?share= buttons and the commenters' blogs are noise.
    # Dates have no year on this page ("Jun 20th at 12:50 pm") and stay as found.
    PageCase(
        "blog.wordpress.com.diverse.html",
        "https://en.blog.wordpress.com/2019/06/19/want-to-see-a-more-diverse-wordpress-contributor-community-so-do-we/",
        comments=13,
        comment_links={2: ["https://www.meetup.com/pro/wordpress/"]},
        authors={1: "JanBeek", 2: "Andrea Middleton", 3: "JanBeek"},
        dates={2: "Jun 20th at 12:50 pm"},
        body_includes=["https://make.wordpress.org/training/handbook/lesson-plans/speaker-training/"],
        never=["http://janbeek.wordpress.com", "https://thethingwiththestuff.wordpress.com/"],
    ),
    # spreeblick.com: one comment, whose text links to an older fooligan.de
    # discussion. The commenter's name links to fehlpass.com; the reply button
    # is javascript:.
    PageCase(
        "spreeblick.com.habeck.html",
        "http://www.spreeblick.com/blog/2006/07/29/aus-aus-alles-vorbei-habeck-macht-die-stahnke/",
        comments=1,
        comment_links={1: ["http://fooligan.de/2006/07/23/christian-lell-und-janine-habeck/#comment-5161"]},
        authors={1: "Yalcin (Fehlpass.com)"},
        dates={1: "2006-07-29T16:43"},
        body_includes=["http://fooligan.de/2006/06/14/nimm-das-mc/"],
        never=["http://www.fehlpass.com"],
    ),
    # de.creativecommons.org: 3 comments and 2 pingbacks (entries 1 and 3). No
    # comment cites anything: the only links in comments are the commenters'
    # homepages (keniaurlaub24.jimdo.com, goldankauf-ge.de,
    # OptimalNachhilfe.de); the pingbacks' links are the pages citing the article.
    PageCase(
        "de.creativecommons.org.endlich.html",
        "https://de.creativecommons.org/index.php/2014/03/20/endlich-wird-es-spannend-die-nc-einschraenkung-nach-deutschem-recht/",
        comments=5,
        comment_links={
            1: ["http://www.rechtsanwaltwahlers.de/lg-koeln-zur-by-nc-creative-commons-lizenz/"],
            3: ["http://www.offenenetze.de/2014/04/04/it-lawcamp-2014-5-4-2014-frankfurt-am-main/"],
        },
        authors={2: "Michael Blahm", 4: "GoldKind", 5: "Robbinho"},
        dates={2: "2014-04-02T08:29:59+00:00"},
        body_includes=[
            "http://irights.info/webschau/creative-commons-landgericht-koeln-sieht-deutschlandradio-als-kommerziellen-nutzer/22162"
        ],
        never=[
            "https://keniaurlaub24.jimdo.com",
            "http://www.goldankauf-ge.de",
            "http://www.OptimalNachhilfe.de/",
        ],
    ),
    # lemire.me: 5 comments, two of them the author's replies (3 and 5); none
    # cites a page. degski's name links to http://example.com (a homepage).
    PageCase(
        "lemire.me.json.html",
        "https://lemire.me/blog/2019/08/02/json-parsing-simdjson-vs-json-for-modern-c/",
        comments=5,
        comment_links={},
        authors={1: "degski", 2: "degski", 3: "Daniel Lemire", 4: "wmu", 5: "Daniel Lemire"},
        dates={3: "2019-08-05T13:46:09+00:00"},
        body_includes=["https://github.com/lemire/simdjson", "https://github.com/nlohmann/json"],
        never=["http://example.com", "https://lemire.me/en/"],
    ),
    # lady50plus.de: 10 comments (5 readers, 5 replies by the author, whose
    # name carries an "Autor" badge after a <br>); no links in comments.
    PageCase(
        "lady50plus.de.sekre.html",
        "https://lady50plus.de/2019/06/19/sekre-mystery-bag/",
        comments=10,
        comment_links={},
        authors={1: "Beate", 2: "Martina Berg", 9: "Astrid S."},
        dates={1: "2019-06-19T06:16"},
        body_includes=["https://www.sekrebag.com"],
    ),
    # threatpost.com: one comment in custom markup (div.c-comment with
    # header/content/footer), no link; the author link is href="#".
    PageCase(
        "threatpost.com.android.html",
        "https://threatpost.com/android-ransomware-spreads-via-sex-simulation-game-links-on-reddit-sms/146774/",
        comments=1,
        comment_links={},
        authors={1: "Mm"},
        dates={1: "2019-08-02T05:38:48-04:00"},
        body_includes=["https://www.welivesecurity.com/2019/07/29/android-ransomware-back/"],
    ),
]


@pytest.fixture(scope="module")
def collected() -> dict[str, Collected]:
    return {case.file: collect_html((CORPUS / case.file).read_bytes(), case.base_url, case.file) for case in CASES}


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_comment_links_are_attributed_to_the_right_comment(case: PageCase, collected: dict[str, Collected]) -> None:
    result = collected[case.file]
    in_comments: dict[int, list[str]] = {}
    for link in result.links:
        if link.where == "comment":
            assert link.comment is not None
            in_comments.setdefault(link.comment, []).append(link.url)
    assert set(in_comments) == set(case.comment_links)
    for number, expected in case.comment_links.items():
        assert len(in_comments[number]) == len(expected)
        for url, prefix in zip(in_comments[number], expected, strict=True):
            assert url.startswith(prefix)


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_comment_count_authors_and_dates(case: PageCase) -> None:
    layout = find_comments(document_fromstring((CORPUS / case.file).read_bytes()))
    assert len(layout.comments) == case.comments
    assert [c.number for c in layout.comments] == list(range(1, case.comments + 1))
    for number, author in case.authors.items():
        assert layout.comments[number - 1].author == author
    for number, date in case.dates.items():
        assert layout.comments[number - 1].date == date


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_comment_links_carry_author_and_date(case: PageCase, collected: dict[str, Collected]) -> None:
    for link in collected[case.file].links:
        if link.where == "comment" and link.comment in case.authors:
            assert link.comment_author == case.authors[link.comment]
        if link.where == "body":
            assert link.comment is None and link.comment_author is None and link.comment_date is None


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_navigation_footer_share_and_homepage_links_are_not_reported(
    case: PageCase, collected: dict[str, Collected]
) -> None:
    result = collected[case.file]
    reported = [link.url for link in result.links]
    assert not [url for url in reported if NOISE.search(url)]
    for url in case.never:
        assert url not in reported
    own = case.base_url.rstrip("/")
    assert not [url for url in reported if url.split("#")[0].rstrip("/") == own]
    for url in case.body_includes:
        assert url in [link.url for link in result.links if link.where == "body"]


@pytest.mark.parametrize("case", CASES, ids=[c.file for c in CASES])
def test_problems_positions_and_contexts(case: PageCase, collected: dict[str, Collected]) -> None:
    result = collected[case.file]
    messages = [p.message for p in result.problems]
    assert len(messages) == len(case.problems)
    for expected in case.problems:
        assert any(expected in message for message in messages)
    positions = [link.position for link in result.links]
    assert positions == sorted(positions) and len(set(positions)) == len(positions)
    for link in result.links:
        assert link.context and link.context == " ".join(link.context.split())
        assert len(link.context) <= 320


def test_comment_context_is_the_sentence_of_the_link(collected: dict[str, Collected]) -> None:
    links = collected["internet-law.de.pseudonymen.html"].links
    by_comment = {(link.comment, link.url): link for link in links if link.where == "comment"}
    assert (
        by_comment[(25, "http://dejure.org/gesetze/TMG/13.html")].context
        == "@Timo: Der §13 Abs. 6 TMG existiert nicht ohne Grund."
    )
    # a URL alone in its paragraph is explained by the paragraph before it
    alone = by_comment[(23, "http://www.google.com/intl/de/+/policy/content.html")]
    assert alone.context.startswith("Laut google: Verwenden Sie den Namen")
    assert by_comment[(25, "http://dejure.org/gesetze/TMG/13.html")].anchor == "§13 Abs. 6 TMG"


def test_include_comments_false_drops_comment_links() -> None:
    case = CASES[0]
    result = collect_html((CORPUS / case.file).read_bytes(), case.base_url, case.file, include_comments=False)
    assert [link for link in result.links if link.where == "comment"] == []
    assert "http://www.ndr.de/nachrichten/Abmahnen-als-Geschaeftsmodell,abmahner100.html" not in [
        link.url for link in result.links
    ]


def test_collect_file_resolves_against_the_canonical_url(tmp_path: Path) -> None:
    page = tmp_path / "saved.html"
    page.write_bytes((CORPUS / "spreeblick.com.habeck.html").read_bytes())
    result = collect_file(page)
    assert result.source == str(page)
    assert [(link.comment, link.url) for link in result.links if link.where == "comment"] == [
        (1, "http://fooligan.de/2006/07/23/christian-lell-und-janine-habeck/#comment-5161")
    ]


# ------------------------------------------------------------ comment platforms


def test_disqus_markup_and_redirect_unwrapping() -> None:
    result = collect_html(
        (DATA / "disqus.html").read_bytes(), "https://gazette.example.com/2021/03/river-flood/", "disqus"
    )
    assert [
        (link.where, link.comment, link.comment_author, link.comment_date, link.url, link.anchor)
        for link in result.links
    ] == [
        ("body", None, None, None, "https://www.hydro.example.org/reports/2021-03", "regional hydrology office"),
        ("body", None, None, None, "https://survey.example.net/levee.pdf", "the levee survey"),
        # disq.us/url?url=...:hash wraps the cited URL
        (
            "comment",
            1,
            "River Watcher",
            "2021-03-16T09:12",
            "https://gauges.example.org/station/42",
            "gauges.example.org/station/42",
        ),
        # a reply is the next comment; a URL written as text is found too (no anchor)
        ("comment", 2, "Jane Roe", "2021-03-16T10:40", "https://archive.example.org/gauges/42?year=2019", None),
    ]
    assert result.problems == []


def test_discourse_topic_opening_post_is_the_body() -> None:
    result = collect_html(
        (DATA / "discourse.html").read_bytes(), "https://forum.example.org/t/backups-fail-after-upgrade/1234", "forum"
    )
    assert [(link.where, link.comment, link.comment_author, link.comment_date, link.url) for link in result.links] == [
        ("body", None, None, None, "https://docs.example.org/backup/restore"),
        ("comment", 1, "bob", "2022-05-02T09:30:00Z", "https://github.com/example/app/issues/987"),
        ("comment", 2, "alice", "2022-05-03T07:15:00Z", "https://builds.example.org/app/3.1.1/"),
        # the @bob mention, the log-in/sign-up links and "Powered by Discourse" are not citations
    ]


def test_base_href_charset_noise_and_malformed_links() -> None:
    # noise.html is windows-1252 (declared in <meta charset>), has <base href>,
    # a menu, tags, share buttons, a sidebar, a log-in link, feeds, a "powered
    # by" credit, a javascript: link and a malformed href.
    result = collect_html((DATA / "noise.html").read_bytes(), "https://blog.example.net/2020/bridges/", "noise")
    assert [(link.where, link.comment, link.url) for link in result.links] == [
        ("body", None, "https://blog.example.net/2020/reports/corrosion.html"),  # relative to <base href>
        (
            "body",
            None,
            "https://data.example.gov/bridges?utm_source=blog&id=7#table",
        ),  # as written; normalizing is the store's
        ("body", None, "https://en.wikipedia.org/wiki/Bridge_(structure)"),  # written as text
        ("comment", 1, "https://mirror.example.org/corrosion.pdf"),
    ]
    assert result.links[3].comment_author == "Straßenbauer"
    assert result.links[3].context == "The ministry report is also mirrored at mirror.example.org."
    (problem,) = result.problems
    assert problem.source == "noise" and "malformed URL 'http://exa mple.com['" in problem.message
    assert problem.position > result.links[2].position  # document order, after the wikipedia link


# ------------------------------------------------------------ robustness


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, "not an HTML page: looks like a PNG image"),
        (b'{"version": "https://jsonfeed.org/version/1", "items": []}', "not an HTML page: looks like JSON"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3", "not an HTML page: looks like a PDF document"),
        (b"\x1f\x8b\x08\x00" + b"\x00" * 20, "not an HTML page: looks like gzip-compressed data"),
        (
            b'<?xml version="1.0"?><rss version="2.0"><channel></channel></rss>',
            "not an HTML page: looks like an RSS/Atom feed",
        ),
        (b"", "empty page"),
        (b"  \n\t ", "empty page"),
    ],
)
def test_not_html_gives_a_problem_not_an_exception(data: bytes, message: str) -> None:
    result = collect_html(data, "https://x.example/", "src")
    assert result.links == []
    assert len(result.problems) == 1 and result.problems[0].message.startswith(message)
    assert result.problems[0].source == "src" and result.problems[0].position == 0


def test_latin1_bytes_without_charset_are_decoded_with_a_problem() -> None:
    page = (
        "<html><body><article><p>Gr\u00fc\u00dfe aus K\u00f6ln, siehe <a href='https://x.example/\u00e4'>"
        "die Quelle f\u00fcr alles</a> und lies weiter bis zum Ende.</p></article></body></html>"
    )
    result = collect_html(page.encode("latin-1"), "https://x.example/post", "src")
    assert [(link.url, link.anchor) for link in result.links] == [
        ("https://x.example/\u00e4", "die Quelle f\u00fcr alles")
    ]
    assert [p.message for p in result.problems] == ["not valid UTF-8 and no charset declared; decoded as windows-1252"]


def test_mislabelled_utf8_is_read_as_windows_1252_with_a_problem() -> None:
    page = "<meta charset='utf-8'><p>Caf\u00e9 <a href='https://x.example/a'>menu</a></p>".encode("cp1252")
    result = collect_html(page, "https://x.example/", "src")
    assert "Caf\u00e9" in result.links[0].context
    assert "not UTF-8" in result.problems[0].message


def test_plain_text_page_is_read_as_text() -> None:
    result = collect_html(b"Just a note: https://x.example/a.", "https://x.example/", "src")
    assert [link.url for link in result.links] == ["https://x.example/a"]
    assert result.problems[0].message == "no HTML markup found; read as plain text"


def test_20_mb_of_deeply_nested_markup_is_cut_short_quickly() -> None:
    nested = b"<div>" * 100_000 + b"deep <a href='https://deep.example/'>x</a>" + b"</div>" * 100_000
    page = b"<html><body><p>Intro <a href='https://top.example/'>top</a>.</p>" + nested * 19 + b"</body></html>"
    assert len(page) > 20_000_000
    started = time.monotonic()
    result = collect_html(page, "https://x.example/", "src")
    assert time.monotonic() - started < 5
    messages = " ".join(p.message for p in result.problems)
    assert "only the first 3,000,000 were read" in messages
    assert "markup nested deeper than 256 levels" in messages
    assert [link.url for link in result.links] == ["https://top.example/"]


def test_huge_flat_page_is_bounded() -> None:
    para = b"<p>Text about things, see <a href='https://a.example/x'>this</a> and more words here.</p>\n"
    page = b"<html><body><article>" + para * 70_000 + b"</article></body></html>"
    started = time.monotonic()
    result = collect_html(page, "https://x.example/", "src")
    assert time.monotonic() - started < 10  # generous for a loaded CI machine; unbounded, this took minutes
    messages = [p.message for p in result.problems]
    assert any("main text not extracted" in m for m in messages)
    assert f"page has {len(page):,} characters of markup; only the first 3,000,000 were read" in messages
    assert any(m.startswith("page has ") and m.endswith("links; only the first 10000 were read") for m in messages)
    assert len(result.links) == 10_000


_MARKUP = st.sampled_from(
    [
        "<a href='https://x.org/a'>",
        "<a href='/rel'>",
        "<a href='http://exa mple.com['>",
        "<a href='#top'>",
        "<a href='javascript:x()'>",
        "</a>",
        "<p>",
        "</p>",
        "<div class='comment'>",
        "<li id='comment-7'>",
        "</li>",
        "</div>",
        "<ol class='comment-list'>",
        "</ol>",
        "<base href='https://b.example/'>",
        "<blockquote class='twitter-tweet'>",
        "<script>",
        "</script>",
        "<br>",
        "text ",
        "https://bare.example/x ",
        "<div class='comment-author'>",
        "<cite class='fn'>",
        "</cite>",
        "<time datetime='2020-01-01'>",
        "\u00e9",
        "<!-- c -->",
        "<?pi x?>",
        "&amp;",
        "<",
        ">",
        "\x00",
    ]
)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.one_of(_MARKUP, st.text(max_size=4)), max_size=40).map("".join))
def test_collect_html_never_raises(markup: str) -> None:
    result = collect_html("<html><body>" + markup, "https://page.example/post/", "fuzz")
    positions = [link.position for link in result.links]
    assert positions == sorted(positions)
    for link in result.links:
        assert link.where in ("body", "comment") and (link.comment is None) == (link.where == "body")


def test_xhtml_with_xml_declaration_and_utf16() -> None:
    xhtml = (
        '<?xml version="1.0" encoding="iso-8859-1"?>\n<html xmlns="http://www.w3.org/1999/xhtml"><body>'
        "<p>K\u00f6ln: <a href='https://x.example/k'>Quelle</a>.</p></body></html>"
    )
    from_text = collect_html(xhtml, "https://x.example/", "src")
    from_bytes = collect_html(xhtml.encode("latin-1"), "https://x.example/", "src")
    assert [link.url for link in from_text.links] == [link.url for link in from_bytes.links] == ["https://x.example/k"]
    assert from_bytes.problems == [] and "K\u00f6ln" in from_bytes.links[0].context
    utf16 = "<html><body><p>Stra\u00dfe <a href='https://x.example/s'>hier</a></p></body></html>".encode("utf-16")
    assert [link.url for link in collect_html(utf16, "https://x.example/", "src").links] == ["https://x.example/s"]


@pytest.mark.parametrize(
    ("wrapped", "url"),
    [
        ("https://disq.us/url?url=https%3A%2F%2Fx.example%2Fa%3Fb%3D1%3AbX3kP9q&cuid=1", "https://x.example/a?b=1"),
        ("https://href.li/?https://make.wordpress.org/x/", "https://make.wordpress.org/x/"),
        ("https://www.google.com/url?q=https://x.example/&sa=D", "https://x.example/"),
        ("https://l.facebook.com/l.php?u=https%3A%2F%2Fx.example%2F&h=AT0", "https://x.example/"),
        ("https://www.google.com/search?q=https://x.example/", "https://www.google.com/search?q=https://x.example/"),
        ("https://href.li/?javascript:alert(1)", "https://href.li/?javascript:alert(1)"),
    ],
)
def test_unwrap_redirect(wrapped: str, url: str) -> None:
    assert unwrap_redirect(wrapped) == url


@pytest.mark.parametrize(
    ("url", "reason"),
    [
        ("https://blog.example.com/2020/post/?replytocom=3", "same page"),
        ("http://www.blog.example.com/2020/post", "same page"),
        ("https://blog.example.com/?p=7", None),  # on the root path the query names another article
        ("https://blog.example.com/?share=twitter", "same page"),
        ("https://blog.example.com/tag/python/", "site archive"),
        ("https://blog.example.com/2019/12/", "site archive"),
        ("https://blog.example.com/page/3/", "site archive"),
        ("https://blog.example.com/?s=query", "site archive"),
        ("https://other.example.org/tag/python/", None),  # another site's tag page may be cited
        ("https://twitter.com/intent/tweet?text=x", "share button"),
        ("https://www.facebook.com/sharer/sharer.php?u=x", "share button"),
        ("https://wordpress.com/log-in?redirect_to=x", "login"),
        ("https://blog.example.com/wp-login.php?action=register", "login"),
        ("https://blog.example.com/comments/feed/", "feed"),
        ("https://feeds.feedburner.com/example", "feed"),
        ("mailto:someone@example.com", "scheme"),
        ("https://en.wikipedia.org/wiki/Foo", None),
    ],
)
def test_noise_reason(url: str, reason: str | None) -> None:
    page = Page.from_urls(["https://blog.example.com/2020/post/", "https://blog.example.com/"])
    assert noise_reason(normalize_url(url), page) == reason


def test_powered_by_credit_is_noise() -> None:
    page = Page.from_urls(["https://blog.example.com/post/"])
    assert noise_reason("https://wordpress.org/", page, "Proudly powered by WordPress") == "credit"
    assert noise_reason("https://wordpress.org/", page, "the WordPress project") is None


def test_feed_entry_content_fragment() -> None:
    # a feed entry's content_html, used when the article page cannot be fetched
    fragment = '<p>See <a href="https://cited.example.org/">this</a> and <a href="/more">that</a>.</p>'
    result = collect_html(fragment, "https://blog.example.com/posts/one", "https://blog.example.com/posts/one")
    assert [(link.url, link.anchor, link.context) for link in result.links] == [
        ("https://cited.example.org/", "this", "See this and that."),
        ("https://blog.example.com/more", "that", "See this and that."),
    ]
