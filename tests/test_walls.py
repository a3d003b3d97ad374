"""Walls, removal notices and lost domains in front of a cited page (SPEC §5, archiver.check.walls).

Each test cites a real article (the cited copy), puts a wall, a removal notice
or a hijacked site in front of it on a local server, and checks the verdict and
the state a user sees: walls are ``blocked`` (never ``changed`` or ``dead``, even
after many checks), removal notices and hijacked hosts go ``dead`` through
confirmation.
"""

from __future__ import annotations

import re

import pytest

from archiver.check import walls
from archiver.config import Config

from .test_check import ARTICLE, OTHER, check, html_route, snap, world  # noqa: F401  (world: a fixture)


def teaser(html: str, extra_head: str = "", extra_body: str = "") -> str:
    """The article's head and first paragraph only, with extras: what a paywall shows."""
    head = re.search(r"<head.*?</head>", html, re.S | re.I)
    first = re.search(r"<p\b.*?</p>", html, re.S | re.I)
    return (f"<!DOCTYPE html><html>{head[0] if head else ''}{extra_head}<body><article>"
            f"<h1>Python 3.6.0 is now available!</h1>{first[0] if first else ''}{extra_body}</article></body></html>")


JSON_LD_CLOSED = ('<script type="application/ld+json">{"@context": "https://schema.org", "@type": "NewsArticle",'
                  ' "isAccessibleForFree": false, "hasPart": {"@type": "WebPageElement", "isAccessibleForFree": '
                  '"False", "cssSelector": ".paywall"}}</script>')


def check_three_times(config: Config, url: str) -> list[dict]:
    return [check(config, url) for _ in range(3)]


def test_schema_org_paywall_is_blocked_never_changed_or_dead(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/2016/12/python-360.html")
    site.routes["/2016/12/python-360.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/2016/12/python-360.html"] = html_route(teaser(ARTICLE, JSON_LD_CLOSED, '<div class="paywall">'
                                                                 "<p>Subscribe to read more.</p></div>"))
    results = check_three_times(world, url)
    assert {(r["verdict"], r["reason"], r["state"]) for r in results} == {("blocked", "paywall", "blocked")}


def test_teaser_with_subscription_offer_in_german_is_a_paywall(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/politik/artikel-1.html")
    site.routes["/politik/artikel-1.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/politik/artikel-1.html"] = html_route(teaser(
        ARTICLE, extra_body="<div class='offer'><p>Jetzt weiterlesen mit SZ Plus. Schon Abonnent? Anmelden.</p></div>"))
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("blocked", "paywall", "blocked")


def test_http_402_is_a_paywall(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/premium/story.html")
    site.routes["/premium/story.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/premium/story.html"] = html_route("<p>Payment required</p>", status=402)
    assert check(world, url)["reason"] == "paywall"
    assert check(world, url)["state"] == "blocked"


CONSENT_PAGE = """<!DOCTYPE html><html lang="en"><head><title>Before you continue</title></head><body>
<div class="cmp"><h1>We value your privacy</h1><p>We and our partners store and/or access information on a device,
such as cookies, and process personal data. You may accept or manage your choices below.</p>
<button>Accept all</button> <button>Reject all</button> <a href="/privacy">Manage options</a></div></body></html>"""


def test_consent_interstitial_is_blocked_consent(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/world/story-2.html")
    site.routes["/world/story-2.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/world/story-2.html"] = html_route(CONSENT_PAGE)
    site.routes["*"] = html_route(CONSENT_PAGE)  # the wall stands in front of every path, the probe's too
    results = check_three_times(world, url)
    assert {(r["verdict"], r["reason"], r["state"]) for r in results} == {("blocked", "consent", "blocked")}


def test_redirect_to_a_consent_page_is_blocked_consent(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/tech/story-3.html")
    site.routes["/tech/story-3.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/tech/story-3.html"] = html_route("", status=302,
                                                   headers={"Location": "/cookie-consent?continue=/tech/story-3.html"})
    site.routes["/cookie-consent"] = html_route("<html><body><p>Cookies?</p><a href='/'>OK</a></body></html>")
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("blocked", "consent", "blocked")


def test_redirect_to_login_is_blocked_login(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/forum/thread/42")
    site.routes["/forum/thread/42"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/forum/thread/42"] = html_route("", status=302, headers={"Location": "/login?next=/forum/thread/42"})
    site.routes["/login"] = html_route("<html><head><title>Sign in</title></head><body><form method=post>"
                                       "<input name=user><input type=password name=pw></form></body></html>")
    results = check_three_times(world, url)
    assert {(r["verdict"], r["reason"], r["state"]) for r in results} == {("blocked", "login", "blocked")}


def test_login_wall_page_in_place_is_blocked_login(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/groups/post/7")
    site.routes["/groups/post/7"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/groups/post/7"] = html_route(
        "<html><head><title>Community</title></head><body><h1>You must be logged in to view this post</h1>"
        "<form method=post action=/session><input name=email><input type=password name=password>"
        "<button>Log in</button></form></body></html>")
    result = check(world, url)
    assert (result["verdict"], result["reason"]) == ("blocked", "login")


NOTICES = {
    "en": ("Article removed", "<h1>This article has been removed</h1><p>The article you are looking for was removed "
           "at the request of its author. Browse our latest stories instead.</p>"),
    "de": ("Beitrag entfernt", "<h1>Dieser Artikel wurde entfernt</h1><p>Der Inhalt ist leider nicht mehr "
           "verfügbar. Lesen Sie unsere aktuellen Meldungen.</p>"),
    "fr": ("Contenu retiré", "<h1>Cet article a été supprimé</h1><p>Ce contenu n'est plus disponible sur notre "
           "site.</p>"),
    "es": ("Contenido retirado", "<h1>Este artículo ha sido eliminado</h1><p>El contenido ya no está disponible."
           "</p>"),
    "it": ("Contenuto rimosso", "<h1>Questo articolo è stato rimosso</h1><p>Il contenuto non è più disponibile.</p>"),
    "nl": ("Artikel verwijderd", "<h1>Dit artikel is verwijderd</h1><p>Het bericht is niet meer beschikbaar.</p>"),
}


@pytest.mark.parametrize("language", sorted(NOTICES))
def test_removal_notice_is_removed_then_dead(world: Config, make_server, language: str) -> None:
    site = make_server()
    url = site.url(f"/{language}/news/story.html")
    site.routes[f"/{language}/news/story.html"] = html_route(ARTICLE)
    snap(world, url)
    title, body = NOTICES[language]
    site.routes[f"/{language}/news/story.html"] = html_route(
        f"<html lang={language}><head><title>{title}</title></head><body><nav><a href='/'>Home</a></nav>"
        f"<main>{body}</main></body></html>")
    results = check_three_times(world, url)
    assert [(r["verdict"], r["reason"]) for r in results] == [("failed", "removed")] * 3
    assert [r["state"] for r in results] == ["failing", "failing", "dead"]


def test_error_page_stays_a_soft_404_not_a_removal() -> None:
    # an error page that also says "no longer available" is plain not-found language
    assert not walls.removal_notice("Page not found | Example", "Sorry, the page you were looking for could not be "
                                    "found or is no longer available. Error 404.")
    assert walls.removal_notice("Example", "This video is no longer available because the uploader closed the account.")


SPAM = """<!DOCTYPE html><html lang="en"><head><title>Best Online Casino Bonus 2026 - Free Spins</title></head>
<body><h1>Top online casino sites</h1><p>Play slots, poker and roulette. Claim free spins and bonus codes today.
Fast payday loans and crypto currency betting available.</p><p>Sportsbook odds updated daily.</p></body></html>"""


def test_host_answering_every_path_with_a_spam_site_is_hijacked(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/2016/12/python-3-6-0-is-now-available.html")
    site.routes["/2016/12/python-3-6-0-is-now-available.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes.clear()
    site.routes["*"] = html_route(SPAM)
    results = check_three_times(world, url)
    assert [(r["verdict"], r["reason"]) for r in results] == [("failed", "hijacked")] * 3
    assert results[-1]["state"] == "dead"


def test_a_rewritten_article_is_still_changed(world: Config, make_server) -> None:
    site = make_server()
    url = site.url("/blog/rewritten.html")
    site.routes["/blog/rewritten.html"] = html_route(ARTICLE)
    snap(world, url)
    site.routes["/blog/rewritten.html"] = html_route(OTHER)
    result = check(world, url)
    assert (result["verdict"], result["state"]) == ("changed", "changed")


def test_reject_all_link_and_get_form_are_found() -> None:
    page = '<div><a href="/consent/save?choice=none">Reject all</a><a href="/consent/save?choice=all">Accept all</a>'
    assert walls.reject_all_url(page, "http://news.example/x") == "http://news.example/consent/save?choice=none"
    form = ('<form method="get" action="https://consent.example/save"><input type="hidden" name="continue" '
            'value="https://news.example/x"><button>Alle ablehnen</button></form>')
    assert walls.reject_all_url(form, "http://news.example/x") == \
        "https://consent.example/save?continue=https%3A%2F%2Fnews.example%2Fx"
    assert walls.reject_all_url('<form method="post"><button>Reject all</button></form>', "http://a.example/") is None


def test_wall_reasons_never_count_as_failures_and_removals_confirm_like_a_404() -> None:
    from datetime import UTC, datetime, timedelta

    from archiver.config import CheckConfig
    from archiver.models import Verdict
    from archiver.check.states import CONTENT_FAILURE_REASONS, WALL_REASONS, transition

    config = CheckConfig(confirm_checks=3, confirm_span=0.0)
    now = datetime(2026, 11, 30, tzinfo=UTC)
    for reason in WALL_REASONS:
        step = transition(verdict=Verdict.BLOCKED, reason=reason, failures=2, first_failure_at=now - timedelta(days=9),
                          now=now, config=config)
        assert (step.state.value, step.failures) == ("blocked", 2)
    assert {"removed", "hijacked"} <= CONTENT_FAILURE_REASONS
    states = []
    failures, first = 0, None
    for _ in range(3):
        step = transition(verdict=Verdict.FAILED, reason="removed", failures=failures, first_failure_at=first,
                          now=now, config=config)
        failures, first = step.failures, step.first_failure_at
        states.append(step.state.value)
    assert states == ["failing", "failing", "dead"]


def test_consent_wall_with_a_reject_all_link_is_passed_like_a_browser_user_would(world: Config, make_server) -> None:
    from .server import Route, respond

    site = make_server()
    url = site.url("/world/story-9.html")
    site.routes["/world/story-9.html"] = html_route(ARTICLE)
    snap(world, url)
    wall = CONSENT_PAGE.replace('<a href="/privacy">Manage options</a>',
                                '<a href="/consent/reject?return=/world/story-9.html">Reject all</a>')

    def article_behind_wall(req) -> None:  # noqa: ANN001
        passed = "consent=rejected" in (req.headers.get("Cookie") or "")
        respond(req, 200, (ARTICLE if passed else wall).encode(), content_type="text/html; charset=utf-8")

    def reject(req) -> None:  # noqa: ANN001
        respond(req, 302, b"", headers={"Set-Cookie": "consent=rejected; Path=/", "Location": "/world/story-9.html"})

    site.routes["/world/story-9.html"] = Route(handler=article_behind_wall)
    site.routes["/consent/reject"] = Route(handler=reject)
    result = check(world, url)
    assert (result["verdict"], result["reason"], result["state"]) == ("ok", "unchanged", "ok")
    # a wall whose reject-all choice leads nowhere useful stays a consent wall
    site.routes["/consent/reject"] = html_route("<p>Your choices were saved.</p>")
    assert check(world, url)["reason"] == "consent"
