"""The stages of a review, one package each, in the order data flows through them:
fetch, import_, dedup, screen, extract, prisma, report.

Every stage has the same anatomy: ``stage.py`` holds ``run(db, ...)``, which reads the
stage's files, hands plain objects to the stage's pure helpers, and writes through
:mod:`review_pipeline.store` in one transaction; the other modules of the package are those
helpers; ``__init__`` names what the stage offers to the CLI and the API.
"""
