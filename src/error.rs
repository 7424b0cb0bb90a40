//! Errors that end a run early, and the exit codes they map to.
//!
//! Verification failures are not errors: they are results, carried in the report, and map to exit
//! code 1 in `main`. Everything here stops the run before or while it works.

use thiserror::Error;

/// Exit code: everything verified and passed.
pub(crate) const EXIT_OK: i32 = 0;
/// Exit code: a verification failed (compile, test, or a required level not reached).
pub(crate) const EXIT_FAILED: i32 = 1;
/// Exit code: bad input or a broken environment (unknown triple, malformed policy, missing
/// manifest, cargo not found).
pub(crate) const EXIT_BAD_INPUT: i32 = 2;
/// Exit code: the tool itself failed (I/O error writing a report, cargo output it cannot read).
pub(crate) const EXIT_INTERNAL: i32 = 3;
/// Exit code: interrupted by SIGINT/SIGTERM (results so far are still reported).
pub(crate) const EXIT_INTERRUPTED: i32 = 130;

/// What caused an error, kept for whoever wants the chain (`std::error::Error::source`).
pub(crate) type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

/// The message says what failed, why and the fix, in one line (it already includes the
/// source's text); the source is the underlying error itself.
#[derive(Debug, Error)]
pub(crate) enum Error {
    /// The user's input or environment is wrong; the message names the problem and the fix.
    #[error("{message}")]
    BadInput {
        message: String,
        #[source]
        source: Option<Source>,
    },
    /// The tool could not do its own work.
    #[error("{message}")]
    Internal {
        message: String,
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    pub(crate) fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput {
            message: msg.into(),
            source: None,
        }
    }

    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Error::Internal {
            message: msg.into(),
            source: None,
        }
    }

    /// Bad input caused by `source` (whose text `msg` already gives).
    pub(crate) fn bad_input_from(msg: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::BadInput {
            message: msg.into(),
            source: Some(source.into()),
        }
    }

    /// The tool failed because of `source` (whose text `msg` already gives).
    pub(crate) fn internal_from(msg: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Internal {
            message: msg.into(),
            source: Some(source.into()),
        }
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput { .. } => EXIT_BAD_INPUT,
            Error::Internal { .. } => EXIT_INTERNAL,
        }
    }
}

/// `"{what}: {error}"`, keeping the error as the source.
pub(crate) trait Context<T> {
    fn or_bad_input(self, what: impl FnOnce() -> String) -> Result<T>;
    fn or_internal(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Source> + std::fmt::Display> Context<T> for std::result::Result<T, E> {
    fn or_bad_input(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::bad_input_from(format!("{}: {e}", what()), e))
    }

    fn or_internal(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::internal_from(format!("{}: {e}", what()), e))
    }
}

pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_keeps_the_message_and_the_source() {
        let io: std::result::Result<(), std::io::Error> = Err(std::io::Error::new(
            std::io::ErrorKind::NotFound,
            "no such file",
        ));
        let e = io
            .or_bad_input(|| "cannot read x.toml".to_owned())
            .unwrap_err();
        assert_eq!(e.to_string(), "cannot read x.toml: no such file");
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "no such file");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(std::error::Error::source(&Error::internal("plain")).is_none());
    }
}
