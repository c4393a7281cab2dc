//! No library code: the checks live in `tests/`.
