//! The facebook adapter.
