//! The viber adapter.
