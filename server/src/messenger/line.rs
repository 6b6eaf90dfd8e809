//! The line adapter.

use super::PlatformAdapter;
use super::common::{Env, SettingsError};

/// Builds the line adapter when its settings are in `env`.
pub fn from_env(_env: &Env) -> Result<Option<PlatformAdapter>, SettingsError> {
    Ok(None)
}
