//! The line adapter.
