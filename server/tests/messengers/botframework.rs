//! The botframework adapter.
