//! What can go wrong, each with what to do next.

/// An error of the MySQL backend. Messages name the file, operation and object involved.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot connect to {target}: {source}; check the URL (mysql://user:password@host:port/database), that the server runs and that the user may log in")]
    Connect {
        target: String,
        #[source]
        source: mysql_async::Error,
    },

    #[error("the URL has no database: write it as mysql://user@host:port/DATABASE")]
    NoDatabase,

    #[error("{context}: {source}")]
    Sql {
        context: String,
        #[source]
        source: mysql_async::Error,
    },

    /// The migration does not fit the live schema; nothing ran.
    #[error("{location}: {message}\n  help: {help}")]
    Invalid {
        location: String,
        message: String,
        help: String,
    },

    /// Tandem's state says something else is going on.
    #[error("{message}\n  help: {help}")]
    State { message: String, help: String },

    /// The server needs a setting the shadow-table copy relies on.
    #[error("the server is not set up for an online copy: {message}\n  help: {help}")]
    ServerSetup { message: String, help: String },

    /// The lock could not be had within the retry budget.
    #[error("{what}: could not get the metadata lock within {attempts} attempts of {timeout_secs}s each ({source}); a long transaction holds the table: find it with SHOW PROCESSLIST / information_schema.innodb_trx, let it finish, and run the command again")]
    LockBudget {
        what: String,
        attempts: u32,
        timeout_secs: u64,
        #[source]
        source: mysql_async::Error,
    },

    /// The tables differ after the copy: cut-over refused.
    #[error("checksum mismatch between {table} and its shadow {shadow} in {chunks} chunk(s) (first at key {first_key}); the cut-over did not run. Run `tandem rollback` to drop the shadow table and start again, and report this as a bug with the table's definition")]
    Checksum {
        table: String,
        shadow: String,
        chunks: usize,
        first_key: String,
    },

    /// The binary log stream failed.
    #[error("reading the binary log: {message}\n  help: {help}")]
    Binlog { message: String, help: String },
}

impl Error {
    pub(crate) fn sql(context: impl Into<String>) -> impl FnOnce(mysql_async::Error) -> Error {
        let context = context.into();
        move |source| Error::Sql { context, source }
    }

    pub(crate) fn state(message: impl Into<String>, help: impl Into<String>) -> Error {
        Error::State {
            message: message.into(),
            help: help.into(),
        }
    }
}

/// The server's error code, when the error came from the server.
pub(crate) fn server_code(error: &mysql_async::Error) -> Option<u16> {
    match error {
        mysql_async::Error::Server(e) => Some(e.code),
        _ => None,
    }
}

/// Server error codes tandem reacts to.
pub(crate) mod codes {
    /// ER_LOCK_WAIT_TIMEOUT: also what a metadata lock wait beyond lock_wait_timeout gives.
    pub const LOCK_WAIT_TIMEOUT: u16 = 1205;
    /// ER_ALTER_OPERATION_NOT_SUPPORTED / _REASON: the requested ALGORITHM/LOCK cannot do it.
    pub const ALTER_NOT_SUPPORTED: u16 = 1845;
    pub const ALTER_NOT_SUPPORTED_REASON: u16 = 1846;
    /// ER_TABLE_EXISTS_ERROR.
    pub const TABLE_EXISTS: u16 = 1050;
    /// ER_NO_SUCH_TABLE.
    pub const NO_SUCH_TABLE: u16 = 1146;
    /// ER_LOCK_DEADLOCK.
    pub const DEADLOCK: u16 = 1213;
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
