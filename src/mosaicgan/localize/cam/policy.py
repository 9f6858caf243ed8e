"""Classes mosaicgan refuses to target: clothing worn on the body, and sexual content.

The project's scope rule: nothing in mosaicgan targets sexual content or removes clothing from
people. `add --cam` and `make-pairs --regions cam` find regions through a class, and
`train classifier` learns classes from folder names; a restoration data set built on clothing
regions would train exactly the "remove clothing" model the rule forbids. So every place that
takes a class name passes it through `check_allowed_class` first.

How a name is matched (`is_restricted`): it is normalised (case, underscores, hyphens,
spaces) and split into its comma-separated synonyms, as ImageNet labels are written
("brassiere, bra, bandeau"). It is refused when
- any synonym is one of the RESTRICTED_LABELS' synonyms or an EXTRA_PHRASES entry, or
- any word of any synonym is one of RESTRICTED_WORDS (so "bikini_present" or "red bra" are
  refused too). Words are whole words: "breastplate" and "boxer" (the dog) are not refused.
A full label on ALLOWED_LABELS is let through ("Cardigan, Cardigan Welsh corgi" is a dog; the
bare name "cardigan" is still refused). The lists err on the side of refusing: they cover every
ImageNet garment worn on the torso, hips or legs, all swimwear, underwear and sleepwear, not only
the most obvious classes.
Hats, shoes, masks and ties are not on it; they cover no body.
"""

from __future__ import annotations

import re

from mosaicgan.errors import UserError

# ImageNet-1k labels (as in the shipped classifier's label list) of garments worn on the body.
RESTRICTED_LABELS = (
    "abaya",
    "academic gown, academic robe, judge's robe",
    "apron",
    "bathing cap, swimming cap",
    "bikini, two-piece",
    "brassiere, bra, bandeau",
    "bulletproof vest",
    "cardigan",
    "cloak",
    "diaper, nappy, napkin",
    "feather boa, boa",
    "fur coat",
    "gown",
    "hoopskirt, crinoline",
    "jean, blue jean, denim",
    "jersey, T-shirt, tee shirt",
    "kimono",
    "lab coat, laboratory coat",
    "maillot",
    "maillot, tank suit",
    "military uniform",
    "miniskirt, mini",
    "overskirt",
    "pajama, pyjama, pj's, jammies",
    "poncho",
    "sarong",
    "stole",
    "suit, suit of clothes",
    "sweatshirt",
    "swimming trunks, bathing trunks",
    "trench coat",
    "vestment",
)

# Names of such things that are not ImageNet labels (a user's own class folders).
EXTRA_PHRASES = (
    "bathing suit",
    "boxer shorts",
    "clothes",
    "clothing",
    "dress",
    "garment",
    "nightgown",
    "nightie",
    "shirt",
    "shorts",
    "skirt",
    "swim suit",
    "tank top",
    "trousers",
    "pants",
)

# ImageNet labels that share a name with the list but are something else (a dog breed).
ALLOWED_LABELS = ("Cardigan, Cardigan Welsh corgi",)

# Words that refuse any name containing them (whole words, after normalisation).
RESTRICTED_WORDS = frozenset({
    "bikini", "bikinis", "bra", "bras", "brassiere", "brassieres", "bandeau", "lingerie",
    "underwear", "undergarment", "undergarments", "underpants", "panties", "panty", "knickers",
    "thong", "thongs", "briefs", "swimsuit", "swimsuits", "swimwear", "maillot", "miniskirt",
    "miniskirts", "nightgown", "nightwear", "pajama", "pajamas", "pyjama", "pyjamas", "corset",
    "nude", "nudes", "nudity", "naked", "topless", "bottomless", "nsfw", "porn", "pornography",
    "pornographic", "sexual", "sexy", "erotic", "explicit", "genital", "genitals", "breast",
    "breasts", "nipple", "nipples", "buttock", "buttocks", "crotch", "cleavage", "undress",
    "undressed", "unclothed",
})

REFUSAL = ("mosaicgan does not target clothing or sexual content "
           "(see 'Scope' in the README); {name!r} is on its refusal list")


def normalize_name(name: str) -> str:
    """Lower case; underscores, hyphens and runs of spaces become one space."""
    return " ".join(re.sub(r"[_\-]+", " ", name).lower().split())


def synonyms(name: str) -> list[str]:
    """A label and each of its comma-separated names, normalised."""
    whole = normalize_name(name)
    parts = [normalize_name(part) for part in name.split(",") if part.strip()]
    return list(dict.fromkeys([whole, *parts]))


_PHRASES = frozenset({s for label in RESTRICTED_LABELS for s in synonyms(label)}
                     | {normalize_name(p) for p in EXTRA_PHRASES})
_ALLOWED = frozenset(normalize_name(label) for label in ALLOWED_LABELS)


def is_restricted(name: str) -> bool:
    """True when a class name (any synonym, or any word of one) is on the refusal list."""
    if normalize_name(name) in _ALLOWED:
        return False
    for synonym in synonyms(name):
        if synonym in _PHRASES:
            return True
        if any(word.strip(".'\"()") in RESTRICTED_WORDS for word in synonym.split()):
            return True
    return False


def check_allowed_class(name: str) -> None:
    """Raise a one-line UserError if `name` (a label, a synonym, a folder name) is refused."""
    if is_restricted(name):
        raise UserError(REFUSAL.format(name=name))
