"""Every private Ray symbol a trial actor uses, one function each (the driver's are in
driver/upstream.py). Checked against ray 2.60.0; tests/unit/test_upstream.py imports
each, so an upgrade that moves one fails there, in seconds."""

from __future__ import annotations

from typing import Any

__all__ = ["device_loader", "storage_context"]


def storage_context(storage_path: str, run_name: str) -> Any:
    """Ray Train's storage layout for a run (its checkpoint folders, on any filesystem
    pyarrow reaches), for a trial that trains in its Tune actor without a worker group.
    Private: ray.train.v2._internal.execution.storage.StorageContext (ray 2.60.0)."""
    from ray.train.v2._internal.execution.storage import StorageContext

    return StorageContext(storage_path, run_name)


def device_loader(loader: Any, device: Any) -> Any:
    """`loader` whose batches arrive on `device`, overlapping the copy as
    ray.train.torch.prepare_data_loader does (it needs a worker group).
    Private: ray.train.torch.train_loop_utils._WrappedDataLoader (ray 2.60.0)."""
    from ray.train.torch.train_loop_utils import _WrappedDataLoader

    return _WrappedDataLoader(loader, device, auto_transfer=True)
