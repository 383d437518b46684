"""How trials run: on Ray Tune (local or cluster), in a Ray-free local process pool, or replayed."""
