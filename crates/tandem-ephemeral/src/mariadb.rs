//! Throwaway MariaDB servers for the MySQL backend's tests and benchmarks.
//!
//! A [`MariaDb`] is a private datadir made by `mariadb-install-db` inside a fresh temp
//! directory, served by `mariadbd` on a free loopback port with its own socket, with row-format
//! binary logging on (the shadow-table copy reads the binary log) and durability off. The
//! machine's own server (port 3306, /run/mysqld) is never touched: `--no-defaults` keeps every
//! option file out.
//!
//! Cleanup works like the PostgreSQL clusters': `Drop` stops the server and deletes the
//! directory, [`shared`] stops its server from an `atexit` hook, and a detached watchdog shell
//! tears everything down once the owning process is gone, even after `SIGKILL`. When run as
//! root the server runs as the `mysql` OS user.

use super::{apply_user, create_temp_dir, free_port, is_root, lookup_user, random_u32, RunAs};
use std::io;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

/// Environment variable naming a directory holding `mariadbd` (or `mysqld`) and
/// `mariadb-install-db`; it overrides discovery.
pub const BIN_ENV: &str = "TANDEM_MARIADB_BIN";

const HOST: &str = "127.0.0.1";
const OS_USER: &str = "mysql";
const START_ATTEMPTS: usize = 5;
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// What went wrong starting a throwaway MariaDB, and what to do about it.
#[derive(Debug, thiserror::Error)]
pub enum MariaDbError {
    #[error(
        "no MariaDB server binaries found (looked in {searched}): install Debian's \
         mariadb-server-core (apt-get install mariadb-server-core) or set TANDEM_MARIADB_BIN to a \
         directory with mariadbd and mariadb-install-db"
    )]
    NoBinaries { searched: String },

    #[error(
        "running as root, but there is no `mysql` OS user to run the server as: install \
         mariadb-server-core (it creates the user) or run as a non-root user"
    )]
    NoMysqlUser,

    #[error("could not {action}: {source}; check permissions and free space of the temp directory (TMPDIR)")]
    Io {
        action: String,
        #[source]
        source: io::Error,
    },

    #[error("{command} failed ({status}):\n{output}\nfix the cause above, or point TANDEM_MARIADB_BIN at another installation")]
    CommandFailed {
        command: String,
        status: String,
        output: String,
    },

    #[error(
        "MariaDB did not start (port {port}, {attempts} attempt(s)): {reason}\n--- last lines of \
         {log} ---\n{log_tail}\n--- end of log ---\nfix the cause reported in the log"
    )]
    StartFailed {
        port: u16,
        attempts: usize,
        reason: String,
        log: PathBuf,
        log_tail: String,
    },

    #[error("the shared test MariaDB failed to start earlier in this process: {0}")]
    Shared(String),
}

fn io_error(action: impl Into<String>, source: io::Error) -> MariaDbError {
    MariaDbError::Io {
        action: action.into(),
        source,
    }
}

/// How to start a server.
#[derive(Debug, Clone, Default)]
pub struct MariaDbOptions {
    /// Extra `--name=value` server options; they come last, so they override the defaults.
    pub settings: Vec<(String, String)>,
}

/// Where the server programs are.
#[derive(Debug, Clone)]
struct Binaries {
    server: PathBuf,
    install_db: PathBuf,
}

/// A running throwaway MariaDB. Stopped and deleted on drop.
#[derive(Debug)]
pub struct MariaDb {
    binaries: Binaries,
    temp_dir: PathBuf,
    data_dir: PathBuf,
    socket: PathBuf,
    log_file: PathBuf,
    pid_file: PathBuf,
    port: u16,
    server_id: u32,
    run_as: Option<RunAs>,
    server: Mutex<Option<Child>>,
    watchdog: Mutex<Option<Child>>,
    stopped: Mutex<bool>,
}

impl MariaDb {
    /// Starts a server with default options.
    pub fn start() -> Result<MariaDb, MariaDbError> {
        MariaDb::start_with(MariaDbOptions::default())
    }

    /// Creates a temp dir, runs `mariadb-install-db`, starts `mariadbd` on a free loopback port
    /// and waits until it accepts connections.
    pub fn start_with(options: MariaDbOptions) -> Result<MariaDb, MariaDbError> {
        let binaries = find_binaries()?;
        let run_as = if is_root() {
            Some(lookup_user(OS_USER).map_err(|_| MariaDbError::NoMysqlUser)?)
        } else {
            None
        };
        let temp_dir =
            create_temp_dir().map_err(|e| io_error("create a temp directory", e_io(e)))?;
        let mut server = MariaDb {
            binaries,
            data_dir: temp_dir.join("data"),
            socket: temp_dir.join("mysqld.sock"),
            log_file: temp_dir.join("mariadb.log"),
            pid_file: temp_dir.join("mariadbd.pid"),
            temp_dir,
            port: 0,
            server_id: 1 + random_u32() % 1_000_000,
            run_as,
            server: Mutex::new(None),
            watchdog: Mutex::new(None),
            stopped: Mutex::new(false),
        };
        if let Some(user) = &server.run_as {
            std::os::unix::fs::chown(&server.temp_dir, Some(user.uid), Some(user.gid)).map_err(
                |e| {
                    io_error(
                        format!("give {} to the mysql user", server.temp_dir.display()),
                        e,
                    )
                },
            )?;
        }
        server.spawn_watchdog()?;
        server.install_db()?;
        server.start_server(&options.settings)?;
        Ok(server)
    }

    /// The host to connect to (IPv4 loopback).
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's Unix socket.
    pub fn socket(&self) -> &Path {
        &self.socket
    }

    /// The server's `server_id` (random, so binlog readers pick a different one).
    pub fn server_id(&self) -> u32 {
        self.server_id
    }

    /// A `mysql://` URL for `database` as `root` (no password; loopback only).
    pub fn url(&self, database: &str) -> String {
        format!("mysql://root@{HOST}:{}/{database}", self.port)
    }

    /// Stops the server and removes the temp dir. Idempotent; also run by `Drop`.
    pub fn stop(&mut self) {
        self.shutdown();
    }

    fn shutdown(&self) {
        let mut stopped = self.stopped.lock().unwrap_or_else(|p| p.into_inner());
        if *stopped {
            return;
        }
        *stopped = true;
        let mut server = self.server.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut child) = server.take() {
            // SIGKILL: the data is thrown away, so a clean shutdown buys nothing.
            let _ = child.kill();
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.temp_dir);
        let mut watchdog = self.watchdog.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(mut child) = watchdog.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(program);
        cmd.stdin(Stdio::null()).current_dir(&self.temp_dir);
        for var in [
            "MYSQL_HOST",
            "MYSQL_TCP_PORT",
            "MYSQL_UNIX_PORT",
            "MYSQL_PWD",
        ] {
            cmd.env_remove(var);
        }
        if let Some(user) = &self.run_as {
            apply_user(&mut cmd, user);
        }
        cmd
    }

    fn install_db(&self) -> Result<(), MariaDbError> {
        let mut cmd = self.command(&self.binaries.install_db);
        cmd.arg("--no-defaults")
            .arg(format!("--datadir={}", self.data_dir.display()))
            // Root without a password, reachable over TCP from loopback only.
            .arg("--auth-root-authentication-method=normal")
            .arg("--skip-test-db")
            .arg("--skip-name-resolve");
        if let Some(user) = &self.run_as {
            cmd.arg(format!("--user={}", user.name));
        }
        if let Some(dir) = self.binaries.server.parent() {
            // Lets mariadb-install-db find the server beside it instead of on PATH.
            let basedir_hint = dir.to_path_buf();
            cmd.env("PATH", path_with(&basedir_hint));
        }
        let output = cmd
            .output()
            .map_err(|e| io_error(format!("run {}", self.binaries.install_db.display()), e))?;
        if output.status.success() {
            Ok(())
        } else {
            Err(MariaDbError::CommandFailed {
                command: format!(
                    "{} --datadir={}",
                    self.binaries.install_db.display(),
                    self.data_dir.display()
                ),
                status: output.status.to_string(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            })
        }
    }

    fn server_args(&self, settings: &[(String, String)]) -> Vec<String> {
        let defaults: Vec<(String, String)> = vec![
            ("datadir".into(), self.data_dir.display().to_string()),
            ("socket".into(), self.socket.display().to_string()),
            ("pid-file".into(), self.pid_file.display().to_string()),
            ("log-error".into(), self.log_file.display().to_string()),
            ("port".into(), self.port.to_string()),
            ("bind-address".into(), HOST.into()),
            ("skip-name-resolve".into(), "ON".into()),
            // Row-format binary logging with full images: what the shadow-table copy reads.
            (
                "log-bin".into(),
                self.temp_dir.join("binlog").display().to_string(),
            ),
            ("binlog-format".into(), "ROW".into()),
            ("binlog-row-image".into(), "FULL".into()),
            ("server-id".into(), self.server_id.to_string()),
            // Durability off: the server is thrown away.
            ("innodb-flush-log-at-trx-commit".into(), "0".into()),
            ("sync-binlog".into(), "0".into()),
            ("innodb-doublewrite".into(), "0".into()),
            ("innodb-buffer-pool-size".into(), "256M".into()),
            ("innodb-log-file-size".into(), "256M".into()),
            ("max-connections".into(), "300".into()),
            ("character-set-server".into(), "utf8mb4".into()),
            ("collation-server".into(), "utf8mb4_general_ci".into()),
        ];
        let mut args = vec!["--no-defaults".to_string()];
        for (name, value) in defaults.iter().chain(settings.iter()) {
            args.push(format!("--{name}={value}"));
        }
        if let Some(user) = &self.run_as {
            args.push(format!("--user={}", user.name));
        }
        args
    }

    /// Starts `mariadbd`, picking a new port when the probed one was taken meanwhile.
    fn start_server(&mut self, settings: &[(String, String)]) -> Result<(), MariaDbError> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_port().map_err(|e| io_error("find a free port", e_io(e)))?;
            let log_offset = std::fs::metadata(&self.log_file)
                .map(|m| m.len())
                .unwrap_or(0);
            let mut cmd = self.command(&self.binaries.server);
            cmd.args(self.server_args(settings))
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            // Own process group: a Ctrl-C aimed at the test run reaches us, and Drop stops it.
            cmd.process_group(0);
            let child = cmd
                .spawn()
                .map_err(|e| io_error(format!("start {}", self.binaries.server.display()), e))?;
            *self.server.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(child);
            match self.wait_ready(log_offset) {
                Ok(()) => return Ok(()),
                Err(reason) => {
                    if let Some(mut child) = self
                        .server
                        .get_mut()
                        .unwrap_or_else(|p| p.into_inner())
                        .take()
                    {
                        let _ = child.kill();
                        let _ = child.wait();
                    }
                    let tail = super::log_tail(&self.log_file, log_offset);
                    let port_clash = tail.contains("Address already in use")
                        || tail.contains("Can't start server: Bind");
                    if !port_clash || attempt >= START_ATTEMPTS {
                        return Err(MariaDbError::StartFailed {
                            port: self.port,
                            attempts: attempt,
                            reason,
                            log: self.log_file.clone(),
                            log_tail: tail,
                        });
                    }
                }
            }
        }
    }

    /// Waits for "ready for connections" in the log written since `offset`.
    fn wait_ready(&mut self, offset: u64) -> Result<(), String> {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Ok(bytes) = std::fs::read(&self.log_file) {
                let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
                if String::from_utf8_lossy(&bytes[start..]).contains("ready for connections") {
                    return Ok(());
                }
            }
            let guard = self.server.get_mut().unwrap_or_else(|p| p.into_inner());
            if let Some(child) = guard.as_mut() {
                if let Ok(Some(status)) = child.try_wait() {
                    guard.take();
                    return Err(format!("mariadbd exited ({status})"));
                }
            }
            if Instant::now() > deadline {
                return Err(format!("not ready after {}s", START_TIMEOUT.as_secs()));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// The detached watchdog: once the owner is gone, kill the server and delete the directory.
    fn spawn_watchdog(&mut self) -> Result<(), MariaDbError> {
        const SCRIPT: &str = r#"
owner=$1; dir=$2; pidfile=$3
alive() {
    [ -d "/proc/$owner" ] || return 1
    ! grep -q '^State:[[:space:]]*Z' "/proc/$owner/status" 2>/dev/null
}
while alive && [ -d "$dir" ]; do sleep 1; done
if [ -d "$dir" ]; then
    if [ -f "$pidfile" ]; then
        pid=$(cat "$pidfile")
        kill -9 "$pid" 2>/dev/null
        while [ -d "/proc/$pid" ] && ! grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; do sleep 0.2; done
    fi
    rm -rf "$dir"
fi
"#;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("tandem-mariadb-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.temp_dir)
            .arg(&self.pid_file)
            .current_dir(&self.temp_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = &self.run_as {
            apply_user(&mut cmd, user);
        }
        // SAFETY: setsid is async-signal-safe and touches no parent memory.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| io_error("start the cleanup watchdog (/bin/sh)", e))?;
        *self.watchdog.get_mut().unwrap_or_else(|p| p.into_inner()) = Some(child);
        Ok(())
    }
}

impl Drop for MariaDb {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The server shared by all tests of one process, started on first use and stopped at exit.
pub fn shared() -> Result<&'static MariaDb, MariaDbError> {
    static SERVER: OnceLock<MariaDb> = OnceLock::new();
    static INIT: Mutex<Option<String>> = Mutex::new(None);

    extern "C" fn stop_shared() {
        if let Some(server) = SERVER.get() {
            server.shutdown();
        }
    }

    super::once::start_once(
        &SERVER,
        &INIT,
        MariaDb::start,
        stop_shared,
        MariaDbError::Shared,
    )
}

/// `TANDEM_MARIADB_BIN`, else the Debian locations, else PATH.
fn find_binaries() -> Result<Binaries, MariaDbError> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Some(dir) = std::env::var_os(BIN_ENV).filter(|v| !v.is_empty()) {
        dirs.push(PathBuf::from(dir));
    } else {
        dirs.push(PathBuf::from("/usr/sbin"));
        dirs.push(PathBuf::from("/usr/bin"));
        if let Some(path) = std::env::var_os("PATH") {
            dirs.extend(std::env::split_paths(&path));
        }
    }
    let find = |names: &[&str]| -> Option<PathBuf> {
        dirs.iter()
            .flat_map(|d| names.iter().map(move |n| d.join(n)))
            .find(|p| p.is_file())
    };
    match (
        find(&["mariadbd", "mysqld"]),
        find(&["mariadb-install-db", "mysql_install_db"]),
    ) {
        (Some(server), Some(install_db)) => Ok(Binaries { server, install_db }),
        _ => Err(MariaDbError::NoBinaries {
            searched: dirs
                .iter()
                .map(|d| d.display().to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
    }
}

fn path_with(dir: &Path) -> std::ffi::OsString {
    let mut paths = vec![dir.to_path_buf()];
    if let Some(path) = std::env::var_os("PATH") {
        paths.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(paths).unwrap_or_default()
}

/// The PostgreSQL module's errors carry an io::Error inside; keep only that.
fn e_io(error: super::Error) -> io::Error {
    match error {
        super::Error::Io { source, .. } => source,
        other => io::Error::other(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn starts_serves_and_cleans_up() {
        let mut server = MariaDb::start().unwrap();
        // The server greets every TCP client with its version in the handshake packet.
        let mut stream = std::net::TcpStream::connect((HOST, server.port())).unwrap();
        let mut greeting = [0u8; 128];
        let n = stream.read(&mut greeting).unwrap();
        assert!(String::from_utf8_lossy(&greeting[..n]).contains("MariaDB"));
        assert_ne!(server.port(), 3306);
        let dir = server.temp_dir.clone();
        server.stop();
        assert!(!dir.exists());
        assert!(std::net::TcpStream::connect((HOST, server.port())).is_err());
    }
}
