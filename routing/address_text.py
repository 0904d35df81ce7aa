"""Chinese address text in a comparable form: normalised, then split into a place name and house numbers.

The gazetteer sends its standard addresses and the callers' free text through the same two functions,
so whatever they do to one side they do to the other: "怀柔区青春路十二号院门口" and
"北京市怀柔区泉河街道青春路12号" both come down to the name "青春路" with the numbers ("12",) once the
gazetteer has taken out the district and town names it knows.
"""

from __future__ import annotations

import re
import unicodedata

#: Chinese numeral characters: digits, and the units that multiply the digit before them.
NUMERAL_DIGITS = {
    "零": 0,
    "〇": 0,
    "一": 1,
    "二": 2,
    "两": 2,
    "三": 3,
    "四": 4,
    "五": 5,
    "六": 6,
    "七": 7,
    "八": 8,
    "九": 9,
}
NUMERAL_UNITS = {"十": 10, "百": 100, "千": 1000}

#: What follows a number in an address: house (号), compound (号院), building (号楼, 栋, 幢, 座), entrance
#: (单元), floor (层, 楼) and room (室). Longest first, so that 号院 wins over 号.
NUMBER_SUFFIXES = ("号院", "号楼", "号", "栋", "幢", "座", "单元", "层", "楼", "室", "院")

#: Words callers add around an address that name no place ("附近", "门口", "对面"...). Only words that
#: cannot be part of a road, estate or village name; "路边" is not one ("青春路边" would lose its 路).
NOISE_WORDS = (
    "附近",
    "门口",
    "门前",
    "对面",
    "旁边",
    "边上",
    "周边",
    "周围",
    "一带",
    "东侧",
    "西侧",
    "南侧",
    "北侧",
    "东边",
    "西边",
    "南边",
    "北边",
    "里面",
    "院内",
    "楼下",
    "这边",
    "那边",
    "左右",
    "大概",
    "大约",
    "位置",
    "地址",
    "我家",
    "住在",
    "位于",
)

# A run of Chinese numerals right before a number suffix is a house, building or room number; elsewhere
# it is part of a name (九渡河镇, 三渡河村) and stays as it is.
_NUMERAL_RUN = re.compile(
    "([" + "".join(NUMERAL_DIGITS) + "".join(NUMERAL_UNITS) + "]+)(?=" + "|".join(NUMBER_SUFFIXES) + ")"
)
_NOISE = re.compile("|".join(NOISE_WORDS))
# A dash between two numbers ("12-1号") separates them; any other punctuation or space goes.
_DASH = re.compile(r"(?<=\d)[-‐‑‒–—―~～之](?=\d)")
_PUNCTUATION = re.compile(r"[^\w-]|_")
_NUMBER = re.compile(r"(\d+)(?:" + "|".join(NUMBER_SUFFIXES) + r")?-?")


def chinese_numeral(text: str) -> int:
    """The value of a Chinese numeral: positional ("一百零五" → 105) or digit by digit ("三〇五" → 305)."""
    if not any(char in NUMERAL_UNITS for char in text):
        return int("".join(str(NUMERAL_DIGITS[char]) for char in text))
    total, digit = 0, None
    for char in text:
        if char in NUMERAL_UNITS:
            # A bare unit counts one of itself: "十二" is 12.
            total += (1 if digit is None else digit) * NUMERAL_UNITS[char]
            digit = None
        else:
            digit = NUMERAL_DIGITS[char]
    return total + (digit or 0)


def normalize(text: str) -> str:
    """Full-width to half-width, Chinese house numbers to digits, no noise words, spaces or punctuation."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _NUMERAL_RUN.sub(lambda match: str(chinese_numeral(match.group(1))), text)
    text = _DASH.sub("-", text)
    text = _NOISE.sub("", text)
    return _PUNCTUATION.sub("", text)


def split_numbers(normalized: str) -> tuple[str, tuple[str, ...]]:
    """The name part and the numbers, in order: "青春路12号院3号楼" → ("青春路", ("12", "3"))."""
    numbers = tuple(str(int(value)) for value in _NUMBER.findall(normalized))
    name = _NUMBER.sub("", normalized).replace("-", "")
    return name, numbers
