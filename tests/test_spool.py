"""The spool that gives texts back in id order (output/spool.py)."""

from __future__ import annotations

import tracemalloc

from analyzer.output.spool import SPOOL_BYTES, IdOrderedSpool


def _filled(texts: dict[int, bytes]) -> IdOrderedSpool:
    spool = IdOrderedSpool()
    for ident, text in texts.items():
        spool.add(ident, text)
    return spool


def test_texts_come_back_in_id_order_and_as_added() -> None:
    texts = {7: b"seven", 2: b"two", 40: "forty \u2192".encode(), 0: b"", 3: b"three"}
    spool = _filled(texts)
    assert len(spool) == 5
    assert list(spool.ids()) == [0, 2, 3, 7, 40]
    assert list(spool.id_lengths()) == [(i, len(texts[i])) for i in (0, 2, 3, 7, 40)]
    assert list(spool.encoded_items()) == [(i, texts[i]) for i in (0, 2, 3, 7, 40)]
    assert list(spool.items())[-1] == (40, "forty \u2192")
    assert list(spool.stored_items()) == list(texts.items())
    spool.close()


def test_texts_past_the_memory_limit_come_back_from_the_file_and_more_can_follow() -> None:
    big = SPOOL_BYTES // 3
    texts = {n: bytes([65 + n]) * (big + n) for n in (4, 1, 3, 0, 2)}
    spool = _filled(texts)
    assert list(spool.encoded_items()) == sorted(texts.items())
    assert list(spool.stored_items()) == list(texts.items())
    spool.add(9, b"after a read-back")
    assert list(spool.encoded_items())[-1] == (9, b"after a read-back")
    assert [ident for ident, _ in spool.stored_items()] == [4, 1, 3, 0, 2, 9]
    spool.close()


def test_a_few_texts_among_millions_of_ids_cost_a_few_bytes() -> None:
    """The text report of a flood spools a few connections of millions: what the spool
    keeps follows the texts given, not the largest id."""
    tracemalloc.start()
    try:
        spool = _filled({5_000_000: b"late", 1_000_000: b"early"})
        kept, _peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert kept < 100_000
    assert list(spool.ids()) == [1_000_000, 5_000_000]
    spool.close()
