"""The search service: searchers, the Tune trainable, the store callback, run/resume/replay."""
