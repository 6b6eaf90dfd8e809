//! The slack adapter.
