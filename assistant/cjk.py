"""CJK text: which characters are Chinese, Japanese or Korean, how wide a text is, and how much of it is CJK.

Chinese writes no spaces between words and packs more meaning into a character than English
does, so the stages that count words or characters ask here: passages weigh a CJK character
as several Latin ones, the keyword index cuts runs of Han characters into words, the search
reads a mostly-CJK question without the English-only question–sentence model, and the quote
check compares Chinese character by character.
"""

from __future__ import annotations

import re

# Han ideographs (with extensions and compatibility forms), kana, hangul: the letters of CJK scripts.
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_KANA = "\u3040-\u309f\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_HANGUL = "\u1100-\u11ff\u3130-\u318f\uac00-\ud7af"
HAN = re.compile(f"[{_HAN}]")
HAN_RUN = re.compile(f"[{_HAN}]+")
#: One CJK letter: a Han character, a kana or a hangul syllable or jamo.
CJK_LETTER = re.compile(f"[{_HAN}{_KANA}{_HANGUL}]")
# What a terminal shows two columns wide: CJK letters, CJK punctuation and full-width forms.
_WIDE = re.compile(f"[{_HAN}\u3040-\u30ff\u31f0-\u31ff{_HANGUL}\u3000-\u303f\uff01-\uff60\uffe0-\uffe6]")
#: A question is read as CJK when at least this share of its letters are CJK ones.
MOSTLY_CJK_SHARE = 0.5
#: How many Latin characters one CJK character counts as when a passage's length is capped. For
#: multilingual-e5's tokenizer, Chinese runs 1.6 characters a word piece and English 4.6 (the seed note
#: verbale's third paragraph and a Chinese rendering of it: 72 and 114 pieces), so with a weight of 3 a
#: cap of 1,000 holds about 210 pieces in either language; unweighted, 1,000 Chinese characters would be
#: ~625 pieces, past the model's 512, and the end of the passage would never be embedded.
CJK_CHAR_WEIGHT = 3


def cjk_share(text: str) -> float:
    """The share of a text's letters that are CJK ones (0.0 for a text without letters)."""
    letters = sum(ch.isalpha() for ch in text)
    return len(CJK_LETTER.findall(text)) / letters if letters else 0.0


def is_mostly_cjk(text: str) -> bool:
    """Whether a text is written mostly in CJK letters: MOSTLY_CJK_SHARE of its letters or more."""
    return cjk_share(text) >= MOSTLY_CJK_SHARE


def columns(text: str) -> int:
    """How many columns a line takes as a terminal shows it: two for a CJK or full-width character."""
    return len(text) + len(_WIDE.findall(text))


def weighted_length(text: str, start: int = 0, end: int | None = None) -> int:
    """The length of text[start:end] with each CJK letter counted CJK_CHAR_WEIGHT times."""
    end = len(text) if end is None else end
    return (end - start) + (CJK_CHAR_WEIGHT - 1) * len(CJK_LETTER.findall(text, start, end))


def reach(text: str, start: int, budget: int, end: int | None = None) -> int:
    """The furthest offset (at most `end`) such that text[start:offset] has a weighted length within budget."""
    end = len(text) if end is None else end
    if not CJK_LETTER.search(text, start, min(end, start + budget)):
        return min(end, start + budget)
    position, used = start, 0
    while position < end:
        cost = CJK_CHAR_WEIGHT if CJK_LETTER.match(text, position) else 1
        if used + cost > budget:
            break
        used += cost
        position += 1
    return position
