"""review_pipeline: a systematic review run as code.

The stages are modules of the same name: ``fetch``, ``import_``, ``dedup``, ``screen``,
``extract``, ``prisma`` and ``report``; ``db`` holds the store and the record states.
"""

__version__ = "0.1.0"
