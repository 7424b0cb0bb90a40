//! Errors that end a run early, and the exit codes they map to.
//!
//! Verification failures are not errors: they are results, carried in the report, and map to exit
//! code 1 in `main`. Everything here stops the run before or while it works.

use thiserror::Error;

/// Exit code: everything verified and passed.
pub const EXIT_OK: i32 = 0;
/// Exit code: a verification failed (compile, test, or a required level not reached).
pub const EXIT_FAILED: i32 = 1;
/// Exit code: bad input or a broken environment (unknown triple, malformed policy, missing
/// manifest, cargo not found).
pub const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: the tool itself failed (I/O error writing a report, cargo output it cannot read).
pub const EXIT_INTERNAL: i32 = 3;
/// Exit code: interrupted by SIGINT/SIGTERM (results so far are still reported).
pub const EXIT_INTERRUPTED: i32 = 130;

#[derive(Debug, Error)]
pub enum Error {
    /// The user's input or environment is wrong; the message names the problem and the fix.
    #[error("{0}")]
    BadInput(String),
    /// The tool could not do its own work.
    #[error("{0}")]
    Internal(String),
}

impl Error {
    pub fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput(msg.into())
    }

    pub fn internal(msg: impl Into<String>) -> Self {
        Error::Internal(msg.into())
    }

    pub fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput(_) => EXIT_BAD_INPUT,
            Error::Internal(_) => EXIT_INTERNAL,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
