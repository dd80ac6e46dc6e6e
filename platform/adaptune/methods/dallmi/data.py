"""Multi-label domain-adaptation data: a synthetic two-domain corpus and real-data loading.

    src, tgt, names = generate_multilabel(300, seed=0)          # (texts, label lists) x2
    src, tgt, names = generate_multilabel(300, seed=0, preset="shifted")
    src, tgt, names = load_multilabel(DataSpec(source="file", path="papers.jsonl"))
    observed = reveal_positives(y_target_train, revealed=0.3, seed=0)

Synthetic abstracts are topic-tagged: each label owns a vocabulary, labels co-occur in
pairs, and the target domain differs from the source in style (filler words) and in
vocabulary. ``preset="easy"``: most label words are target-only real words, which a
pretrained encoder already relates to their label, so a source-only model transfers well.
``preset="shifted"``: target cues are nonce tokens and words reassigned from another
label, labels share at most one word, and label priors shift between the domains.
Real data: columns ``text``, ``labels`` (a list, or a string split on ``|``) and
``domain`` (values ``options.source_domain`` / ``options.target_domain``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from adaptune.job.spec import DataSpec

Corpus = tuple[list[str], list[list[str]]]

# label -> 12 words: [0:2] shared by both domains, [2:8] source-only, [8:12] target-only.
VOCAB: dict[str, tuple[str, ...]] = {
    "genetics": (
        "gene",
        "allele",
        "genome",
        "mutation",
        "locus",
        "chromosome",
        "heritability",
        "linkage",
        "variant",
        "sequencing",
        "crispr",
        "snp",
    ),
    "oncology": (
        "tumor",
        "cancer",
        "metastasis",
        "carcinoma",
        "chemotherapy",
        "biopsy",
        "malignant",
        "lymphoma",
        "oncogene",
        "radiotherapy",
        "remission",
        "sarcoma",
    ),
    "cardiology": (
        "heart",
        "cardiac",
        "artery",
        "arrhythmia",
        "infarction",
        "stent",
        "ventricle",
        "valve",
        "hypertension",
        "cholesterol",
        "pulse",
        "aorta",
    ),
    "neurology": (
        "brain",
        "neuron",
        "cortex",
        "seizure",
        "dementia",
        "synapse",
        "stroke",
        "epilepsy",
        "migraine",
        "spinal",
        "nerve",
        "cognition",
    ),
    "immunology": (
        "immune",
        "antibody",
        "vaccine",
        "antigen",
        "lymphocyte",
        "cytokine",
        "allergy",
        "inflammation",
        "infection",
        "pathogen",
        "virus",
        "tcell",
    ),
    "imaging": (
        "scan",
        "mri",
        "image",
        "radiology",
        "ultrasound",
        "tomography",
        "contrast",
        "xray",
        "pixel",
        "segmentation",
        "resolution",
        "camera",
    ),
}
# Style: formal abstracts (source) vs. informal posts (target).
FILLER = {
    "source": (
        "we",
        "propose",
        "study",
        "results",
        "method",
        "significant",
        "cohort",
        "analysis",
        "patients",
        "observed",
        "data",
        "trial",
        "findings",
        "model",
    ),
    "target": (
        "so",
        "today",
        "honestly",
        "folks",
        "lol",
        "news",
        "check",
        "thread",
        "wow",
        "people",
        "read",
        "post",
        "thoughts",
        "new",
    ),
}


def _label_words(words: tuple[str, ...], domain: str) -> tuple[str, ...]:
    return words[:8] if domain == "source" else words[:2] + words[8:]


# The shifted preset's target-only cues: made-up tokens that mean nothing to a pretrained
# encoder, so a source model cannot map them to a label by meaning (4 per label).
NONCE = (
    ("dax", "wug", "blicket", "toma"),
    ("fep", "zib", "kiki", "glorp"),
    ("snerk", "vimble", "quasp", "trelp"),
    ("fomble", "yirk", "plosh", "drabe"),
    ("skiv", "mool", "zont", "grell"),
    ("thrip", "nabe", "croy", "bouba"),
)
PRESETS = ("easy", "shifted")


def _shifted_words(names: list[str], index: int, domain: str) -> tuple[str, ...]:
    """The shifted preset's cue words of label `index` in `domain`.

    Source: the label's 6 source-only words plus its shared words. Shared: one word for
    even-indexed labels, none for odd ones. Target: the shared words, 4 nonce tokens, and
    one source word of label index-2 reassigned to this label (a cue the source model
    reads as the wrong label).
    """
    own = VOCAB[names[index]]
    shared = own[:1] if index % 2 == 0 else ()
    if domain == "source":
        return shared + own[2:8]
    other = VOCAB[names[(index - 2) % len(names)]]
    return shared + NONCE[index] + (other[2],)


def _priors(n: int, domain: str) -> np.ndarray:
    """The shifted preset's label-prior shift: label 0 common in the source and rare in
    the target, the last label the reverse (weights n..1 against 1..n)."""
    w = np.arange(n, 0, -1.0) if domain == "source" else np.arange(1, n + 1.0)
    return w / w.sum()


def _document(
    rng: np.random.Generator, names: list[str], domain: str, cooccur: float, preset: str
) -> Any:
    n = len(names)
    if preset == "easy":
        first = int(rng.integers(n))
        words_of = lambda i: _label_words(VOCAB[names[i]], domain)  # noqa: E731
    else:
        first = int(rng.choice(n, p=_priors(n, domain)))
        words_of = lambda i: _shifted_words(names, i, domain)  # noqa: E731
    labels = {first}
    if rng.random() < cooccur:  # pairs (0,1), (2,3), ... tend to appear together
        labels.add(first ^ 1 if (first ^ 1) < n else first)
    if rng.random() < 0.15:
        labels.add(int(rng.integers(n)))
    words = [str(w) for w in rng.choice(FILLER[domain], size=int(rng.integers(5, 8)))]
    for i in sorted(labels):
        words += [str(w) for w in rng.choice(words_of(i), size=int(rng.integers(2, 4)))]
    if rng.random() < 0.3:  # a distractor word of an absent label
        words.append(str(rng.choice(words_of(int(rng.integers(n))))))
    rng.shuffle(words)
    return " ".join(words), [names[i] for i in sorted(labels)]


def generate_multilabel(
    n: int, seed: int = 0, n_labels: int = 6, cooccur: float = 0.5, preset: str = "easy"
) -> tuple[Corpus, Corpus, list[str]]:
    """`n` source and `n` target documents over the first `n_labels` topics.

    preset "easy": 2 shared words per label, real target-only words, equal label priors
    (the encoder maps most target words to their label by meaning). "shifted": target
    cues are nonce tokens plus a word reassigned from another label, 0 or 1 shared word
    per label, and a label-prior shift between the domains (_shifted_words, _priors).
    """
    if not 2 <= n_labels <= len(VOCAB):
        raise ValueError(f"n_labels must be in [2, {len(VOCAB)}], got {n_labels}")
    if preset not in PRESETS:
        raise ValueError(f"preset must be one of {PRESETS}, got {preset!r}")
    names = list(VOCAB)[:n_labels]
    out = []
    for k, domain in enumerate(("source", "target")):
        rng = np.random.default_rng([seed, k])
        docs = [_document(rng, names, domain, cooccur, preset) for _ in range(n)]
        out.append(([d[0] for d in docs], [d[1] for d in docs]))
    return out[0], out[1], names


def _as_labels(value: Any) -> list[str]:
    if isinstance(value, str):
        return [s.strip() for s in value.split("|") if s.strip()]
    return [str(v) for v in value]


def load_multilabel(data: DataSpec) -> tuple[Corpus, Corpus, list[str]]:
    """Source and target corpora from a file or HF dataset with a ``domain`` column."""
    from adaptune.data import load_records

    own = {"source_domain", "target_domain", "revealed"}
    opts = {k: v for k, v in data.options.items() if k not in own}
    rec = load_records(
        data.model_copy(update={"options": opts}), needed=("text", "labels", "domain")
    )
    split: dict[str, Corpus] = {}
    for key in ("source", "target"):
        want = str(data.options.get(f"{key}_domain", key))
        rows = [i for i, d in enumerate(rec["domain"]) if str(d) == want]
        if not rows:
            raise ValueError(f"no rows with domain '{want}' (the {key} domain)")
        split[key] = (
            [str(rec["text"][i]) for i in rows],
            [_as_labels(rec["labels"][i]) for i in rows],
        )
    names = sorted({lab for corpus in split.values() for labs in corpus[1] for lab in labs})
    return split["source"], split["target"], names


def multi_hot(labels: list[list[str]], names: list[str]) -> np.ndarray:
    index = {name: i for i, name in enumerate(names)}
    y = np.zeros((len(labels), len(names)), dtype=np.float32)
    for row, labs in enumerate(labels):
        for lab in labs:
            if lab in index:
                y[row, index[lab]] = 1.0
    return y


def reveal_positives(y: np.ndarray, revealed: float, seed: int = 0) -> np.ndarray:
    """Observed labels: a fraction `revealed` of each label's positives, at least one."""
    if not 0.0 < revealed <= 1.0:
        raise ValueError(f"revealed must be in (0, 1], got {revealed}")
    rng = np.random.default_rng(seed)
    observed = np.zeros_like(y)
    for label in range(y.shape[1]):
        pos = np.flatnonzero(y[:, label] > 0)
        if len(pos) == 0:
            continue
        keep = rng.choice(pos, size=max(1, round(len(pos) * revealed)), replace=False)
        observed[keep, label] = 1.0
    return observed
