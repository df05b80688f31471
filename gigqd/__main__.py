"""`python -m gigqd` is `gigqd`."""

from .cli import main

main()
