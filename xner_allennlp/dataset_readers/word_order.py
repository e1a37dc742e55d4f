"""
Reordering a source sentence toward a target's word order, by its chunk column (the CoNLL-2003
English files: `word POS chunk NER`, chunks in IOB1 as the NER tags are).
"""

from typing import List, Optional, Sequence, Tuple

# (start, end, chunk type); "O" for a token outside every chunk (punctuation, most conjunctions).
_Unit = Tuple[int, int, str]

# Chunk types a clause does not reach across: a subordinating conjunction ("that", "until",
# "whether") opens a new clause, and an outside token (a comma, "and") ends one. They keep
# their place.
_CLAUSE_BOUNDARIES = {"O", "SBAR"}
# Parts of a verb group: the verb chunk and a particle that follows it ("set up").
_VERB_PARTS = {"VP", "PRT"}


def chunk_units(chunks: Sequence[str], tags: Sequence[str]) -> List[_Unit]:
    """
    The chunks of a sentence as `(start, end, type)` from IOB1 (or IOB2) chunk tags, with the
    chunks an entity spans merged into one unit of its first chunk's type ("Bank of England" is
    NP PP NP: one NP), so a reordering never splits an entity. `tags` are BIOUL.
    """
    units: List[List] = []
    for i, chunk in enumerate(chunks):
        kind = "O" if chunk == "O" else chunk[2:]
        if tags[i][0] in "IL" and units:
            # Inside an entity: the entity's unit goes on, whatever the chunk column says.
            units[-1][1] = i + 1
        elif kind != "O" and units and not chunk.startswith("B-") and units[-1][2] == kind:
            units[-1][1] = i + 1
        else:
            units.append([i, i + 1, kind])
    return [(start, end, kind) for start, end, kind in units]


def _postpositions(clause: List[_Unit]) -> List[_Unit]:
    # A preposition follows the noun phrase it governs: "in London" -> "London in".
    out: List[_Unit] = []
    i = 0
    while i < len(clause):
        if clause[i][2] == "PP" and i + 1 < len(clause) and clause[i + 1][2] == "NP":
            out += [clause[i + 1], clause[i]]
            i += 2
        else:
            out.append(clause[i])
            i += 1
    return out


def _verbs_last(clause: List[_Unit]) -> List[_Unit]:
    # A verb group follows the chunks after it, up to the next verb group: the objects and
    # complements come first, as in a verb-final language. A subject before the verb stays
    # where it is.
    out: List[_Unit] = []
    verbs: List[_Unit] = []
    arguments: List[_Unit] = []
    for unit in clause:
        if unit[2] in _VERB_PARTS and (unit[2] == "VP" or verbs) and not arguments:
            verbs.append(unit)
        elif unit[2] == "VP":
            out += arguments + verbs
            verbs, arguments = [unit], []
        elif verbs:
            arguments.append(unit)
        else:
            out.append(unit)
    return out + arguments + verbs


def head_final_order(tags: Sequence[str], chunks: Sequence[Optional[str]]) -> List[int]:
    """
    The token positions of a sentence reordered toward a head-final target (verb-final and
    postpositional, as Bengali, Hindi, Japanese, Turkish): within each clause every preposition
    follows its noun phrase and every verb group follows its objects and complements. Clause
    boundaries (tokens outside any chunk, subordinating conjunctions) keep their place, and
    every entity stays whole and in order. `tags` are BIOUL; `chunks` the chunk column.

    "Germany beat England in London ." -> "Germany England London in beat ."
    """
    order: List[int] = []
    clause: List[_Unit] = []

    def close_clause() -> None:
        for start, end, _ in _verbs_last(_postpositions(clause)):
            order.extend(range(start, end))
        clause.clear()

    for unit in chunk_units([c or "O" for c in chunks], tags):
        if unit[2] in _CLAUSE_BOUNDARIES:
            close_clause()
            order.extend(range(unit[0], unit[1]))
        else:
            clause.append(unit)
    close_clause()
    return order
