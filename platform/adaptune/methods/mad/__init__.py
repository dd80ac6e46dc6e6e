"""MAD — Modulation Adapters (arXiv 2307.08528): multi-domain learning on a frozen CNN.

Per domain, every conv filter kernel of a shared frozen ResNet-26 is scaled by an
adapter alpha_d (full M x N, or factorised rank I), with domain BatchNorm and heads.

    adaptune search jobs/mad_digits.yaml
    adaptune search jobs/mad_paper.yaml --set data.path=/data/decathlon-1.0   # images
"""

from adaptune.method import Method, Mode
from adaptune.methods.hooks import hooks

from .config import METRICS, MADConfig

# scikit-learn's first digit (a 0), 8x8 grey in [0, 1]: the served model's input example
DIGIT_ZERO = [
    [v / 16 for v in row]
    for row in (
        (0, 0, 5, 13, 9, 1, 0, 0),
        (0, 0, 13, 15, 10, 15, 5, 0),
        (0, 3, 15, 2, 0, 11, 8, 0),
        (0, 4, 12, 0, 0, 8, 8, 0),
        (0, 5, 8, 0, 0, 9, 8, 0),
        (0, 4, 11, 0, 1, 12, 7, 0),
        (0, 2, 14, 5, 10, 12, 0, 0),
        (0, 0, 6, 13, 10, 0, 0, 0),
    )
]

METHOD = Method(
    name="mad",
    config_cls=MADConfig,
    **hooks(
        __name__,
        train_loader="step",
        search_report="report",
        job_report="compare",
        check_inputs="images",
        read_splits="imagedata",
    ),
    metric="val/acc",
    mode=Mode.MAX,
    metrics=METRICS,
    input_example=[{"image": DIGIT_ZERO, "domain": "original"}],
    description="modulation adapters (full or rank I) on a frozen ResNet-26, per-domain BN/heads",
    # image-folder: <path>/<domain>/<split>/<class>/*.png; decathlon: the Visual
    # Decathlon's annotations/<dataset>_<split>.json (methods/mad/images.py)
    data_sources=("digits-decathlon", "image-folder", "decathlon"),
    data_options=(
        "size",
        "pretrain",
        "per_class",
        "domains",
        "source_domain",
        "mean",
        "std",
        "num_workers",
    ),
    # size: pixels a side; 6 domains x 3 channels x 1797 digits take 2 GiB at 128
    data_option_ranges={"size": (8, 128), "per_class": (1, 1000), "num_workers": (0, 64)},
)

__all__ = ["METHOD", "MADConfig"]
