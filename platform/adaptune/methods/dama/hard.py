"""The `hard` multi-domain corpus: DAMA's paper regime (FDU-MTL-like), generated.

    train = generate_hard(2400, seed=0)                        # unequal domain sizes
    dev = generate_hard(0, seed=7, per_domain=200, spurious=False)
    test = generate_hard(0, seed=9, per_domain=400, spurious=False)

What makes it hard, and why (each point answers how the `easy` preset fails the paper):
- Polarity cues are per domain, not per group: every domain draws its own polarity for
  each word of a shared opinion pool, so the same word disagrees between domains in no
  pattern a group label could capture; one shared reading of a cue is wrong somewhere.
- Topic words are a minority of tokens (`topic_share`, 0.15) and film/product domains
  share part of their topic vocabulary, so the domain is not spelled out in every line.
- Some domains (`SPURIOUS`) carry a brand word that co-occurs with the positive label in
  training (`spurious_strength`) and not at all in dev or test (`spurious=False`): a
  model that trusts it there is wrong on held-out data.
- Domain sizes are unequal (`SIZE_WEIGHTS`, up to 4:1), so one shared gamma weights the
  small domains' loss less, as in FDU-MTL's real split.
The corpus design (which word means what where) is fixed by `DESIGN_SEED`, not by the
sampling seed: train, dev and test share the language and differ only in the draw.
"""

from __future__ import annotations

import numpy as np

from .data import FDU_DOMAINS, FILLER, TOPIC, review

DESIGN_SEED = 2505  # the language: cue polarities per domain; never the sampling seed
OPINION = [
    "long",
    "short",
    "loud",
    "quiet",
    "simple",
    "dark",
    "slow",
    "fast",
    "light",
    "heavy",
    "cheap",
    "predictable",
    "unpredictable",
    "soft",
    "bright",
    "thin",
]
CUES_PER_DOMAIN = 8  # of the pool, the words a domain uses as its polarity cues
GENERIC_POS = ("great", "love it", "recommend")
GENERIC_NEG = ("bad", "returned it", "regret")
# Domains whose reviews carry a brand word that tracks the label only in training.
SPURIOUS = {
    "electronics": "zentek",
    "books": "penwell",
    "kitchen_housewares": "homira",
    "toys_games": "kidoro",
}
# Relative train sizes: four large domains, eight medium, four small (4 : 2 : 1).
WEIGHTS = [4, 2, 4, 2, 1, 4, 2, 2, 4, 1, 2, 2, 1, 2, 1, 2]
SIZE_WEIGHTS = dict(zip(FDU_DOMAINS, WEIGHTS, strict=True))
SHARED_TOPIC = {  # topic words borrowed by related domains: the domain is less obvious
    "dvd": "film movie scene",
    "imdb": "dvd scene episode",
    "MR": "film movie acting",
    "video": "film movie dvd",
    "electronics": "camera lens battery",
    "camera_photo": "battery screen device",
    "baby": "toy kids bottle",
    "toys_games": "infant toddler kids",
}


def cue_table(domains: list[str]) -> dict[str, dict[str, int]]:
    """Per domain: its cue words and their polarity (+1 / -1), from DESIGN_SEED."""
    rng = np.random.default_rng(DESIGN_SEED)
    table = {}
    for d in FDU_DOMAINS:  # drawn for all 16 in a fixed order: a subset sees the same words
        words = rng.choice(len(OPINION), size=CUES_PER_DOMAIN, replace=False)
        signs = rng.permutation([1, -1] * (CUES_PER_DOMAIN // 2))
        table[d] = {OPINION[int(w)]: int(s) for w, s in zip(words, signs, strict=True)}
    return {d: table[d] for d in domains}


def domain_counts(n: int, domains: list[str]) -> dict[str, int]:
    """`n` split over `domains` in proportion to SIZE_WEIGHTS (every domain >= 1)."""
    w = np.array([SIZE_WEIGHTS.get(d, 2) for d in domains], dtype=float)
    counts = np.maximum(1, np.floor(n * w / w.sum())).astype(int)
    counts[int(np.argmax(w))] += max(0, n - int(counts.sum()))
    return {d: int(c) for d, c in zip(domains, counts, strict=True)}


def generate_hard(
    n: int,
    seed: int = 0,
    domains: list[str] | None = None,
    per_domain: int | None = None,
    spurious: bool = True,
    spurious_strength: float = 0.85,
    generic_share: float = 0.3,
    topic_share: float = 0.15,
    label_noise: float = 0.03,
    length: tuple[int, int] = (12, 24),
) -> tuple[list[str], list[int], list[str]]:
    """Reviews, labels, domains: `n` split unequally over domains, or `per_domain` each.

    Each review has two or three of its domain's cues that agree with its label; a share
    `generic_share` also carries a domain-independent phrase. With `spurious`, the brand
    word of a SPURIOUS domain appears in a review with probability spurious_strength when
    the label is positive and 1 - spurious_strength when negative; without, never.
    """
    names = list(domains or FDU_DOMAINS)
    cues = cue_table(names)
    counts = {d: per_domain for d in names} if per_domain else domain_counts(n, names)
    rng = np.random.default_rng(seed)
    texts, labels, doms = [], [], []
    for domain in names:
        topic = TOPIC[domain].split() + SHARED_TOPIC.get(domain, "").split()
        for _ in range(counts[domain]):
            label = int(rng.random() < 0.5)
            sign = 1 if label else -1
            fitting = [w for w, s in cues[domain].items() if s == sign]
            k = int(rng.integers(2, 4))
            phrases = [
                str(w) for w in rng.choice(fitting, size=min(k, len(fitting)), replace=False)
            ]
            if rng.random() < generic_share:
                phrases.append(str(rng.choice(GENERIC_POS if label else GENERIC_NEG)))
            brand = SPURIOUS.get(domain) if spurious else None
            if brand and rng.random() < (spurious_strength if label else 1 - spurious_strength):
                phrases.append(brand)
            size = int(rng.integers(length[0], length[1] + 1))
            text = review(rng, topic, FILLER, size, phrases, topic_share)
            if rng.random() < label_noise:
                label = 1 - label
            texts.append(text)
            labels.append(label)
            doms.append(domain)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order], [labels[i] for i in order], [doms[i] for i in order]
