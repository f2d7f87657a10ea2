"""`python -m segnas` runs the command line."""

from segnas.app.cli import main

if __name__ == "__main__":  # not again in a child process (trials side by side start fresh interpreters)
    main()
