"""`python -m sisessions` runs the command line."""
from sisessions.cli import main

main()
