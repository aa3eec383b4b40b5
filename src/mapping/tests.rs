//! Unit tests of the mapping engine.
