//! On-disk shards and the lazy index reader.
