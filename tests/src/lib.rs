//! Test harness shared by the end-to-end tests.

use std::path::PathBuf;

/// Returns the path of a file under the workspace `data/` folder.
pub fn data_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../data").join(name)
}
