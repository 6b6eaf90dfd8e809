//! Wikitext to clean text, sentences, tokens, stems and entities.
