"""`python -m sagesync` is the same as the `sagesync` command."""

from sagesync.cli.main import main

main()
