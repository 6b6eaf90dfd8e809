//! The Fraser bot server.
