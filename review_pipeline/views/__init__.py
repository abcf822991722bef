"""What the review holds, shown without changing it: ``review status`` and ``review export``."""
