"""Real data through Hugging Face ``datasets``: local CSV / JSONL / Parquet files, a
dataset on local disk, or hub names.

records = load_records(DataSpec(source="file", path="news.csv",
                                columns={"text": "headline", "score": "sentiment"}),
                       needed=("text", "score"))

Source ``hf`` with a local ``path`` never asks the hub: a ``save_to_disk`` folder (a
Dataset, or a DatasetDict whose ``split`` is taken), one ``.arrow`` file (as
``save_to_disk`` or the hub cache writes them) or a ``.parquet`` file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from adaptune.job.datafile import inspect_file
from adaptune.job.spec import DataSpec

FILE_FORMATS = {
    ".csv": "csv",
    ".tsv": "csv",
    ".json": "json",
    ".jsonl": "json",
    ".parquet": "parquet",
}


def load_records(data: DataSpec, needed: tuple[str, ...]) -> dict[str, list[Any]]:
    """Columns `needed` (our names), renamed from the data's own via ``data.columns``.
    A file is checked as ``validate`` checked it (job/datafile.py) before datasets reads
    it, so a file changed since gives the same one-line error, not a parser's traceback;
    a dataset's own code never runs (trust_remote_code is refused)."""
    import datasets

    if data.source == "file":
        if not data.path:
            raise ValueError("data.path is required for source 'file'")
        path = Path(data.path)
        fmt = FILE_FORMATS.get(path.suffix.lower())
        if fmt is None:
            raise ValueError(
                f"unsupported file type '{path.suffix}' (use {', '.join(FILE_FORMATS)})"
            )
        if not path.exists():
            raise FileNotFoundError(f"data file not found: {path}")
        inspect_file(path, {}, data.columns, data.n_train)  # readable, parses, has rows
        kwargs = {"delimiter": "\t"} if path.suffix.lower() == ".tsv" else {}
        ds = datasets.load_dataset(fmt, data_files=str(path), split="train", **kwargs)
    elif data.source == "hf":
        if not data.path:
            raise ValueError("data.path (a dataset name) is required for source 'hf'")
        if "trust_remote_code" in data.options:
            raise ValueError("data.options.trust_remote_code is not allowed")
        local = Path(data.path)
        if local.exists():
            ds = _local_dataset(local, data.split)
        else:
            ds = datasets.load_dataset(data.path, split=data.split, **data.options)
    else:
        raise ValueError(f"unknown data source '{data.source}'")
    out = {}
    for name in needed:
        column = data.columns.get(name, name)
        if column not in ds.column_names:
            raise KeyError(
                f"column '{column}' (for '{name}') not in the data; columns: {ds.column_names}"
            )
        out[name] = ds[column][: data.n_train]
    return out


def _local_dataset(path: Path, split: str) -> Any:
    """A dataset on local disk: a save_to_disk folder, or one .arrow / .parquet file."""
    import datasets

    if path.is_dir():
        ds = datasets.load_from_disk(str(path))
        if isinstance(ds, datasets.DatasetDict):
            if split not in ds:
                raise KeyError(f"split '{split}' not in {path}; its splits: {list(ds)}")
            return ds[split]
        return ds
    suffix = path.suffix.lower()
    if suffix == ".arrow":
        return datasets.Dataset.from_file(str(path))
    if suffix == ".parquet":
        return datasets.Dataset.from_parquet(str(path))
    raise ValueError(
        f"{path}: a local hf dataset is a save_to_disk folder, an .arrow or a .parquet file"
    )
