//! Errors that say what went wrong and what to do next.

use std::fmt;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The user asked for something that cannot be done as asked.
    #[error("{message}")]
    Usage { message: String, help: String },
    /// The migration does not fit the live schema.
    #[error(transparent)]
    Plan(#[from] tandem_core::PlanError),
    #[error("cannot connect to {target}: {}", db_message(.source))]
    Connect {
        target: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// A statement failed.
    #[error("{context}: {}", db_message(.source))]
    Database {
        context: String,
        help: String,
        #[source]
        source: tokio_postgres::Error,
    },
    /// tandem could not take a lock within its retry budget.
    #[error("{message}")]
    LockBudget { message: String, help: String },
    /// Another tandem holds the runner lock.
    #[error("{message}")]
    Busy { message: String, help: String },
    /// Rows do not have the shape the migration promises.
    #[error("{message}")]
    Verification { message: String, help: String },
    /// tandem broke one of its own promises (a query's result without the expected column, a
    /// value it wrote that it cannot read back): a bug in tandem, not in the user's input.
    #[error("internal error: {message}")]
    Internal { message: String },
}

/// The server's message, with its detail and hint, rather than tokio-postgres's "db error".
pub fn db_message(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut s = format!("{} (SQLSTATE {})", db.message(), db.code().code());
            if let Some(d) = db.detail() {
                s.push_str(&format!("; {d}"));
            }
            if let Some(h) = db.hint() {
                s.push_str(&format!("; hint: {h}"));
            }
            s
        }
        None => e.to_string(),
    }
}

impl Error {
    pub fn usage(message: impl Into<String>, help: impl Into<String>) -> Error {
        Error::Usage {
            message: message.into(),
            help: help.into(),
        }
    }

    pub(crate) fn internal(message: impl Into<String>) -> Error {
        Error::Internal {
            message: message.into(),
        }
    }

    pub(crate) fn connect(target: &str, source: tokio_postgres::Error) -> Error {
        Error::Connect {
            target: target.to_string(),
            source,
        }
    }

    pub fn db(context: impl fmt::Display, source: tokio_postgres::Error) -> Error {
        Error::Database {
            context: context.to_string(),
            help: String::new(),
            source,
        }
    }

    /// What the user should do next.
    pub fn help(&self) -> String {
        match self {
            Error::Usage { help, .. }
            | Error::LockBudget { help, .. }
            | Error::Busy { help, .. }
            | Error::Verification { help, .. } => help.clone(),
            Error::Plan(p) => p.help.clone(),
            Error::Connect { .. } => {
                "check --url / DATABASE_URL (or PGHOST, PGPORT, PGUSER, PGDATABASE) and that the server is running".into()
            }
            Error::Internal { .. } => {
                "this is a bug in tandem: please report it with the command, the migration file and your PostgreSQL version; what ran before is recorded, so the same command can be run again once fixed".into()
            }
            Error::Database { help, .. } if !help.is_empty() => help.clone(),
            // Steps carry their own help (what is done and recorded); this is every other
            // statement (reading the catalog or the state, a check), where only this is true.
            Error::Database { .. } => {
                "the statement failed and changed nothing; fix the cause the server reports, then run the same command again (`tandem status` shows whether a migration is in progress)".into()
            }
        }
    }

    /// The SQLSTATE, when the server sent one.
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            Error::Database { source, .. } | Error::Connect { source, .. } => {
                source.as_db_error().map(|d| d.code().code())
            }
            _ => None,
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
