//! Connections from a `mysql://` or `mariadb://` URL.

use crate::error::{Error, Result};
use mysql_async::{Opts, OptsBuilder, Pool, PoolConstraints, PoolOpts};

/// Whether a URL selects this backend.
pub fn is_mysql_url(url: &str) -> bool {
    url.starts_with("mysql://") || url.starts_with("mariadb://")
}

/// Connection options from a URL; `mariadb://` is read as `mysql://`. The URL must name a
/// database: every tandem table and shadow table lives there.
pub fn options(url: &str) -> Result<Opts> {
    let normalized = match url.strip_prefix("mariadb://") {
        Some(rest) => format!("mysql://{rest}"),
        None => url.to_string(),
    };
    let opts = Opts::from_url(&normalized).map_err(|e| Error::Invalid {
        location: "the database URL".into(),
        message: format!("it cannot be read: {e}"),
        help: "write it as mysql://user:password@host:port/database".into(),
    })?;
    if opts.db_name().is_none_or(|d| d.is_empty()) {
        return Err(Error::NoDatabase);
    }
    let builder = OptsBuilder::from_opts(opts)
        // One connection per job (copy, applier, cut-over, checks, application of the lock).
        .pool_opts(PoolOpts::default().with_constraints(
            PoolConstraints::new(0, 16).unwrap_or_default(),
        ))
        // The session settings every tandem connection runs with: strict, so a bad value is
        // an error instead of a silent truncation in the shadow table.
        .init(vec![
            "SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@sql_mode, ''), 'STRICT_ALL_TABLES', 'NO_AUTO_VALUE_ON_ZERO')",
        ]);
    Ok(builder.into())
}

/// A pool for `url`, checked by opening one connection.
pub async fn connect(url: &str) -> Result<Pool> {
    let opts = options(url)?;
    let target = format!(
        "{}:{}/{}",
        opts.ip_or_hostname(),
        opts.tcp_port(),
        opts.db_name().unwrap_or_default()
    );
    let pool = Pool::new(opts);
    match pool.get_conn().await {
        Ok(_) => Ok(pool),
        Err(source) => Err(Error::Connect { target, source }),
    }
}
