"""`python -m segnas` runs the command line."""

from segnas.app.cli import main

main()
