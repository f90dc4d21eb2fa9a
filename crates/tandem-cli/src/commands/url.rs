//! `tandem url`: how an application connects to one version of the schema.
//!
//! A version is chosen with `search_path`; the most portable way to hand it to a client is the
//! libpq `options` startup parameter (`-c search_path=...`), which node-postgres, psycopg,
//! sqlx, JDBC and Rails all pass through. The base schema comes after the version schema so
//! that functions, types and extensions installed there (uuid-ossp, pgcrypto, PostGIS) still
//! resolve unqualified.

use clap::ValueEnum;
use tandem_pg::{MigrationStatus, Record, Status};

/// What `tandem url` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum UrlFormat {
    /// A connection URL with `options=-c search_path=...` (the password left out).
    Url,
    /// The value for `PGOPTIONS` or a driver's `options` setting: `-c search_path=...`.
    Options,
    /// The schema list, for `SET search_path TO ...` or a pooler's per-database setting.
    SearchPath,
}

/// The search_path value for a version: its version schema, then the base schema.
pub fn search_path(version_schema: &str, base_schema: &str) -> String {
    let version = tandem_core::quote::ident(version_schema);
    if version_schema == base_schema {
        version
    } else {
        format!("{version}, {}", tandem_core::quote::ident(base_schema))
    }
}

/// The libpq `options` value that sets `search_path`. Spaces separate options in libpq, so a
/// space inside the value is escaped with a backslash.
pub fn options(search_path: &str) -> String {
    let mut escaped = String::new();
    for c in search_path.chars() {
        if c == ' ' || c == '\\' {
            escaped.push('\\');
        }
        escaped.push(c);
    }
    format!("-c search_path={escaped}")
}

/// Which version schema a client of `migration` (default: the latest) should use.
pub fn version_schema_for(
    status: &Status,
    history: &[Record],
    migration: Option<&str>,
) -> Result<String, miette::Report> {
    let Some(latest) = status.migration.as_deref() else {
        return Err(miette::miette!(
            help = format!(
                "run `tandem start FILE` first; until then clients use schema {} directly",
                status.schema
            ),
            "schema {} has no migrations yet",
            status.schema
        ));
    };
    let history: Vec<&Record> = history
        .iter()
        .filter(|r| r.status != MigrationStatus::RolledBack)
        .collect();
    let wanted = migration.unwrap_or(latest);
    if wanted == latest {
        return status
            .version_schema
            .clone()
            .ok_or_else(|| miette::miette!("migration {latest} has no version schema recorded"));
    }
    let live: Vec<String> = live_migrations(status, &history);
    let position = history.iter().position(|r| r.name == wanted);
    let is_previous = status.status == Some(MigrationStatus::InProgress)
        && position.is_some()
        && position.map(|p| p + 1) == history.iter().position(|r| r.name == latest);
    if is_previous {
        // While a migration is in progress, the one before it is the old version.
        return Ok(status
            .previous_version_schema
            .clone()
            .unwrap_or_else(|| status.schema.clone()));
    }
    let live = live.join(", ");
    Err(match position {
        None => miette::miette!(
            help = format!("the live versions are: {live}"),
            "no migration named {wanted} in schema {}",
            status.schema
        ),
        Some(_) => miette::miette!(
            help = format!(
                "the live versions are: {live}; clients of {wanted} must move to one of them"
            ),
            "the version schema of {wanted} no longer exists (a later migration completed)"
        ),
    })
}

fn live_migrations(status: &Status, history: &[&Record]) -> Vec<String> {
    let mut live = Vec::new();
    if let Some(latest) = &status.migration {
        if status.status == Some(MigrationStatus::InProgress) {
            if let Some(p) = history.iter().position(|r| &r.name == latest) {
                if p > 0 {
                    live.push(history[p - 1].name.clone());
                }
            }
        }
        live.push(latest.clone());
    }
    live
}

/// `base` (a `postgres://` URL or a `key=value` connection string; `None`: the libpq
/// environment variables) with the password removed and `options` set to `opts`.
pub fn connection_url(base: Option<&str>, opts: &str) -> String {
    match base {
        Some(url) if url.starts_with("postgres://") || url.starts_with("postgresql://") => {
            url_with_options(url, opts)
        }
        Some(dsn) => dsn_with_options(dsn, opts),
        None => url_with_options(&url_from_env(), opts),
    }
}

fn url_from_env() -> String {
    let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let host = var("PGHOST").unwrap_or_else(|| "localhost".into());
    let mut url = String::from("postgresql://");
    if let Some(user) = var("PGUSER") {
        url.push_str(&percent_encode(&user));
        url.push('@');
    }
    if host.starts_with('/') {
        // A socket directory goes in the query, as libpq reads it.
        url.push_str(&format!("?host={}", percent_encode(&host)));
    } else {
        url.push_str(&host);
    }
    if let Some(port) = var("PGPORT") {
        if !host.starts_with('/') {
            url.push_str(&format!(":{port}"));
        }
    }
    if let Some(db) = var("PGDATABASE") {
        if let Some(q) = url.find('?') {
            url.insert_str(q, &format!("/{}", percent_encode(&db)));
        } else {
            url.push_str(&format!("/{}", percent_encode(&db)));
        }
    }
    if let Some(mode) = var("PGSSLMODE") {
        url.push(if url.contains('?') { '&' } else { '?' });
        url.push_str(&format!("sslmode={}", percent_encode(&mode)));
    }
    url
}

fn url_with_options(url: &str, opts: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgresql", url));
    let (before_query, query) = match rest.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (rest, None),
    };
    let (authority, path) = match before_query.find('/') {
        Some(i) => (&before_query[..i], &before_query[i..]),
        None => (before_query, ""),
    };
    let authority = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            format!("{user}@{hosts}")
        }
        None => authority.to_string(),
    };
    let mut params: Vec<String> = query
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .filter(|p| {
            let key = p.split_once('=').map_or(*p, |(k, _)| k);
            key != "password" && key != "options"
        })
        .map(str::to_string)
        .collect();
    params.push(format!("options={}", percent_encode(opts)));
    format!("{scheme}://{authority}{path}?{}", params.join("&"))
}

fn dsn_with_options(dsn: &str, opts: &str) -> String {
    let mut parts: Vec<String> = split_dsn(dsn)
        .into_iter()
        .filter(|(k, _)| k != "password" && k != "options")
        .map(|(k, v)| format!("{k}={}", dsn_quote(&v)))
        .collect();
    parts.push(format!("options={}", dsn_quote(opts)));
    parts.join(" ")
}

/// `key=value` pairs of a libpq connection string (values optionally single-quoted).
fn split_dsn(dsn: &str) -> Vec<(String, String)> {
    let mut pairs = Vec::new();
    let mut chars = dsn.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars
            .by_ref()
            .take_while(|c| *c != '=')
            .collect::<String>()
            .trim()
            .to_string();
        if key.is_empty() {
            break;
        }
        while chars.peek().is_some_and(|c| c.is_whitespace()) {
            chars.next();
        }
        let mut value = String::new();
        if chars.peek() == Some(&'\'') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '\'' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek() {
                if c.is_whitespace() {
                    break;
                }
                value.push(*c);
                chars.next();
            }
        }
        pairs.push((key, value));
    }
    pairs
}

fn dsn_quote(value: &str) -> String {
    if !value.is_empty()
        && !value
            .chars()
            .any(|c| c.is_whitespace() || c == '\'' || c == '\\')
    {
        return value.to_string();
    }
    let escaped = value.replace('\\', "\\\\").replace('\'', "\\'");
    format!("'{escaped}'")
}

fn percent_encode(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_path_puts_the_version_first_and_quotes_what_needs_it() {
        assert_eq!(
            search_path("public_02_x", "public"),
            r#""public_02_x", "public""#
        );
        assert_eq!(search_path("App_02", "App"), r#""App_02", "App""#);
        assert_eq!(search_path("public", "public"), r#""public""#);
    }

    #[test]
    fn options_escape_the_space_libpq_splits_on() {
        assert_eq!(
            options("public_02_x, public"),
            "-c search_path=public_02_x,\\ public"
        );
    }

    #[test]
    fn url_keeps_everything_but_the_password() {
        let url = connection_url(
            Some(
                "postgres://app:s3cret@db.example:6432/shop?sslmode=require&password=x&options=old",
            ),
            "-c search_path=v2",
        );
        assert_eq!(
            url,
            "postgres://app@db.example:6432/shop?sslmode=require&options=-c%20search_path%3Dv2"
        );
        assert!(!url.contains("s3cret"));
    }

    #[test]
    fn url_without_a_path_or_query_gets_options() {
        assert_eq!(
            connection_url(Some("postgresql://localhost"), "-c search_path=v2"),
            "postgresql://localhost?options=-c%20search_path%3Dv2"
        );
    }

    #[test]
    fn key_value_strings_stay_key_value() {
        let dsn = connection_url(
            Some("host=localhost port=5433 password='a b' dbname=shop"),
            "-c search_path=v2,\\ public",
        );
        assert_eq!(
            dsn,
            "host=localhost port=5433 dbname=shop options='-c search_path=v2,\\\\ public'"
        );
    }
}
