"""``python -m review_pipeline`` runs the ``review`` command."""

from .cli import cli

cli()
