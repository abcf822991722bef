"""The review's vocabulary, as plain objects: records, their states, eligibility rules,
errors and progress. Pure: it imports nothing of review_pipeline outside itself, reads no file and
opens no database, so every other room can build on it."""
