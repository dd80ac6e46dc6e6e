"""The Optuna study of every search, kept in an SQLite file next to the MLflow store.

    url = study_url(tracking_uri, state_dir)   # sqlite:////…/optuna.db
    storage = open_storage(url)                 # what OptunaSearch(storage=…) is given

The sampler's own record of the search (each trial's parameters, its value per epoch,
pruned trials) lives there rather than in the driver's memory, so optuna-dashboard shows a
running search live (`adaptune dashboard`, commands/dashboard.py) and a resume continues
the same study (Tune pickles the searcher with the storage's URL). One study per search,
named after it. The file sits beside a local SQLite MLflow store, else in the state folder
(a tracking server's database is MLflow's own: Optuna's tables are kept out of it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = ["STUDY_FILE", "open_storage", "study_url"]

STUDY_FILE = "optuna.db"


def study_url(tracking_uri: str, state_dir: Path) -> str:
    """The study store's SQLAlchemy URL for a search recorded at `tracking_uri`."""
    folder = state_dir
    if tracking_uri.startswith("sqlite:///"):
        folder = Path(tracking_uri.removeprefix("sqlite:///")).parent
    return f"sqlite:///{(folder / STUDY_FILE).resolve()}"


def open_storage(url: str) -> Any:
    """Optuna's RDB storage at `url`; a writer waits up to 60 s for another's lock (two
    searches of one state folder share the file)."""
    import optuna

    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 60}})
