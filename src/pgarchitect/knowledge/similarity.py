"""How much a stored case resembles a statement: fingerprint, structure, text.

The score ranks the cases worth replaying on a statement
(:mod:`pgarchitect.knowledge.replay` decides by replaying the fix). An equal
pglast fingerprint (the same statement up to constants) is a match of 1.0.
Otherwise the score is a weighted mean of the structural similarity
(:func:`~pgarchitect.knowledge.features.structural_similarity`) and the cosine of
the two sentence embeddings; without an embedding, the structure alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from pgarchitect.knowledge.features import Similarity

# The least score for a case to be replayed on a statement (the setting kb_threshold).
# Retrieval is tuned for recall, the replay decides: on benchmarks/data/kb_retrieval.jsonl
# a group mate is among the 5 best cases scoring 0.5 or more for 99.5% of the
# statements (98.9% at 0.6, 91.2% at 0.85, where the resemblance rule alone stood).
THRESHOLD: Final = 0.5


@dataclass(frozen=True)
class Weights:
    """How much the embedding's cosine and the structure count (their sum need not be 1).

    Structure decides: it knows which columns are filtered, joined and sorted,
    which is what the fix depends on. The sentence embedding of a statement
    scores statements over the same tables alike whatever their filter, and the
    stored text carries the finding's description that a query at audit time
    cannot have, which pulls its cosine with its own variants down to 0.6-0.8.
    In benchmarks/kb_retrieval.py every text weight above 0.1 lowered the recall
    of the former skip rule (best match >= 0.85) with no gain in precision; 0.1
    left the structure's result there, breaks ties between structurally equal
    findings, and prunes wrong structural matches at lower thresholds.
    """

    vector: float = 0.1
    structure: float = 0.9


@dataclass(frozen=True)
class Match:
    """The score of a stored finding for a statement, and why."""

    score: float
    reasons: tuple[str, ...]


def combine(same_fingerprint: bool, structure: Similarity, cosine: float | None,
            weights: Weights = Weights()) -> Match:
    """The match score of a stored finding.

    >>> combine(True, Similarity(0.4), 0.7).score
    1.0
    >>> combine(False, Similarity(0.9, ("same tables User",)), None)
    Match(score=0.9, reasons=('structure 0.90: same tables User',))
    """
    detail = "; ".join(structure.reasons[:4])
    reasons = [f"structure {structure.score:.2f}" + (f": {detail}" if detail else "")]
    if cosine is not None:
        reasons.append(f"text {cosine:.2f}")
    if same_fingerprint:
        return Match(1.0, ("same fingerprint", *reasons))
    if cosine is None or weights.vector + weights.structure <= 0:
        return Match(structure.score, tuple(reasons))
    total = weights.vector + weights.structure
    score = (weights.vector * max(0.0, cosine) + weights.structure * structure.score) / total
    return Match(round(min(1.0, max(0.0, score)), 6), tuple(reasons))
