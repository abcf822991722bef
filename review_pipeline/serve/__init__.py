"""``review serve``: screening and extraction in the browser, one reviewer at a time, into the
same files the command line reads (:mod:`.desk` for screening, :mod:`.forms` for extraction,
:mod:`.pages` for the pages, :mod:`.app` for the server)."""

from review_pipeline.serve.app import App, Served, make_app
from review_pipeline.serve.desk import Desk, Open, Shown, conflicts, resolve
from review_pipeline.serve.forms import Bench

__all__ = ["App", "Bench", "Desk", "Open", "Served", "Shown", "conflicts", "make_app",
           "resolve"]
