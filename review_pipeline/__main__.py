"""``python -m review_pipeline`` runs the ``review`` command."""

from review_pipeline.cli import cli

cli()
