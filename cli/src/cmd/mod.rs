//! One module per subcommand.

pub mod build;
pub mod chat;
pub mod extract;
pub mod query;
pub mod sentences;
pub mod serve;
pub mod webhook;
