"""``synthetic-finsent``: generated FX news with known sentiment for EUR/USD.

    texts, scores = generate_finsent(n=2000, seed=0)

Each sentence is built from phrases of known polarity for their subject ("the euro
rallied", "weak US payrolls"); a subject on the dollar side flips the sign for the
pair (zero-sum), intensity words scale it, negations flip it, filler adds nothing.
The score is the clipped sum plus noise; most news is near-neutral, so the five
classes come out imbalanced like real news. Same (n, seed) -> same corpus.
"""

from __future__ import annotations

import numpy as np

# (subject, side): side +1 = euro area (good for EUR/USD), -1 = US (good for the dollar).
SUBJECTS = [
    ("EUR/USD", 1),
    ("the pair", 1),
    ("the euro", 1),
    ("the ECB", 1),
    ("eurozone growth", 1),
    ("German factory orders", 1),
    ("euro area inflation", 1),
    ("Lagarde", 1),
    ("the dollar", -1),
    ("the Fed", -1),
    ("US payrolls", -1),
    ("US retail sales", -1),
    ("Treasury yields", -1),
    ("Powell", -1),
]
# (verb phrase, polarity for the subject's side)
EVENTS = [
    ("rallied", 0.5),
    ("surged", 0.6),
    ("firmed", 0.3),
    ("edged higher", 0.15),
    ("signalled more hikes", 0.45),
    ("beat expectations", 0.4),
    ("held steady", 0.0),
    ("was little changed", 0.0),
    ("traded sideways", 0.0),
    ("slipped", -0.2),
    ("slumped", -0.55),
    ("tumbled", -0.6),
    ("missed forecasts", -0.4),
    ("signalled rate cuts", -0.45),
    ("weakened", -0.35),
    ("came in as expected", 0.0),
]
INTENSITY = [("", 1.0), ("sharply ", 1.6), ("slightly ", 0.5), ("unexpectedly ", 1.3)]
NEGATIONS = ["did not", "failed to"]
FILLER = [
    "in thin holiday trading",
    "ahead of the data",
    "according to traders",
    "during the London session",
    "as markets digested the news",
    "on Tuesday",
    "analysts said",
    "in early Asian trade",
]
NEUTRAL = [
    "Markets await the central bank minutes.",
    "Volumes were light across the board.",
    "Traders squared positions before the weekend.",
    "The calendar is quiet this week.",
]
BASE_FORMS = {  # negated sentences need the base verb form
    "rallied": "rally",
    "surged": "surge",
    "firmed": "firm",
    "edged higher": "edge higher",
    "signalled more hikes": "signal more hikes",
    "beat expectations": "beat expectations",
    "slipped": "slip",
    "slumped": "slump",
    "tumbled": "tumble",
    "missed forecasts": "miss forecasts",
    "signalled rate cuts": "signal rate cuts",
    "weakened": "weaken",
}


# Most FX headlines speak of the pair or the euro side; the dollar side is the minority
# whose sign flips, so the polarity words carry signal and the flip is a refinement.
_SIDE_WEIGHT = np.array([3.0 if side > 0 else 1.0 for _, side in SUBJECTS])
_SUBJECT_P = _SIDE_WEIGHT / _SIDE_WEIGHT.sum()


def _clause(rng: np.random.Generator) -> tuple[str, float]:
    subject, side = SUBJECTS[rng.choice(len(SUBJECTS), p=_SUBJECT_P)]
    verb, polarity = EVENTS[rng.integers(len(EVENTS))]
    word, scale = INTENSITY[rng.integers(len(INTENSITY))] if polarity else ("", 1.0)
    if polarity and verb in BASE_FORMS and rng.random() < 0.15:
        negation = NEGATIONS[rng.integers(len(NEGATIONS))]
        return f"{subject} {negation} {word}{BASE_FORMS[verb]}", -0.6 * polarity * scale * side
    return f"{subject} {word}{verb}", polarity * scale * side


def generate_finsent(n: int, seed: int = 0, noise: float = 0.05) -> tuple[list[str], list[float]]:
    rng = np.random.default_rng(seed)
    texts, scores = [], []
    for _ in range(n):
        if rng.random() < 0.12:
            texts.append(str(NEUTRAL[rng.integers(len(NEUTRAL))]))
            scores.append(float(np.clip(rng.normal(0.0, noise / 2), -1, 1)))
            continue
        clauses = [_clause(rng) for _ in range(1 + int(rng.random() < 0.35))]
        text = " while ".join(c for c, _ in clauses)
        if rng.random() < 0.6:
            text += " " + FILLER[rng.integers(len(FILLER))]
        # Real news is mostly mild: damp the sum so the neutral band is well populated.
        score = 0.8 * sum(s for _, s in clauses) + rng.normal(0.0, noise)
        texts.append(text[0].upper() + text[1:] + ".")
        scores.append(float(np.clip(score, -1.0, 1.0)))
    return texts, scores
