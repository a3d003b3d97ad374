"""Walls, removal notices and lost domains in front of a cited page (SPEC §5). Pure: values in, values out.

Each function answers one question about a live page that no longer carries
the cited text:

- :func:`wall`: is it a paywall, a cookie-consent wall or a login wall
  (``blocked`` with reason ``paywall`` / ``consent`` / ``login``)? A wall says
  the site refuses *us* the text: never evidence of rot, never ``changed``.
- :func:`removal_notice`: does its main text say the page was removed ("this
  article has been removed", "nicht mehr verfügbar", ...)? A failure, reason
  ``removed``.
- :func:`looks_hijacked`: is the page every path of the host answers an
  unrelated (spam) site? A failure, reason ``hijacked``.
- :func:`reject_all_url`: where a consent wall offers a plain "reject all"
  link or GET form, the URL a browser user would follow to pass it.

``check`` asks them only after the page lost the cited text, and only when the
cited copy did not read the same way (a page cited behind its wall stays as it was).
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import urlencode, urljoin, urlsplit

from .judge import visible_words

# ---------------------------------------------------------------- paywalls

# schema.org markup publishers add for search engines (JSON-LD or microdata).
_NOT_FREE = re.compile(
    r"[\"']isAccessibleForFree[\"']\s*:\s*(false\b|[\"']false[\"'])"
    r"|itemprop=[\"']?isAccessibleForFree[\"']?\s+content=[\"']?false"
    r"|content=[\"']?false[\"']?\s+itemprop=[\"']?isAccessibleForFree",
    re.IGNORECASE,
)
_SUBSCRIBE = re.compile(
    r"subscribe (now )?to (continue|keep) reading|(continue|keep) reading with (a|an|your) (subscription|account)"
    r"|to (read|continue reading) (the full|this|the rest of this) (article|story)"
    r"|(this|the) (article|story|content) is (only )?(available )?(exclusively )?(for|to) (subscribers|members)"
    r"|already (a )?subscriber\?|subscribers only|become a (subscriber|member) to read|unlock this article"
    r"|jetzt (weiter)?lesen mit|weiterlesen mit .{0,40}(abo|plus)|dieser (artikel|beitrag|inhalt) ist .{0,40}"
    r"(abonnenten|abonnements|plus-|premium)|jetzt abonnieren|schon abonnent\?|mit abo weiterlesen"
    r"|article réservé aux abonnés|réservé aux abonnés|abonnez-vous pour lire|déjà abonné"
    r"|(artículo|contenido) (exclusivo )?para suscriptores|suscríbete para (seguir leyendo|continuar)"
    r"|(articolo|contenuto) riservato agli abbonati|abbonati per (continuare|leggere)"
    r"|(dit artikel|deze content) is (alleen )?voor abonnees|lees verder met",
    re.IGNORECASE,
)
_PAYWALL_CLASS = re.compile(r"(class|id)=[\"'][^\"']*\b(paywall|pay-wall|piano-|tp-modal|regwall|meter-?wall)",
                            re.IGNORECASE)

# ---------------------------------------------------------------- consent walls

_CONSENT_HOST = re.compile(
    r"^(consent\.(google|youtube)\.[a-z.]+|guce\.(yahoo|oath|aol)\.com|consent\.yahoo\.com"
    r"|consent\.[a-z0-9.-]+|[a-z0-9.-]*cmp\.[a-z0-9.-]+|myprivacy\.[a-z0-9.-]+|privacy-?gate\.[a-z0-9.-]+)$"
)
_CONSENT_PATH = re.compile(r"/(consent|cookie-?consent|cookiewall|cookie-wall|privacy-?gate|gdpr-?consent)(/|$|\?)",
                           re.IGNORECASE)
_CONSENT_STRONG = re.compile(
    r"before you continue to|we value your privacy|we and our (\d+ )?partners (store|use|process)"
    r"|(consent|agree) to (the use of|our use of) cookies|cookie ?wall|manage (your )?(cookie )?(choices|preferences)"
    r"|wir (und unsere partner )?(verwenden|nutzen) cookies|ihre einwilligung|zustimmung zu cookies"
    r"|nous (et nos partenaires )?(utilisons|stockons)|vos choix en matière de cookies"
    r"|utilizamos cookies|su consentimiento|utilizziamo (i )?cookie|il tuo consenso"
    r"|wij gebruiken cookies|uw toestemming",
    re.IGNORECASE,
)
_CONSENT_BUTTON = re.compile(
    r"accept all|reject all|agree and (continue|proceed)|alle (akzeptieren|ablehnen)|akzeptieren und weiter"
    r"|tout accepter|tout refuser|accepter et (continuer|fermer)|aceptar todo|rechazar todo|accetta tutto"
    r"|rifiuta tutto|alles accepteren|alles weigeren|zaakceptuj wszystko|odrzuć wszystko",
    re.IGNORECASE,
)
_REJECT = re.compile(r"reject all|alle ablehnen|tout refuser|rechazar todo|rifiuta tutto|alles weigeren"
                     r"|odrzuć wszystko|decline all|nur notwendige|only necessary", re.IGNORECASE)

# ---------------------------------------------------------------- login walls

_LOGIN_PATH = re.compile(
    r"/(login|log-in|signin|sign-in|sign_in|anmelden|connexion|accounts?/login|users?/(login|sign_in)"
    r"|auth/login|sso|oauth2?/authorize|session/new)(/|$|\.|\?)",
    re.IGNORECASE,
)
_LOGIN_TEXT = re.compile(
    r"(log ?in|sign ?in) to (continue|view|read|see)|you (must|need to) (be )?(log(ged)? ?in|sign(ed)? ?in)"
    r"|please (log ?in|sign ?in)|bitte (melden sie sich an|anmelden|einloggen)|zum (weiterlesen|ansehen) anmelden"
    r"|connectez-vous pour|inicia sesión para|accedi per (continuare|leggere)|log in om verder",
    re.IGNORECASE,
)
_PASSWORD = re.compile(r"<input\b[^>]*type=[\"']?password", re.IGNORECASE)

# A wall is a short page: a long one that mentions cookies or subscriptions is an article.
WALL_MAX_WORDS = 400


def is_consent_url(url: str) -> bool:
    """A consent manager's host or path (``consent.google.com``, ``/cookie-consent``)."""
    parts = urlsplit(url)
    return bool(_CONSENT_HOST.match((parts.hostname or "").lower()) or _CONSENT_PATH.search(parts.path))


def wall(html: str, text: str, *, final_url: str, hop_urls: tuple[str, ...] = (), cited_text: str = "",
         status: int = 200) -> tuple[str, str] | None:
    """``(reason, detail)`` when the live page is a paywall, consent or login wall, else None.

    ``text`` is the live main text, ``cited_text`` the cited copy's: a page whose
    cited copy already read as the same wall is not walled *now*.
    """
    cited_words = len(cited_text.split())
    words = visible_words(html[:300_000])
    short = len(words) < WALL_MAX_WORDS or len(text.split()) < max(120, cited_words // 3)
    if status == 402:
        return "paywall", "HTTP 402 Payment Required"
    for url in (*hop_urls, final_url):
        if is_consent_url(url):
            return "consent", f"redirected to the consent page {url}"
    if urlsplit(final_url).path and _LOGIN_PATH.search(urlsplit(final_url).path) and hop_urls:
        return "login", f"redirected to the login page {final_url}"
    visible = " ".join(words)
    if short and _NOT_FREE.search(html) and not _SUBSCRIBE.search(cited_text):
        return "paywall", "the page is marked isAccessibleForFree: false and shows a teaser"
    if short and (_SUBSCRIBE.search(visible) or (_PAYWALL_CLASS.search(html) and _SUBSCRIBE.search(html))) \
            and not _SUBSCRIBE.search(cited_text):
        return "paywall", "a teaser with a subscription offer"
    if short and _CONSENT_STRONG.search(visible) and _CONSENT_BUTTON.search(visible) \
            and not _CONSENT_STRONG.search(cited_text):
        return "consent", "a cookie-consent interstitial"
    if short and _LOGIN_TEXT.search(visible) and _PASSWORD.search(html) \
            and not _LOGIN_TEXT.search(cited_text):
        return "login", "a login wall"
    return None


_FORM = re.compile(r"<form\b([^>]*)>(.*?)</form\s*>", re.IGNORECASE | re.DOTALL)
_ANCHOR = re.compile(r"<a\b[^>]*href=[\"']([^\"']+)[\"'][^>]*>(.*?)</a\s*>", re.IGNORECASE | re.DOTALL)
_INPUT = re.compile(r"<input\b[^>]*>", re.IGNORECASE)
_ATTR = re.compile(r"([a-zA-Z_:-]+)\s*=\s*[\"']([^\"']*)[\"']")


# The page behind a passed consent wall is the cited page when its text matches this well.
PASSED_MATCH = 0.8


def reject_all_url(html: str, base_url: str) -> str | None:
    """The URL behind a consent wall's "reject all" link or GET form, if it has one.

    Only what a browser user does by one click without scripts: following a
    link or submitting a GET form. POST forms and script buttons are left alone.
    """
    for match in _ANCHOR.finditer(html):
        label = unescape(re.sub(r"<[^>]+>", " ", match[2]))
        if _REJECT.search(label):
            return urljoin(base_url, unescape(match[1]))
    for match in _FORM.finditer(html):
        attrs = {k.lower(): unescape(v) for k, v in _ATTR.findall(match[1])}
        if attrs.get("method", "get").lower() != "get" or not _REJECT.search(unescape(match[2])):
            continue
        fields = []
        for tag in _INPUT.findall(match[2]):
            values = {k.lower(): unescape(v) for k, v in _ATTR.findall(tag)}
            if values.get("name") and values.get("type", "text").lower() in ("hidden", "text", "submit"):
                if values.get("type", "").lower() == "submit" and not _REJECT.search(values.get("value", "")):
                    continue
                fields.append((values["name"], values.get("value", "")))
        action = urljoin(base_url, attrs.get("action") or base_url)
        joiner = "&" if "?" in action else "?"
        return action + (joiner + urlencode(fields) if fields else "")
    return None


# ---------------------------------------------------------------- removal notices

_REMOVED = re.compile(
    # English
    r"(this|the) (article|page|post|story|content|video|item|entry|blog post) (has been|was|is) "
    r"(removed|deleted|taken down|withdrawn|unpublished|retracted)"
    r"|(is|are) no longer available|has been (removed|taken down|unpublished) (by|at|due|because|for)"
    # German
    r"|(dieser|der) (artikel|beitrag|inhalt|text) (wurde|ist) (leider )?(entfernt|gelöscht|depubliziert|zurückgezogen)"
    r"|(diese|die) (seite|meldung|nachricht|story) (wurde|ist) (leider )?(entfernt|gelöscht|depubliziert)"
    r"|(ist|sind) (leider )?nicht mehr verfügbar|nicht länger verfügbar|wurde depubliziert"
    # French
    r"|(cet|l') ?(article|contenu) (a été|est) (supprimé|retiré|dépublié)|(cette|la) page (a été) (supprimée|retirée)"
    r"|n'est plus disponible|n’est plus disponible"
    # Spanish / Portuguese
    r"|(este|el) (artículo|contenido) (ha sido|fue) (eliminado|retirado|borrado)|ya no está disponible"
    r"|(este|o) (artigo|conteúdo) (foi) (removido|retirado|apagado)|(já )?não está mais disponível|já não está disponível"
    # Italian
    r"|(questo|l') ?(articolo|contenuto) (è stato) (rimosso|eliminato|cancellato)|non è più disponibile"
    # Dutch
    r"|(dit|het) (artikel|bericht) is (verwijderd|offline gehaald)|(is )?niet (meer|langer) beschikbaar"
    # Polish, Swedish, Danish, Czech
    r"|(ten )?(artykuł|wpis) (został) usunięty|nie jest już dostępn|(artikeln|sidan) har tagits bort"
    r"|är inte längre tillgänglig|er ikke længere tilgængelig|er blevet fjernet|(článek|stránka) byl[a]? odstraněn"
    r"|již není k dispozici",
    re.IGNORECASE,
)
# Plain "not found" language makes it an error page (soft-404), judged elsewhere.
_NOT_FOUND = re.compile(r"not found|\b404\b|nicht gefunden|introuvable|no encontrad|non trovat|niet gevonden"
                        r"|could not be found|can(no|')t be found|does ?n[o']t exist", re.IGNORECASE)
REMOVAL_MAX_WORDS = 250


OPENING_CHARS = 2000  # of the title, heading and opening words searched for a notice


def removal_notice(title: str | None, text: str, heading: str | None = None, cited_text: str = "") -> bool:
    """The page's main text is a removal notice in place of the cited content.

    The notice must be in the title, the first heading or the opening of a short
    main text, must not be plain "not found" language (a soft-404), and must not
    have been in the cited copy already.
    """
    words = text.split()
    if len(words) > REMOVAL_MAX_WORDS:
        return False
    opening = " ".join(words[:80])[:OPENING_CHARS]  # one 2-million-character "word" must not cost seconds
    labels = " | ".join(v[:OPENING_CHARS] for v in (title, heading) if v)
    where = f"{labels} | {opening}"
    if not _REMOVED.search(where) or _NOT_FOUND.search(where):
        return False
    return not _REMOVED.search(" ".join(cited_text.split()[:400])[: OPENING_CHARS * 10])


# ---------------------------------------------------------------- lost domains

_SPAM = re.compile(
    r"\b(casino|casinos|slots?|poker|roulette|blackjack|jackpot|sportsbook|betting|gambling|judi|togel|slot gacor"
    r"|viagra|cialis|pharmacy|payday|loans?|escort|porn|xxx|adult dating|hookup|forex|crypto ?currency|bitcoin"
    r"|replica watches|essay writing|bonus codes?|free spins)\b",
    re.IGNORECASE,
)


def _brand(title: str | None) -> set[str]:
    """Words of a title's site-name part ("Story title | Site Name" -> {"site", "name"})."""
    if not title:
        return set()
    parts = re.split(r"\s+[|–—-]\s+|\s+[«»·:]\s+", title)
    tail = parts[-1] if len(parts) > 1 else title
    return {w for w in re.findall(r"\w{3,}", tail.lower())}


def looks_hijacked(cited_title: str | None, cited_text: str, live_title: str | None, live_html: str) -> bool:
    """The page the host now answers on every path belongs to an unrelated (spam) site.

    ``check`` asks only when the host answers a random URL the same way, so the
    page is the same everywhere; it is hijacked when it shares nothing of the
    cited site's name and reads as spam (gambling, pills, loans, adult) that the
    cited copy did not mention.
    """
    words = " ".join(visible_words(live_html[:300_000]))
    terms = {m.lower() for m in _SPAM.findall(f"{live_title or ''} {words}")}
    if len(terms) < 2 or _SPAM.search(cited_text[:20_000]):
        return False
    brand = _brand(cited_title)
    return not (brand and brand <= set(re.findall(r"\w{3,}", f"{live_title or ''} {words}".lower())))
