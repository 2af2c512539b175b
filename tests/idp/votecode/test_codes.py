"""The shape of vote codes: alphabet, entropy, grouping, and the normalisation of what voters type.

Pure functions: no storage involved, so these run once rather than on each back end.
"""

from __future__ import annotations

import math
import re
from collections import Counter

import pytest

from idp.votecode import codes

AMBIGUOUS = set("0O1IL")


def test_alphabet_has_no_ambiguous_accented_or_symbol_character():
    assert not AMBIGUOUS & set(codes.ALPHABET)
    assert all(ch.isascii() and ch.isalnum() and not ch.islower() for ch in codes.ALPHABET)
    assert len(set(codes.ALPHABET)) == len(codes.ALPHABET) == 31


def test_entropy_is_at_least_60_bits():
    assert math.isclose(codes.ENTROPY_BITS, 13 * math.log2(31))
    assert codes.ENTROPY_BITS >= 60


def test_new_codes_have_the_length_and_alphabet_and_do_not_repeat():
    drawn = [codes.new_code() for _ in range(5000)]
    assert all(len(code) == 13 and set(code) <= set(codes.ALPHABET) for code in drawn)
    assert len(set(drawn)) == len(drawn)


def test_every_character_is_used_at_every_position():
    # A coarse uniformity check: a bug in the base-31 conversion (a stuck or missing digit) fails it.
    drawn = [codes.new_code() for _ in range(4000)]
    for position in range(codes.LENGTH):
        counts = Counter(code[position] for code in drawn)
        assert set(counts) == set(codes.ALPHABET)
        assert max(counts.values()) < 3 * min(counts.values())


def test_printed_form_is_grouped_4_4_5():
    code = codes.new_code()
    printed = codes.grouped(code)
    assert re.fullmatch(r"[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{4}-[2-9A-HJKMNP-Z]{5}", printed)
    assert printed.replace("-", "") == code


@pytest.mark.parametrize(
    "typed",
    [
        "K7QM-3XWD-9PRTA",
        "k7qm-3xwd-9prta",
        " K7QM 3XWD 9PRTA ",
        "K7QM3XWD9PRTA",
        "k7qm–3xwd—9prta",
        "K7QM.3XWD.9PRTA",
        "K7QM_3XWD_9PRTA",
        "K7QM\u00a03XWD\u202f9PRTA",
    ],
)
def test_normalisation_ignores_case_spaces_and_dashes(typed):
    assert codes.normalise(typed) == "K7QM3XWD9PRTA"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "K7QM-3XWD-9PRT",
        "K7QM-3XWD-9PRTAB",
        "K7QM-3XWD-9PRT0",
        "K7QM-3XWD-9PRTO",
        "K7QM-3XWD-9PRT1",
        "K7QM-3XWD-9PRTI",
        "K7QM-3XWD-9PRTL",
        "K7QM-3XWD-9PRTl",
        "K7QM-3XWD-9PRTÉ",
        "K7QM-3XWD-9PRT#",
        "x" * 500,
    ],
)
def test_normalisation_refuses_what_cannot_be_a_code(typed):
    # No look-alike mapping: the alphabet has neither 0/O nor 1/I/L, so any of them is a misreading.
    assert codes.normalise(typed) is None


def test_a_grouped_code_normalises_back_to_itself():
    for _ in range(100):
        code = codes.new_code()
        assert codes.normalise(codes.grouped(code)) == code
        assert codes.normalise(codes.grouped(code).lower()) == code
