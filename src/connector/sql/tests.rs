//! Tests of the sql kind.
