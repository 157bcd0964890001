//! Unit tests of the precheck as a whole, on fixture trees.
