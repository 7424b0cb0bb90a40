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

/// What failed (`message`), the error that caused it (`source`, kept whole for whoever wants
/// the chain, and never repeated in the message) and what to do (`fix`). [`Error::render`] is
/// the one line a user reads: `message: source; fix`.
#[derive(Debug, Error)]
pub(crate) enum Error {
    /// The user's input or environment is wrong.
    #[error("{message}")]
    BadInput {
        message: String,
        fix: Option<String>,
        #[source]
        source: Option<Source>,
    },
    /// The tool could not do its own work.
    #[error("{message}")]
    Internal {
        message: String,
        fix: Option<String>,
        #[source]
        source: Option<Source>,
    },
}

impl Error {
    /// Bad input; `msg` names the problem and the fix.
    pub(crate) fn bad_input(msg: impl Into<String>) -> Self {
        Error::BadInput {
            message: msg.into(),
            fix: None,
            source: None,
        }
    }

    pub(crate) fn internal(msg: impl Into<String>) -> Self {
        Error::Internal {
            message: msg.into(),
            fix: None,
            source: None,
        }
    }

    /// Bad input caused by `source` (which `msg` does not repeat).
    pub(crate) fn bad_input_from(msg: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::BadInput {
            message: msg.into(),
            fix: None,
            source: Some(source.into()),
        }
    }

    /// The tool failed because of `source` (which `msg` does not repeat).
    pub(crate) fn internal_from(msg: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Internal {
            message: msg.into(),
            fix: None,
            source: Some(source.into()),
        }
    }

    /// The same error, saying what to do about it.
    pub(crate) fn with_fix(mut self, what_to_do: impl Into<String>) -> Self {
        match &mut self {
            Error::BadInput { fix, .. } | Error::Internal { fix, .. } => {
                *fix = Some(what_to_do.into())
            }
        }
        self
    }

    /// The one line a user reads: what failed, what caused it (once), what to do.
    pub(crate) fn render(&self) -> String {
        let (Error::BadInput { message, fix, .. } | Error::Internal { message, fix, .. }) = self;
        let mut line = message.clone();
        // The whole chain, each link once: a source never repeats its own source's text.
        let mut source = std::error::Error::source(self);
        while let Some(e) = source {
            line.push_str(&format!(": {e}"));
            source = e.source();
        }
        if let Some(fix) = fix {
            line.push_str(&format!("; {fix}"));
        }
        line
    }

    pub(crate) fn exit_code(&self) -> i32 {
        match self {
            Error::BadInput { .. } => EXIT_BAD_INPUT,
            Error::Internal { .. } => EXIT_INTERNAL,
        }
    }
}

/// `what`, with the error as its source (rendered `what: error`).
pub(crate) trait Context<T> {
    fn or_bad_input(self, what: impl FnOnce() -> String) -> Result<T>;
    fn or_internal(self, what: impl FnOnce() -> String) -> Result<T>;
}

impl<T, E: Into<Source>> Context<T> for std::result::Result<T, E> {
    fn or_bad_input(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::bad_input_from(what(), e))
    }

    fn or_internal(self, what: impl FnOnce() -> String) -> Result<T> {
        self.map_err(|e| Error::internal_from(what(), e))
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
        // The source's text once: in the rendered line, not in the message.
        assert_eq!(e.to_string(), "cannot read x.toml");
        assert_eq!(e.render(), "cannot read x.toml: no such file");
        let fixed = Error::bad_input_from("cannot run `rustc`", std::io::Error::other("gone"))
            .with_fix("install Rust with rustup");
        assert_eq!(
            fixed.render(),
            "cannot run `rustc`: gone; install Rust with rustup"
        );
        assert_eq!(e.exit_code(), EXIT_BAD_INPUT);
        let source = std::error::Error::source(&e).expect("a source");
        assert_eq!(source.to_string(), "no such file");
        assert!(source.downcast_ref::<std::io::Error>().is_some());
        assert!(std::error::Error::source(&Error::internal("plain")).is_none());
        // A source with a source of its own: the whole chain, each text once.
        #[derive(Debug, thiserror::Error)]
        #[error("malformed manifest")]
        struct Malformed(#[source] std::io::Error);
        let nested: std::result::Result<(), Malformed> =
            Err(Malformed(std::io::Error::other("EOF at line 1")));
        let e = nested.or_bad_input(|| "a.tar.gz".to_owned()).unwrap_err();
        assert_eq!(e.render(), "a.tar.gz: malformed manifest: EOF at line 1");
    }
}
