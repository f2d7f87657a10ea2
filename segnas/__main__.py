"""`python -m segnas` runs the command line."""

from segnas.cli import main

main()
