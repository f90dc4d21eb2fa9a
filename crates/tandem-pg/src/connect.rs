//! Connecting: a URL (or the libpq environment variables), TLS through rustls when asked for.

use crate::error::Error;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};
use std::sync::Arc;
use tokio_postgres::config::SslMode;
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Socket};

/// Where to connect. `url` wins; otherwise PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE and
/// PGSSLMODE are read, with libpq's defaults.
#[derive(Debug, Clone, Default)]
pub struct ConnectOptions {
    pub url: Option<String>,
}

/// How much TLS: libpq's `prefer` and `require` encrypt without checking the certificate,
/// `verify-ca` and `verify-full` check it against the webpki roots.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verification {
    None,
    Verify,
}

/// A connection and the description of where it goes (never with the password).
pub struct Connection {
    pub client: Client,
    pub target: String,
}

pub async fn connect(options: &ConnectOptions) -> Result<Connection, Error> {
    let (mut config, verification) = match &options.url {
        Some(url) => from_url(url)?,
        None => from_env()?,
    };
    config.application_name("tandem");
    if config.get_password().is_none() {
        if let Ok(pw) = std::env::var("PGPASSWORD") {
            config.password(pw);
        }
    }
    let target = describe(&config);
    let client = if config.get_ssl_mode() == SslMode::Disable {
        open(&config, tokio_postgres::NoTls, &target).await?
    } else {
        let tls = tokio_postgres_rustls::MakeRustlsConnect::new(tls_config(verification));
        open(&config, tls, &target).await?
    };
    client.execute(SESSION_SETTINGS, &[]).await.map_err(|e| {
        Error::db(
            "setting tandem's session settings (timeouts, standard_conforming_strings)",
            e,
        )
    })?;
    Ok(Connection { client, target })
}

/// Production roles and databases often carry a `statement_timeout` (or a lock or idle
/// timeout) meant for the application. tandem's own statements legitimately run long (a
/// concurrent index build, VALIDATE, a backfill batch on a slow disk), so such a default would
/// fail every retry. tandem clears them for its own session; every DDL step still sets the
/// short `lock_timeout` it needs with `SET LOCAL`. `transaction_timeout` exists from
/// PostgreSQL 17 on, hence the lookup in `pg_settings` instead of plain `SET`s.
///
/// `standard_conforming_strings` is turned on too: the slot parsers (tandem-sql) read `'...'`
/// as the server does with it on, and a database or role can turn it off, which would make a
/// backslash end a string literal on the server where the parser saw none (docs/security.md).
const SESSION_SETTINGS: &str = "SELECT set_config(name, CASE name \
     WHEN 'standard_conforming_strings' THEN 'on' ELSE '0' END, false) FROM pg_settings \
     WHERE name IN ('statement_timeout', 'lock_timeout', 'idle_in_transaction_session_timeout', \
     'idle_session_timeout', 'transaction_timeout', 'standard_conforming_strings')";

/// Connects, and drives the connection in the background until the client is dropped.
async fn open<T>(config: &Config, tls: T, target: &str) -> Result<Client, Error>
where
    T: MakeTlsConnect<Socket>,
    T::Stream: Send + 'static,
{
    let (client, conn) = config
        .connect(tls)
        .await
        .map_err(|e| Error::connect(target, e))?;
    tokio::spawn(async move {
        let _ = conn.await;
    });
    Ok(client)
}

/// `user@host:port/db`, for messages: never the password.
fn describe(config: &Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(s) => s.clone(),
            tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!(
        "{}@{}:{}/{}",
        config.get_user().unwrap_or("?"),
        host,
        port,
        config.get_dbname().unwrap_or("?")
    )
}

/// tokio-postgres knows disable/prefer/require; verify-ca and verify-full are read here.
fn split_sslmode(mode: &str) -> Result<(SslMode, Verification), Error> {
    match mode {
        "disable" => Ok((SslMode::Disable, Verification::None)),
        "allow" | "prefer" => Ok((SslMode::Prefer, Verification::None)),
        "require" => Ok((SslMode::Require, Verification::None)),
        "verify-ca" | "verify-full" => Ok((SslMode::Require, Verification::Verify)),
        other => Err(Error::usage(
            format!("unknown sslmode `{other}`"),
            "use disable, allow, prefer, require, verify-ca or verify-full",
        )),
    }
}

fn from_url(url: &str) -> Result<(Config, Verification), Error> {
    // Take sslmode out before tokio-postgres sees it: it rejects verify-ca/verify-full.
    let mut verification = Verification::None;
    let mut mode = None;
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("sslmode", v)) => {
                let (m, ver) = split_sslmode(v)?;
                mode = Some(m);
                verification = ver;
            }
            _ => kept.push(pair),
        }
    }
    let rebuilt = if kept.is_empty() {
        base.to_string()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    let mut config: Config = rebuilt.parse().map_err(|e: tokio_postgres::Error| {
        Error::usage(
            format!("the database URL is not valid: {e}"),
            "write it as postgres://user[:password]@host[:port]/database[?sslmode=...]",
        )
    })?;
    if mode.is_none() {
        if let Ok(env_mode) = std::env::var("PGSSLMODE") {
            let (m, ver) = split_sslmode(&env_mode)?;
            mode = Some(m);
            verification = ver;
        }
    }
    if let Some(m) = mode {
        config.ssl_mode(m);
    }
    if config.get_hosts().is_empty() {
        config.host(default_host());
    }
    Ok((config, verification))
}

fn default_host() -> String {
    match std::env::var("PGHOST") {
        Ok(h) if !h.is_empty() => h,
        _ if std::path::Path::new("/var/run/postgresql").exists() => "/var/run/postgresql".into(),
        _ => "localhost".into(),
    }
}

fn from_env() -> Result<(Config, Verification), Error> {
    let mut config = Config::new();
    config.host(default_host());
    if let Ok(port) = std::env::var("PGPORT") {
        let port: u16 = port.parse().map_err(|_| {
            Error::usage(
                format!("PGPORT `{port}` is not a port number"),
                "set PGPORT to a number such as 5432",
            )
        })?;
        config.port(port);
    }
    let user = std::env::var("PGUSER")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "postgres".into());
    config.user(&user);
    config.dbname(std::env::var("PGDATABASE").unwrap_or(user));
    let mut verification = Verification::None;
    if let Ok(mode) = std::env::var("PGSSLMODE") {
        let (m, v) = split_sslmode(&mode)?;
        config.ssl_mode(m);
        verification = v;
    }
    Ok((config, verification))
}

fn tls_config(verification: Verification) -> rustls::ClientConfig {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap_or_else(|_| {
            rustls::ClientConfig::builder_with_protocol_versions(rustls::DEFAULT_VERSIONS)
        });
    match verification {
        Verification::Verify => {
            let roots = rustls::RootCertStore {
                roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
            };
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Verification::None => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(EncryptOnly(provider)))
            .with_no_client_auth(),
    }
}

/// libpq's `require`: the channel is encrypted, the certificate is not checked.
#[derive(Debug)]
struct EncryptOnly(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for EncryptOnly {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_full_is_taken_out_of_the_url() {
        let (config, v) = from_url(
            "postgres://u:secret@db.example:6543/app?sslmode=verify-full&connect_timeout=5",
        )
        .unwrap();
        assert_eq!(v, Verification::Verify);
        assert_eq!(config.get_ssl_mode(), SslMode::Require);
        assert_eq!(config.get_ports(), &[6543]);
        let d = describe(&config);
        assert_eq!(d, "u@db.example:6543/app");
        assert!(!d.contains("secret"));
    }

    #[test]
    fn unknown_sslmode_is_a_clear_error() {
        let err = from_url("postgres://u@h/db?sslmode=sometimes")
            .err()
            .unwrap();
        assert!(err.to_string().contains("sslmode"), "{err}");
    }
}
