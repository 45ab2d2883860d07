"""The parts of pyarrow a sagesync process never loads.

pyarrow imports every optional part its build has when `pyarrow.fs` loads (the S3, GCS, Azure
and HDFS filesystems; Parquet reading needs `pyarrow.fs`) and Substrait when `pyarrow.dataset`
loads. sagesync reads and writes local files only, and those parts' libraries (the AWS SDK
among them) cost each process some 8 MiB of memory it never uses. pyarrow treats a part that
fails to import as one its build lacks, which is what marking it absent here does. Only the
command's process and its workers do this, first thing; a program that imports sagesync as a
library keeps pyarrow whole.
"""

from __future__ import annotations

import sys

UNUSED = ("pyarrow._s3fs", "pyarrow._gcsfs", "pyarrow._azurefs", "pyarrow._hdfs",
          "pyarrow._substrait")


def leave_out_unused() -> None:
    """Mark the UNUSED parts absent, unless one is loaded already."""
    for name in UNUSED:
        sys.modules.setdefault(name, None)  # type: ignore[arg-type]  # None: import fails
