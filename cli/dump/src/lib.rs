//! Streaming reader for MediaWiki XML dumps.
