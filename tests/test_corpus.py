"""Our answers against tshark's, tcptrace's and Zeek's on the public corpus: every disagreement
is fixed or explained in corpus_known_disagreements.tsv, and no explanation outlives its cause."""

from __future__ import annotations

from pathlib import Path

from analyzer.corpus_comparison import corpus_rows, load_known

KNOWN = Path(__file__).with_name("corpus_known_disagreements.tsv")


def test_every_disagreement_is_explained(corpus_dir) -> None:
    rows = corpus_rows(corpus_dir)
    known = load_known(KNOWN)
    disagreements = {(r.file, r.question) for r in rows if not r.agrees}
    assert sorted(disagreements - set(known)) == [], "unexplained disagreements"
    assert sorted(set(known) - disagreements) == [], "explained but no longer disagreeing: remove the line"
    # The questions people ask first agree everywhere the decoder can read the file.
    for question in ("SYN", "SYN/ACK", "FIN", "RST", "TCP packets"):
        agreeing = [r for r in rows if r.question == question and r.agrees]
        assert len(agreeing) >= len({r.file for r in rows}) - 1
