"""The working_dir `adaptune submit` uploads, measured before it goes (cluster.py).

    files = measure(Path("."), ["data/raw/"])    # {relative path: bytes}, as Ray packs it
    check_size(Path("."), ["data/raw/"])         # ValueError naming the largest files

Ray packs a job's working_dir into one zip and refuses it above its limit only after
the upload starts, with no word of what is large. The walk here is Ray's own (its
excludes, ``.gitignore`` unless RAY_RUNTIME_ENV_IGNORE_GITIGNORE=1, ``.rayignore``), so
what is measured is what would travel. Sizes are uncompressed: the zip is smaller, so a
refusal here is on the safe side.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["LIMIT_BYTES", "check_size", "measure"]

# Ray's documented limit for a job's working_dir (the GCS upload limit of Ray < 2.50;
# 2.60's is 512 MiB, but a cluster on an older Ray refuses above 100 MiB).
LIMIT_BYTES = 100 * 1024**2
SHOWN = 5  # largest files and folders named in the refusal


def measure(root: Path, excludes: Sequence[str]) -> dict[str, int]:
    """Every file Ray would pack from `root` with these excludes (gitignore syntax), and
    its size in bytes."""
    from adaptune.driver.upstream import walk_working_dir

    root = root.resolve()
    sizes: dict[str, int] = {}

    def add(path: Path) -> None:
        if path.is_file():
            sizes[path.relative_to(root).as_posix()] = path.stat().st_size

    walk_working_dir(root, excludes, add)
    return sizes


def check_size(root: Path, excludes: Sequence[str], limit: int = LIMIT_BYTES) -> int:
    """The working_dir's size in bytes; ValueError listing the largest files and
    top-level folders when it is over `limit`."""
    sizes = measure(root, excludes)
    total = sum(sizes.values())
    if total <= limit:
        return total
    folders: dict[str, int] = {}
    for rel, size in sizes.items():
        top, _, rest = rel.partition("/")
        if rest:
            folders[top + "/"] = folders.get(top + "/", 0) + size
    largest = sorted(sizes.items(), key=lambda kv: -kv[1])[:SHOWN]
    biggest = sorted(folders.items(), key=lambda kv: -kv[1])[:SHOWN]
    lines = [
        f"{root}: the working_dir to upload holds {_mib(total)} in {len(sizes)} files, over "
        f"Ray's {_mib(limit)} limit for a job; largest files:",
        *(f"  {_mib(size):>10}  {rel}" for rel, size in largest),
    ]
    if biggest:
        lines.append("largest folders:")
        lines.extend(f"  {_mib(size):>10}  {rel}" for rel, size in biggest)
    lines.append(
        "leave them out with --exclude PATTERN (gitignore syntax, repeatable) or a "
        ".rayignore file, and keep data where the cluster reads it (s3://, a shared "
        "path, a Hugging Face dataset)"
    )
    raise ValueError("\n".join(lines))


def _mib(n: int) -> str:
    return f"{n / 1024**2:.1f} MiB"
