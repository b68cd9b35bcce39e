"""Replacing a file so that a crash leaves the old one or the new one, never half of either."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path


def replace_file(path: Path, data: bytes, *, mode: int, dir_mode: int = 0o777) -> None:
    """Write ``data`` to a hidden temporary file beside ``path``, then rename it over ``path``.

    The temporary file is created readable by its owner only and gets ``mode`` just before the
    rename, so a secret is never readable by others, even for a moment. Missing folders are
    made with ``dir_mode`` (less the umask). Raises OSError; the temporary file is removed.
    """
    path.parent.mkdir(mode=dir_mode, parents=True, exist_ok=True)
    # Hidden and without the final name's suffix: nothing that reads *.desktop or *.toml sees
    # it half-written.
    fd, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise
