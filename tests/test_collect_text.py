"""Citations in plain-text and Markdown sources (issue 3, text part)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archiver.collect import collect_file, collect_text
from archiver.errors import UsageError

SAMPLE = Path(__file__).resolve().parents[1] / "examples" / "article-with-comments.txt"


def urls(text: str, source: str = "a.txt") -> list[str]:
    return [link.url for link in collect_text(text, source).links]


# ------------------------------------------------------------ acceptance sample


def test_sample_article_finds_exactly_the_three_comment_citations() -> None:
    result = collect_text(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE))
    assert result.problems == []
    assert result.title == "Macron-Putin Meeting Produces Potential Deal as Biden Continues Threats"
    found = [(link.url, link.where, link.comment) for link in result.links]
    assert found == [
        ("https://tass.com/defense/1399581", "comment", 1),
        (
            "https://www.reuters.com/world/europe/kremlin-denies-putin-told-macron-there-will-be-no-new-"
            "manoeuvres-near-ukraine-2022-02-08/",
            "comment",
            4,
        ),
        (
            "https://www.thedrive.com/the-war-zone/44184/three-nato-carrier-groups-are-exercising-together-"
            "in-the-mediterranean",
            "comment",
            5,
        ),
    ]


def test_sample_contexts_are_the_title_lines_pasted_above_the_urls() -> None:
    links = collect_text(SAMPLE.read_text(encoding="utf-8"), str(SAMPLE)).links
    assert [link.context for link in links] == [
        "Russian Navy\u2019s amphibious assault ships transiting Black Sea straits for massive drills",
        "Kremlin denies Putin told Macron there will be no new manoeuvres near Ukraine",
        "Three NATO Carrier Groups Are Exercising Together In The Mediterranean",
    ]
    assert all(link.anchor is None for link in links)  # bare URLs have no anchor text
    text = SAMPLE.read_text(encoding="utf-8")
    assert all(text[link.position : link.position + len(link.url)] == link.url for link in links)


# ------------------------------------------------------------ URL delimiting


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("(see https://x.org/a).", "https://x.org/a"),
        ("Look: <https://x.org> now", "https://x.org"),
        ("It is at https://x.org/a, or so.", "https://x.org/a"),
        ("Really? https://x.org/a?b=1!", "https://x.org/a?b=1"),
        ("'https://x.org/a'", "https://x.org/a"),
        ("\u201chttps://x.org/a\u201d", "https://x.org/a"),
        ("\u00abhttps://x.org/a\u00bb", "https://x.org/a"),
        ("**https://x.org/bold**", "https://x.org/bold"),
        (
            "See https://en.wikipedia.org/wiki/Python_(programming_language).",
            "https://en.wikipedia.org/wiki/Python_(programming_language)",
        ),
        ("(https://en.wikipedia.org/wiki/Foo_(bar))", "https://en.wikipedia.org/wiki/Foo_(bar)"),
        ("[https://x.org/in-brackets]", "https://x.org/in-brackets"),
        ("ends with ellipsis https://x.org/a\u2026", "https://x.org/a"),
        ("HTTPS://X.ORG/Upper", "HTTPS://X.ORG/Upper"),
        ("ftp://files.example.org/pub/x.tgz;", "ftp://files.example.org/pub/x.tgz"),
        (
            "https://de.wikipedia.org/wiki/RedTube-Abmahnaff\u00e4re.",
            "https://de.wikipedia.org/wiki/RedTube-Abmahnaff\u00e4re",
        ),
    ],
)
def test_trailing_punctuation_and_brackets_as_people_write_them(text: str, expected: str) -> None:
    assert urls(text) == [expected]


def test_text_without_scheme_or_other_schemes_gives_nothing() -> None:
    assert urls("www.example.com and mailto:a@b.org and javascript:alert(1) and foo@bar.org") == []


# ------------------------------------------------------------ Markdown


def test_markdown_links_keep_their_anchor_text() -> None:
    text = (
        '# Title\n\nRead [the report](https://x.org/report "Report") and '
        "[spaced](<https://x.org/a b>) and [![Logo](https://img.x.org/l.png)](https://x.org/home).\n"
    )
    links = collect_text(text, "post.md").links
    assert [(link.url, link.anchor) for link in links] == [
        ("https://x.org/report", "the report"),
        ("https://x.org/a b", "spaced"),
        ("https://x.org/home", "Logo"),
    ]
    assert links[0].context == "Read the report and spaced and Logo."


def test_markdown_images_are_not_citations() -> None:
    assert urls("![diagram](https://img.example.org/d.png)\n", "a.md") == []


def test_markdown_reference_links_use_the_text_of_their_use() -> None:
    text = 'See [the paper][p1] for details.\n\n[p1]: https://doi.example.org/10.1/xyz "Paper"\n'
    links = collect_text(text, "a.md").links
    assert [(link.url, link.anchor) for link in links] == [("https://doi.example.org/10.1/xyz", "the paper")]


def test_markdown_code_is_skipped_but_not_in_plain_text() -> None:
    text = "Cited: https://x.org/real\n\n```\ncurl https://x.org/in-code\n```\n\nAnd `https://x.org/inline` too.\n"
    assert urls(text, "a.md") == ["https://x.org/real"]
    assert urls(text, "a.txt") == ["https://x.org/real", "https://x.org/in-code", "https://x.org/inline"]


def test_html_anchor_inside_markdown() -> None:
    links = collect_text('Some <a href="https://x.org/h">inline html</a> here.', "a.md").links
    assert [(link.url, link.anchor) for link in links] == [("https://x.org/h", "inline html")]


# ------------------------------------------------------------ comment sections

WORDPRESS_COPY = """My article
==========

The body cites https://body.example.org/source.

3 Comments

Jane Doe says:
May 2, 2022 at 3:12 pm
I disagree, see https://jane.example.org/post.

Reply

Max says:
May 3, 2022 at 9:00 am
No link here.

Anna says:
4. Mai 2022 um 10:30 Uhr
Quelle: https://anna.example.org/quelle

Leave a Reply

Footer: https://footer.example.org/
"""


def test_comments_opened_by_author_lines_with_dates() -> None:
    links = collect_text(WORDPRESS_COPY, "copy.txt").links
    assert [(link.url, link.where, link.comment, link.comment_author, link.comment_date) for link in links] == [
        ("https://body.example.org/source", "body", None, None, None),
        ("https://jane.example.org/post", "comment", 1, "Jane Doe", "2022-05-02T15:12"),
        ("https://anna.example.org/quelle", "comment", 3, "Anna", "2022-05-04T10:30"),
        ("https://footer.example.org/", "body", None, None, None),  # after "Leave a Reply"
    ]


def test_comments_separated_by_rules() -> None:
    text = "Body.\n\nComments\n\nfirst one https://a.example.org/1\n\n---\n\nsecond\n\n---\n\nthird https://a.example.org/3\n"
    links = collect_text(text, "a.txt").links
    assert [(link.url, link.comment) for link in links] == [
        ("https://a.example.org/1", 1),
        ("https://a.example.org/3", 3),
    ]


def test_numbered_comments_must_follow_the_sequence() -> None:
    text = (
        "Body.\n\n2 Responses to \u201cX\u201d\n\n"
        "  1. First, with a list:\n\n  3. not a comment https://a.example.org/in-1\n\n"
        "  2. Second https://a.example.org/in-2\n"
    )
    links = collect_text(text, "a.txt").links
    assert [(link.url, link.comment) for link in links] == [
        ("https://a.example.org/in-1", 1),
        ("https://a.example.org/in-2", 2),
    ]


def test_unstructured_comment_section() -> None:
    one = "Body https://b.example.org/.\n\nOne thought on \u201cX\u201d\n\nGreat, see https://c.example.org/x\n"
    assert [(link.where, link.comment) for link in collect_text(one, "a.txt").links] == [("body", None), ("comment", 1)]
    many = "Body.\n\n## Kommentare\n\nGut https://c.example.org/x\n\nJa https://c.example.org/y\n"
    assert [(link.where, link.comment) for link in collect_text(many, "a.md").links] == [("comment", None)] * 2


def test_numbered_list_without_a_heading_is_body() -> None:
    text = "Sources:\n\n  1. https://a.example.org/1\n  2. https://a.example.org/2\n"
    assert {link.where for link in collect_text(text, "a.txt").links} == {"body"}


def test_a_sentence_mentioning_comments_is_not_a_heading() -> None:
    text = "Intro.\n\nTwo comments on the matter.\n\nSee https://a.example.org/x\n"
    assert [link.where for link in collect_text(text, "a.txt").links] == ["body"]


# ------------------------------------------------------------ context and problems


def test_context_is_the_sentence_around_the_link() -> None:
    text = "First sentence here. The study (e.g. https://x.org/study) shows a drop of 8. Mai levels. Last one."
    (link,) = collect_text(text, "a.txt").links
    assert link.context == "The study (e.g. https://x.org/study) shows a drop of 8. Mai levels."


def test_bare_sentence_takes_the_sentence_before() -> None:
    text = "Google changed its terms last week.   Source: https://x.org/tos\n"
    (link,) = collect_text(text, "a.txt").links
    assert link.context == "Google changed its terms last week. Source: https://x.org/tos"


def test_long_sentence_is_cut_around_the_link() -> None:
    text = ("word " * 120) + "https://x.org/deep " + ("more " * 120) + "."
    (link,) = collect_text(text, "a.txt").links
    assert "https://x.org/deep" in link.context
    assert link.context.startswith("\u2026 ") and link.context.endswith(" \u2026")
    assert len(link.context) < 260


def test_a_bare_list_of_urls_has_no_context_but_a_heading_counts() -> None:
    """Neighbouring URLs are not context: a list of 300 bare URLs gives none (quickly);
    a list under a heading gives the heading."""
    listing = "".join(f"https://site{n % 7}.example/page/{n}.html\n" for n in range(300))
    links = collect_text(listing, "urls.txt").links
    assert len(links) == 300 and {link.context for link in links} == {""}
    headed = "Sources:\nhttps://a.example/1\nhttps://b.example/2\nhttps://c.example/3\n"
    assert [link.context.split()[0] for link in collect_text(headed, "a.txt").links] == ["Sources:"] * 3


def test_malformed_urls_are_problems_with_position_never_exceptions() -> None:
    text = "ok https://good.example.org/ bad http://x.org:99999/a and http://www.eileens-good-vibes..de end"
    result = collect_text(text, "notes.txt")
    assert [link.url for link in result.links] == ["https://good.example.org/"]
    assert [(p.source, p.position) for p in result.problems] == [
        ("notes.txt", text.index("http://x.org:99999")),
        ("notes.txt", text.index("http://www.eileens")),
    ]
    assert "port 99999 out of range" in result.problems[0].message
    assert "empty label" in result.problems[1].message


def test_empty_text() -> None:
    result = collect_text("", "empty.txt")
    assert result.links == [] and result.problems == [] and result.title is None


# ------------------------------------------------------------ collect_file


def test_collect_file_reads_markdown_and_text(tmp_path: Path) -> None:
    md = tmp_path / "post.md"
    md.write_text("# Post\n\n[a](https://x.org/a)\n\n```\nhttps://x.org/code\n```\n", encoding="utf-8")
    result = collect_file(md)
    assert result.source == str(md) and result.title == "Post"
    assert [link.url for link in result.links] == ["https://x.org/a"]
    assert [link.url for link in collect_file(SAMPLE).links][0] == "https://tass.com/defense/1399581"
    assert collect_file(SAMPLE, include_comments=False).links == []


def test_collect_file_decodes_bom_and_windows_1252(tmp_path: Path) -> None:
    bom = tmp_path / "bom.txt"
    bom.write_bytes("\ufeffGr\u00fc\u00dfe https://x.org/\u00e4".encode("utf-8"))
    result = collect_file(bom)
    assert result.problems == [] and [link.url for link in result.links] == ["https://x.org/\u00e4"]
    legacy = tmp_path / "legacy.txt"
    legacy.write_bytes("Gr\u00fc\u00dfe \u201ehier\u201c https://x.org/a".encode("cp1252"))
    result = collect_file(legacy)
    assert [link.url for link in result.links] == ["https://x.org/a"]
    assert result.links[0].context.startswith("Gr\u00fc\u00dfe \u201ehier\u201c")
    assert [p.message for p in result.problems] == ["not valid UTF-8 and no charset declared; decoded as windows-1252"]


def test_collect_file_reports_binary_and_empty_text_files(tmp_path: Path) -> None:
    png = tmp_path / "image.txt"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    assert [p.message for p in collect_file(png).problems] == ["not a text file: looks like a PNG image"]
    empty = tmp_path / "empty.md"
    empty.write_bytes(b"")
    assert [p.message for p in collect_file(empty).problems] == ["empty file: nothing to collect"]


def test_collect_file_usage_errors(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no such file"):
        collect_file(tmp_path / "missing.txt")
    with pytest.raises(UsageError, match="cannot collect from '.pdf'"):
        collect_file(tmp_path / "paper.pdf")
    folder = tmp_path / "dir.md"
    folder.mkdir()
    with pytest.raises(UsageError, match="directory"):
        collect_file(folder)


# ------------------------------------------------------------ never crashes

_PIECES = st.sampled_from(
    [
        "https://x.org/a",
        "http://",
        "ftp://f.org/x",
        "(",
        ")",
        "[",
        "]",
        "<",
        ">",
        "\n",
        "\n\n",
        " ",
        ".",
        ",",
        "3 comments",
        "One thought on \u201cX\u201d",
        "  1. ",
        "  2. ",
        "Jane says:",
        "---",
        "Leave a Reply",
        "```",
        "`",
        "![",
        "](",
        "][",
        "]: ",
        "#",
        "%",
        "..",
        ":99999",
        "\u2026",
        "\u201c",
        "e.g.",
        "8. Mai 2020",
    ]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(_PIECES, st.text(max_size=5)), max_size=40).map("".join), st.sampled_from(["a.txt", "a.md"]))
def test_collect_text_never_raises_and_positions_point_at_the_url(text: str, source: str) -> None:
    result = collect_text(text, source)
    for link in result.links:
        assert text[link.position : link.position + len(link.url)] == link.url
        assert link.where in ("body", "comment")
        assert link.context == " ".join(link.context.split())
    for problem in result.problems:
        assert problem.source == source and 0 <= problem.position <= len(text)
