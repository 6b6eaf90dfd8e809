//! Fraser word games as pure state transitions.
