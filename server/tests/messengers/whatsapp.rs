//! The whatsapp adapter.
