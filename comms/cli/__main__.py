"""`python -m comms.cli`, the same as the `comms` script."""

from comms.cli import main

main()
