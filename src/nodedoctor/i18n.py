"""The language of the texts for people (issue 16): English, or Simplified Chinese.

The language is the first one the standard environment names, in gettext's order
(``LANGUAGE``, a colon-separated list, then ``LC_ALL``, ``LC_MESSAGES``, ``LANG``: the first
variable that is set and not empty), unless ``--lang`` names one (:func:`set_language`).
``C``, ``POSIX``, English and any language without a catalog give English, the language the
texts are written in: anything untranslated is shown in English, never blank.

The catalog is stdlib :mod:`gettext`'s, domain ``nodedoctor``, compiled from
``locale/<lang>/LC_MESSAGES/nodedoctor.po`` by ``scripts/msgfmt.py`` and shipped in the
package (the wheel, the zipapp). An English run never imports :mod:`gettext` nor reads a
catalog (start-up cost, tests/speed).

Messages are whole sentences with named placeholders (``{path}``), filled in after they are
translated: ``_("--root {path}: not a directory").format(path=path)``.

>>> set_language("en"); _("fix:")
'fix:'
>>> ngettext("{n} error", "{n} errors", 2).format(n=2)
'2 errors'
>>> negotiate({"LANG": "C", "LANGUAGE": "zh_CN.UTF-8:en"}), negotiate({"LANG": "POSIX"})
('zh_CN', 'en')
>>> negotiate({"LC_ALL": "zh_TW.UTF-8:de"}), negotiate({"LC_MESSAGES": "zh_CN.GB18030@x"})
('en', 'zh_CN')
>>> set_language(None)
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

DOMAIN = "nodedoctor"
ENGLISH = "en"
#: The languages ``--lang`` accepts; every one but English has a catalog.
LANGUAGES = (ENGLISH, "zh_CN")
#: Other names of a language with a catalog (locale names without territory or with another
#: territory writing the same script).
_ALIASES = {"zh": "zh_CN", "zh_SG": "zh_CN", "zh_Hans": "zh_CN", "zh_Hans_CN": "zh_CN"}
_ENVIRONMENT = ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG")

#: ``--lang``'s choice (key ``lang``); none: the environment's.
_chosen: dict[str, str] = {}
#: The loaded catalog, by language (loaded once, on first use).
_catalogs: dict[str, Any] = {}


def _normalize(name: str) -> str | None:
    """The language of a locale name (``zh_CN.UTF-8@mod`` -> ``zh_CN``): one with a
    catalog, English, or None (another language)."""
    base = name.split(".", 1)[0].split("@", 1)[0].replace("-", "_")
    if base in ("C", "POSIX") or base == ENGLISH or base.startswith("en_"):
        return ENGLISH
    if base in LANGUAGES:
        return base
    return _ALIASES.get(base)


def negotiate(environ: Mapping[str, str]) -> str:
    """The language the environment asks for: the first name in the first variable set that
    nodedoctor speaks; English when none is (as gettext, which stops at ``C``)."""
    for variable in _ENVIRONMENT:
        value = environ.get(variable)
        if value:
            for name in value.split(":"):
                found = _normalize(name) if name else None
                if found is not None:
                    return found
            return ENGLISH
    return ENGLISH


def parse_language(value: str) -> str:
    """``--lang``'s value as a language (``zh_CN.UTF-8`` and ``zh`` are ``zh_CN``); a
    ValueError for one nodedoctor does not speak."""
    found = _normalize(value)
    if found is None:
        raise ValueError(value)
    return found


def set_language(language: str | None) -> None:
    """Use ``language`` from now on (``--lang``); None: the environment's again."""
    if language is None:
        _chosen.pop("lang", None)
    else:
        _chosen["lang"] = language


def language() -> str:
    """The language texts for people are in (``en`` or ``zh_CN``)."""
    return _chosen.get("lang") or negotiate(os.environ)


def _catalog() -> Any:
    """The current language's translations, or None for English (or a missing catalog)."""
    lang = language()
    if lang == ENGLISH:
        return None
    if lang not in _catalogs:
        _catalogs[lang] = _load(lang)
    return _catalogs[lang]


def _load(lang: str) -> Any:
    import gettext  # only for a language other than English: start-up cost
    import io
    from importlib import resources

    path = resources.files("nodedoctor").joinpath(f"locale/{lang}/LC_MESSAGES/{DOMAIN}.mo")
    try:
        data = path.read_bytes()
        return gettext.GNUTranslations(io.BytesIO(data))
    except (OSError, ValueError):  # no catalog, or a broken one: English, never a crash
        return None


def _(message: str) -> str:
    """``message`` in the current language (itself when untranslated)."""
    catalog = _catalog()
    return message if catalog is None else str(catalog.gettext(message))


def ngettext(singular: str, plural: str, n: int) -> str:
    """The form of a message for ``n`` (English: ``singular`` for 1, else ``plural``)."""
    catalog = _catalog()
    if catalog is None:
        return singular if n == 1 else plural
    return str(catalog.ngettext(singular, plural, n))


def N_(message: str) -> str:  # noqa: N802 (gettext's name for the marker)
    """Marks ``message`` for the catalog where it is defined (a constant); it is translated
    where it is used, with :func:`_`."""
    return message


def listing(items: Iterable[str]) -> str:
    """Items named in a sentence: ``a, b`` in English, ``a、b`` (the enumeration comma) in
    Chinese.

    >>> set_language("en"); listing(["containerd", "kubelet"])
    'containerd, kubelet'
    >>> set_language("zh_CN"); listing(["containerd", "kubelet"]); set_language(None)
    'containerd、kubelet'
    """
    return ("、" if language() == "zh_CN" else ", ").join(items)
