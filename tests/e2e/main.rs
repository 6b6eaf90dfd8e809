//! End-to-end tests (one binary): dump -> extract/index -> queries -> server -> games.

mod dump_to_index;
mod extract;
mod fixtures;
mod game_flow;
mod game_quality;
mod messenger_flow;
mod parts;
