"""``python -m servespec`` runs the CLI."""

from .cli import main

main()
