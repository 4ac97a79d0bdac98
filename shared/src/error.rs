//! The body of every error the API answers with.

use serde::{Deserialize, Serialize};

/// `{code, message}`: `code` is stable for programs, `message` is plain words for people.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A stable, machine-readable identifier such as `target_unreachable` or `not_found`.
    pub code: String,
    /// What went wrong, naming the field or the target involved; never a secret.
    pub message: String,
}
