"""Multi-domain sentiment data: the embedded generator and the FDU-MTL file loader.

    texts, labels, domains = generate_multidomain(1600, seed=0)     # 16 FDU-MTL domains
    texts, labels, domains = load_fdu_mtl("data/fdu-mtl", "train")  # train minus dev
    texts, labels, domains = load_fdu_mtl("data/fdu-mtl", "dev")    # last 200 of train

The generator writes lower-cased reviews from each domain's own vocabulary plus
sentiment phrases. Some phrases change polarity with the domain ("unpredictable" is
praise for a dvd plot and a complaint about electronics; a "long" battery life is
good, a "long" film is not), so a model must know the domain to get those right.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

FDU_DOMAINS = (
    "apparel",
    "baby",
    "books",
    "camera_photo",
    "dvd",
    "electronics",
    "health_personal_care",
    "imdb",
    "kitchen_housewares",
    "magazines",
    "MR",
    "music",
    "software",
    "sports_outdoors",
    "toys_games",
    "video",
)
# Domains whose reviews judge a story or a performance, not a device or a product.
STORY = frozenset({"books", "dvd", "imdb", "magazines", "MR", "music", "video"})

TOPIC = {
    "apparel": "shirt jacket fabric fit size sleeve dress jeans",
    "baby": "stroller diaper crib bottle infant seat toddler blanket",
    "books": "novel author chapter plot character writing story page",
    "camera_photo": "lens camera shutter zoom flash photo tripod sensor",
    "dvd": "dvd disc scene director actor plot episode extras",
    "electronics": "speaker cable charger remote device screen headphones battery",
    "health_personal_care": "vitamin razor toothbrush lotion shaver supplement scale pill",
    "imdb": "film movie cast director scene acting script ending",
    "kitchen_housewares": "blender pan knife kettle toaster pot mixer lid",
    "magazines": "magazine issue article subscription editor columns cover recipes",
    "MR": "film movie performance comedy drama scene script ending",
    "music": "album song track band vocals guitar lyrics chorus",
    "software": "program install update interface license windows feature bug",
    "sports_outdoors": "tent bike ball racket trail bottle glove backpack",
    "toys_games": "toy puzzle game doll kids pieces board blocks",
    "video": "video tape workout episode series scene footage documentary",
}
FILLER = ["the", "a", "it", "this", "i", "was", "is", "and", "my", "for", "with", "of"]
FILLER += ["to", "but", "very", "really", "just"]
POSITIVE = ["great", "excellent", "love it", "works well", "highly recommend", "wonderful"]
NEGATIVE = ["terrible", "awful", "waste of money", "broke", "disappointed", "poor quality"]
# Domain-dependent cues: polarity in story domains, then in product domains.
AMBIGUOUS = {
    "unpredictable": (1, -1),
    "predictable": (-1, 1),
    "long": (-1, 1),
    "short": (1, -1),
    "loud": (1, -1),
    "simple": (-1, 1),
    "dark": (1, -1),
    "slow": (1, -1),
}


def _polarity(word: str, domain: str) -> int:
    story, product = AMBIGUOUS[word]
    return story if domain in STORY else product


def generate_multidomain(
    n: int,
    seed: int = 0,
    domains: int | list[str] | None = None,
    ambiguous_share: float = 0.5,
    label_noise: float = 0.03,
    length: tuple[int, int] = (10, 24),
) -> tuple[list[str], list[int], list[str]]:
    """`n` reviews spread evenly over the domains; the same seed gives the same corpus.

    A share `ambiguous_share` of reviews carries only domain-dependent cues, the rest
    one generic phrase plus a domain cue; `label_noise` of labels are flipped.
    """
    names = domain_names(domains)
    rng = np.random.default_rng(seed)
    texts, labels, doms = [], [], []
    for i in range(n):
        domain = names[i % len(names)]
        label = int(rng.random() < 0.5)
        sign = 1 if label else -1
        # Cues that, read in this domain, support the label (the other group reads them
        # the opposite way), so the same word means different things across domains.
        fitting = [w for w in AMBIGUOUS if _polarity(w, domain) == sign]
        phrases = [str(w) for w in rng.choice(fitting, size=2, replace=False)]
        if rng.random() >= ambiguous_share:
            phrases[1] = str(rng.choice(POSITIVE if label else NEGATIVE))
        size = int(rng.integers(length[0], length[1] + 1))
        text = review(rng, TOPIC[domain].split(), FILLER, size, phrases, topic_share=0.5)
        if rng.random() < label_noise:
            label = 1 - label
        texts.append(text)
        labels.append(label)
        doms.append(domain)
    return texts, labels, doms


def review(
    rng: np.random.Generator,
    topic: list[str],
    filler: list[str],
    size: int,
    phrases: list[str],
    topic_share: float,
) -> str:
    """A review: `size` words, each a topic word with probability `topic_share` else
    filler, with the sentiment `phrases` inserted at random places."""
    body = [str(rng.choice(topic if rng.random() < topic_share else filler)) for _ in range(size)]
    for phrase in phrases:
        body.insert(int(rng.integers(0, len(body) + 1)), phrase)
    return " ".join(body)


def domain_names(domains: int | list[str] | None) -> list[str]:
    if domains is None:
        return list(FDU_DOMAINS)
    if isinstance(domains, int):
        if not 1 <= domains <= len(FDU_DOMAINS):
            raise ValueError(f"domains must be 1..{len(FDU_DOMAINS)}, got {domains}")
        return list(FDU_DOMAINS[:domains])
    unknown = set(domains) - set(FDU_DOMAINS)
    if unknown:
        raise ValueError(f"unknown domains {sorted(unknown)}; known: {', '.join(FDU_DOMAINS)}")
    return list(domains)


def load_fdu_mtl(
    root: str | Path, split: str, domains: list[str] | None = None, dev_size: int = 200
) -> tuple[list[str], list[int], list[str]]:
    """FDU-MTL `<domain>.task.<train|test|unlabel>` files (``label<TAB>text``, ISO-8859-2).

    split "train" is the train file without its last `dev_size` lines, "dev" those lines
    (the standard dev split); "test" and "unlabel" are the files as they are. Domains
    default to every domain with a file for the split, in FDU-MTL order.
    """
    if split not in ("train", "dev", "test", "unlabel"):
        raise ValueError(f"split must be train, dev, test or unlabel, got '{split}'")
    base = Path(root)
    suffix = "train" if split in ("train", "dev") else split
    names = domains or [d for d in FDU_DOMAINS if (base / f"{d}.task.{suffix}").exists()]
    if not names:
        raise FileNotFoundError(f"no <domain>.task.{suffix} files under {base}")
    texts, labels, doms = [], [], []
    for domain in names:
        rows = _read_rows(base / f"{domain}.task.{suffix}")
        if split == "train":
            rows = rows[:-dev_size]
        elif split == "dev":
            rows = rows[-dev_size:]
        for label, text in rows:
            texts.append(text)
            labels.append(label)
            doms.append(domain)
    return texts, labels, doms


def _read_rows(path: Path) -> list[tuple[int, str]]:
    rows = []
    for n, line in enumerate(path.read_text(encoding="iso-8859-2").splitlines(), 1):
        if not line.strip():
            continue
        label, sep, text = line.partition("\t")
        if not sep or not label.strip().isdigit():
            raise ValueError(f"{path}:{n}: expected 'label<TAB>text'")
        rows.append((int(label), text.strip().lower()))
    return rows
