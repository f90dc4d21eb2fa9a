//! Throwaway PostgreSQL clusters for integration tests and `tandem demo`.
//!
//! A [`Cluster`] is a private `initdb` data directory inside a fresh temp
//! directory, served by a `postgres` started through `pg_ctl` on a free
//! loopback port with durability switched off (tests want speed, not crash
//! safety). Everything lives under one temp directory so cleanup is a single
//! `rm -rf`.
//!
//! Cleanup is guaranteed three ways, because test binaries are killed, time
//! out and keep clusters in statics that are never dropped:
//! * [`Cluster::stop`] / `Drop` stop the server and delete the directory;
//! * [`shared`] registers an `atexit` hook so the per-process cluster goes
//!   away when the test binary exits normally;
//! * a detached watchdog shell (own session) polls the owning process and
//!   tears the cluster down once the owner is gone, even after `SIGKILL`.
//!
//! The API is synchronous on purpose: it only spawns processes, and async
//! callers can wrap it in `spawn_blocking` if they care.
//!
//! When run as root (containers, CI), `initdb` refuses to work, so every
//! PostgreSQL program is run as the `postgres` OS user instead.

pub mod mariadb;
mod once;

use std::collections::hash_map::RandomState;
use std::ffi::{CStr, CString, OsStr};
use std::fmt::Write as _;
use std::hash::{BuildHasher, Hasher};
use std::io;
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{SystemTime, UNIX_EPOCH};

/// Environment variable naming a directory with `initdb`, `pg_ctl` and
/// `postgres`; it overrides discovery so CI can test several versions.
pub const BIN_ENV: &str = "TANDEM_PG_BIN";

/// The loopback address the server listens on (TCP only on loopback: tests
/// must never expose a trust-authenticated server to the network).
const HOST: &str = "127.0.0.1";

/// The superuser created by `initdb -U`.
const USER: &str = "postgres";

/// How often we pick a new port when the one we chose was taken between
/// probing it and the server binding it.
const START_ATTEMPTS: usize = 5;

/// Seconds `pg_ctl -w` waits for start, restart and stop.
const PG_CTL_TIMEOUT_SECS: &str = "60";

/// Lines of server log quoted in start errors.
const LOG_TAIL_LINES: usize = 40;

/// Programs a bin dir must contain to be usable.
const REQUIRED_PROGRAMS: [&str; 3] = ["initdb", "pg_ctl", "postgres"];

/// Errors from discovering binaries and running a cluster. Every message ends
/// with what the user can do about it, since these surface in test output
/// where nobody has context.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Discovery found no usable installation.
    #[error(
        "no PostgreSQL binaries found (looked at: {searched}): install Debian's postgresql \
         package (apt-get install postgresql) or set TANDEM_PG_BIN to a directory containing \
         initdb, pg_ctl and postgres (scripts/fetch-postgres.sh MAJOR prints one)"
    )]
    NoBinaries {
        /// Human-readable list of places that were checked.
        searched: String,
    },

    /// An explicitly configured bin dir (option or `TANDEM_PG_BIN`) is unusable.
    #[error(
        "{source_name} points to {dir}, which lacks {missing}: point it to the directory \
         containing initdb, pg_ctl and postgres (e.g. /usr/lib/postgresql/15/bin), or unset it \
         to use automatic discovery"
    )]
    BadBinDir {
        /// Where the directory came from (`TANDEM_PG_BIN` or `ClusterOptions::bin_dir`).
        source_name: &'static str,
        /// The directory.
        dir: PathBuf,
        /// Comma-separated missing programs.
        missing: String,
    },

    /// Running as root and there is no unprivileged account to run the server.
    #[error(
        "running as root, but PostgreSQL refuses to run as root and there is no `postgres` OS \
         user to run it as: create one (useradd --system --user-group --create-home postgres, \
         or install Debian's postgresql package) or run the tests as a non-root user"
    )]
    NoPostgresUser,

    /// A file-system or process-spawning operation failed.
    #[error("could not {action}: {source}; check permissions and free space of the temp directory (TMPDIR) and that the PostgreSQL binaries are executable")]
    Io {
        /// What we were doing.
        action: String,
        /// The OS error.
        #[source]
        source: io::Error,
    },

    /// A PostgreSQL program exited unsuccessfully.
    #[error("{command} failed ({status}):\n{output}\nfix the cause above; if the binaries are broken, point TANDEM_PG_BIN at another installation")]
    CommandFailed {
        /// The command line, for the user to re-run by hand.
        command: String,
        /// Exit status description.
        status: String,
        /// Captured stdout and stderr.
        output: String,
    },

    /// The server did not come up; carries the log tail, which has the reason.
    #[error(
        "PostgreSQL did not start (port {port}, {attempts} attempt(s)):\n{pg_ctl_output}\n\
         --- last lines of {log} ---\n{log_tail}\n--- end of log ---\n\
         fix the cause reported in the log (e.g. a bad setting in ClusterOptions::settings, \
         shared memory limits, or a binary/library mismatch in TANDEM_PG_BIN)"
    )]
    StartFailed {
        /// Last port tried.
        port: u16,
        /// Number of attempts made.
        attempts: usize,
        /// Server log file.
        log: PathBuf,
        /// pg_ctl's own output.
        pg_ctl_output: String,
        /// The end of the server log.
        log_tail: String,
    },

    /// The version of the binaries could not be determined.
    #[error("could not determine the PostgreSQL major version from {what}: {detail}; check that {what} belongs to a PostgreSQL 10+ installation")]
    Version {
        /// What was inspected.
        what: String,
        /// What was found instead.
        detail: String,
    },

    /// The process-wide shared cluster failed to start earlier.
    #[error("the shared test cluster failed to start earlier in this process: {0}")]
    Shared(String),
}

impl Error {
    fn io(action: impl Into<String>, source: io::Error) -> Error {
        Error::Io {
            action: action.into(),
            source,
        }
    }
}

/// How to start a cluster.
#[derive(Debug, Clone, Default)]
pub struct ClusterOptions {
    /// Directory with `initdb`, `pg_ctl` and `postgres`; `None` means
    /// [`find_bin_dir`] (which honours `TANDEM_PG_BIN`).
    pub bin_dir: Option<PathBuf>,
    /// Extra server settings, each passed as `-c name=value`; they override
    /// the defaults because they come last on the command line.
    pub settings: Vec<(String, String)>,
}

/// The unprivileged account PostgreSQL runs as when we are root.
#[derive(Debug, Clone)]
struct RunAs {
    uid: u32,
    gid: u32,
    home: PathBuf,
    name: String,
}

/// A running throwaway cluster. Stopped and deleted on drop.
#[derive(Debug)]
pub struct Cluster {
    bin_dir: PathBuf,
    temp_dir: PathBuf,
    data_dir: PathBuf,
    log_file: PathBuf,
    port: u16,
    major: u32,
    run_as: Option<RunAs>,
    /// The `-o` string for pg_ctl; kept so restart uses the same port and settings.
    server_options: String,
    /// Watchdog process, reaped on stop. A mutex because [`shared`] stops a
    /// cluster it only has `&` to (from `atexit`).
    watchdog: Mutex<Option<Child>>,
    /// Whether stop already ran (stop is idempotent and may race with atexit).
    stopped: Mutex<bool>,
}

impl Cluster {
    /// Starts a cluster with [`ClusterOptions::default`].
    pub fn start() -> Result<Cluster, Error> {
        Cluster::start_with(ClusterOptions::default())
    }

    /// Creates a temp dir, runs `initdb`, starts the server on a free
    /// loopback port and waits until it accepts connections.
    pub fn start_with(options: ClusterOptions) -> Result<Cluster, Error> {
        let bin_dir = match options.bin_dir {
            Some(dir) => {
                check_bin_dir(&dir, "ClusterOptions::bin_dir")?;
                dir
            }
            None => find_bin_dir()?,
        };
        let run_as = if is_root() {
            Some(lookup_user(USER)?)
        } else {
            None
        };

        let temp_dir = create_temp_dir()?;
        // From here on, a failure must not leak the directory: build the
        // Cluster early and let its Drop clean up.
        let mut cluster = Cluster {
            data_dir: temp_dir.join("data"),
            log_file: temp_dir.join("postgres.log"),
            temp_dir,
            bin_dir,
            port: 0,
            major: 0,
            run_as,
            server_options: String::new(),
            watchdog: Mutex::new(None),
            stopped: Mutex::new(false),
        };
        if let Some(user) = &cluster.run_as {
            // Only the top directory needs chowning: everything inside is
            // created by programs already running as that user.
            std::os::unix::fs::chown(&cluster.temp_dir, Some(user.uid), Some(user.gid)).map_err(
                |e| {
                    Error::io(
                        format!(
                            "give {} to the {} user",
                            cluster.temp_dir.display(),
                            user.name
                        ),
                        e,
                    )
                },
            )?;
        }
        // Watchdog before initdb so even a SIGKILL during startup cleans up.
        cluster.spawn_watchdog()?;
        cluster.initdb()?;
        cluster.major = cluster.read_major_version()?;
        cluster.start_server(&options.settings)?;
        Ok(cluster)
    }

    /// The host to connect to (always IPv4 loopback).
    pub fn host(&self) -> &str {
        HOST
    }

    /// The TCP port the server listens on.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The superuser name; authentication is `trust`, so no password.
    pub fn user(&self) -> &str {
        USER
    }

    /// A libpq-style URL for `database` (e.g. `postgres`, always present).
    pub fn url(&self, database: &str) -> String {
        format!("postgres://{USER}@{HOST}:{}/{database}", self.port)
    }

    /// The PostgreSQL major version of the running binaries (e.g. 15, 17),
    /// so tests can branch on version-specific behaviour.
    pub fn major_version(&self) -> u32 {
        self.major
    }

    /// Directory of the binaries in use (e.g. to run `psql` or `pg_dump`).
    pub fn bin_dir(&self) -> &Path {
        &self.bin_dir
    }

    /// The cluster's data directory (inside the temp dir).
    pub fn data_dir(&self) -> &Path {
        &self.data_dir
    }

    /// Restarts the server like a crash (`pg_ctl restart -m immediate`): the
    /// server is killed without a checkpoint and recovers from WAL on start,
    /// which is what crash-safety tests need. Same port; returns once the
    /// server accepts connections again.
    pub fn restart(&self) -> Result<(), Error> {
        let mut cmd = self.pg_command("pg_ctl");
        cmd.arg("restart")
            .arg("-D")
            .arg(&self.data_dir)
            .arg("-l")
            .arg(&self.log_file)
            .args(["-m", "immediate", "-w", "-t", PG_CTL_TIMEOUT_SECS])
            .arg("-o")
            .arg(&self.server_options);
        let log_offset = file_len(&self.log_file);
        let output = run(&mut cmd, "pg_ctl restart")?;
        if output.status.success() {
            Ok(())
        } else {
            Err(Error::StartFailed {
                port: self.port,
                attempts: 1,
                log: self.log_file.clone(),
                pg_ctl_output: output_text(&output),
                log_tail: log_tail(&self.log_file, log_offset),
            })
        }
    }

    /// Stops the server (immediately: the data is thrown away anyway) and
    /// removes the temp dir. Idempotent; also run by `Drop`. Errors are
    /// ignored because there is nothing useful a caller could do, and the
    /// watchdog retries cleanup once this process is gone.
    pub fn stop(&mut self) {
        self.shutdown();
    }

    /// [`Cluster::stop`] through a shared reference, for the `atexit` hook of
    /// [`shared`].
    fn shutdown(&self) {
        let mut stopped = match self.stopped.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if *stopped {
            return;
        }
        *stopped = true;
        if self.data_dir.join("postmaster.pid").exists() {
            let mut cmd = self.pg_command("pg_ctl");
            cmd.arg("stop").arg("-D").arg(&self.data_dir).args([
                "-m",
                "immediate",
                "-w",
                "-t",
                PG_CTL_TIMEOUT_SECS,
            ]);
            let _ = cmd.output();
        }
        let _ = std::fs::remove_dir_all(&self.temp_dir);
        // The watchdog notices the missing directory within a second anyway;
        // killing it now just avoids a lingering process and a zombie.
        let mut watchdog = match self.watchdog.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if let Some(mut child) = watchdog.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// A command for one of the PostgreSQL programs, as the right user, with
    /// no inherited stdin (pg_ctl's server must not hold our terminal).
    fn pg_command(&self, program: &str) -> Command {
        let mut cmd = Command::new(self.bin_dir.join(program));
        cmd.stdin(Stdio::null());
        // A cwd the postgres user can enter: initdb and postgres complain
        // about an unreadable cwd (e.g. /root) otherwise.
        cmd.current_dir(&self.temp_dir);
        // Client variables must not redirect pg_ctl's readiness checks.
        for var in ["PGDATA", "PGHOST", "PGHOSTADDR", "PGPORT", "PGOPTIONS"] {
            cmd.env_remove(var);
        }
        if let Some(user) = &self.run_as {
            apply_user(&mut cmd, user);
        }
        cmd
    }

    fn initdb(&self) -> Result<(), Error> {
        let mut cmd = self.pg_command("initdb");
        cmd.arg("-D")
            .arg(&self.data_dir)
            .args(["-U", USER, "--auth=trust", "-E", "UTF8", "--locale=C"])
            // No fsync of the new cluster: it is thrown away, and syncing
            // dominates initdb's run time on slow disks.
            .arg("--no-sync");
        let output = run(&mut cmd, "initdb")?;
        if output.status.success() {
            Ok(())
        } else {
            Err(command_failed(&cmd, &output))
        }
    }

    /// Reads `PG_VERSION` written by initdb (cheaper and more robust than
    /// parsing `postgres --version`, whose suffix varies by packager).
    fn read_major_version(&self) -> Result<u32, Error> {
        let path = self.data_dir.join("PG_VERSION");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| Error::io(format!("read {}", path.display()), e))?;
        parse_major(&text).ok_or_else(|| Error::Version {
            what: path.display().to_string(),
            detail: format!("unexpected contents {:?}", text.trim()),
        })
    }

    /// Starts the server, picking a new port when the probed one got taken
    /// in the meantime (another test binary may probe at the same moment).
    fn start_server(&mut self, settings: &[(String, String)]) -> Result<(), Error> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.port = free_port()?;
            self.server_options = server_options(self.port, &self.temp_dir, settings);
            let mut cmd = self.pg_command("pg_ctl");
            cmd.arg("start")
                .arg("-D")
                .arg(&self.data_dir)
                .arg("-l")
                .arg(&self.log_file)
                .args(["-w", "-t", PG_CTL_TIMEOUT_SECS])
                .arg("-o")
                .arg(&self.server_options);
            let log_offset = file_len(&self.log_file);
            let output = run(&mut cmd, "pg_ctl start")?;
            if output.status.success() {
                return Ok(());
            }
            let tail = log_tail(&self.log_file, log_offset);
            let port_clash = tail.contains("could not bind")
                || tail.contains("Address already in use")
                || tail.contains("could not create any TCP/IP sockets");
            if !port_clash || attempt >= START_ATTEMPTS {
                return Err(Error::StartFailed {
                    port: self.port,
                    attempts: attempt,
                    log: self.log_file.clone(),
                    pg_ctl_output: output_text(&output),
                    log_tail: tail,
                });
            }
        }
    }

    /// Spawns the detached watchdog shell that cleans up after this process
    /// dies without running destructors (SIGKILL, `process::exit`, abort).
    ///
    /// It runs in its own session so terminal signals (Ctrl-C) and process
    /// group kills aimed at the test run do not take it down with the owner.
    /// Liveness is checked through /proc (falling back to `kill -0`) because
    /// when we run as root the watchdog runs as `postgres` and may not signal
    /// us; a zombie owner counts as dead.
    fn spawn_watchdog(&mut self) -> Result<(), Error> {
        const SCRIPT: &str = r#"
owner=$1; dir=$2; pg_ctl=$3; data=$4
alive() {
    if [ -d /proc/self ]; then
        [ -d "/proc/$owner" ] || return 1
        ! grep -q '^State:[[:space:]]*Z' "/proc/$owner/status" 2>/dev/null
    else
        kill -0 "$owner" 2>/dev/null
    fi
}
while alive && [ -d "$dir" ]; do sleep 1; done
if [ -d "$dir" ]; then
    if [ -f "$data/postmaster.pid" ]; then
        "$pg_ctl" stop -D "$data" -m immediate -w -t 30 >/dev/null 2>&1
    fi
    rm -rf "$dir"
fi
"#;
        let mut cmd = Command::new("/bin/sh");
        cmd.arg("-c")
            .arg(SCRIPT)
            .arg("tandem-pg-watchdog")
            .arg(std::process::id().to_string())
            .arg(&self.temp_dir)
            .arg(self.bin_dir.join("pg_ctl"))
            .arg(&self.data_dir)
            .current_dir(&self.temp_dir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        if let Some(user) = &self.run_as {
            apply_user(&mut cmd, user);
        }
        // SAFETY: setsid is async-signal-safe and touches no memory of the
        // parent; it only fails if we already lead a group, which a freshly
        // forked child never does.
        unsafe {
            cmd.pre_exec(|| {
                libc::setsid();
                Ok(())
            });
        }
        let child = cmd
            .spawn()
            .map_err(|e| Error::io("start the cleanup watchdog (/bin/sh)", e))?;
        *self
            .watchdog
            .get_mut()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Some(child);
        Ok(())
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Finds a directory with `initdb`, `pg_ctl` and `postgres`.
///
/// Order: `TANDEM_PG_BIN` (an error if set but unusable, so a typo is not
/// silently replaced by another version); `pg_config --bindir`; the highest
/// `/usr/lib/postgresql/<major>/bin` (Debian keeps these off PATH); `PATH`.
pub fn find_bin_dir() -> Result<PathBuf, Error> {
    if let Some(dir) = std::env::var_os(BIN_ENV).filter(|v| !v.is_empty()) {
        let dir = PathBuf::from(dir);
        check_bin_dir(&dir, BIN_ENV)?;
        return Ok(dir);
    }
    let mut searched = Vec::new();

    if let Ok(output) = Command::new("pg_config")
        .arg("--bindir")
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    {
        if output.status.success() {
            let dir = PathBuf::from(String::from_utf8_lossy(&output.stdout).trim());
            if missing_programs(&dir).is_empty() {
                return Ok(dir);
            }
            searched.push(format!("pg_config --bindir ({})", dir.display()));
        }
    } else {
        searched.push("pg_config (not on PATH)".to_string());
    }

    let debian_root = Path::new("/usr/lib/postgresql");
    let mut majors: Vec<(u32, PathBuf)> = std::fs::read_dir(debian_root)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let major = entry.file_name().to_str()?.parse::<u32>().ok()?;
            Some((major, entry.path().join("bin")))
        })
        .collect();
    majors.sort();
    if let Some((_, dir)) = majors
        .iter()
        .rev()
        .find(|(_, dir)| missing_programs(dir).is_empty())
    {
        return Ok(dir.clone());
    }
    searched.push(format!("{}/*/bin", debian_root.display()));

    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            if missing_programs(&dir).is_empty() {
                return Ok(dir);
            }
        }
    }
    searched.push("PATH".to_string());

    Err(Error::NoBinaries {
        searched: searched.join(", "),
    })
}

/// The cluster shared by all tests of one process (test binary), started on
/// first use. One cluster per binary keeps suites fast; tests isolate
/// themselves with their own databases or schemas.
///
/// It is stopped by an `atexit` hook when the process exits normally, and by
/// the watchdog otherwise. If starting fails, later calls fail fast with the
/// same message instead of retrying in every test.
pub fn shared() -> Result<&'static Cluster, Error> {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    static INIT: Mutex<Option<String>> = Mutex::new(None);

    extern "C" fn stop_shared() {
        if let Some(cluster) = CLUSTER.get() {
            cluster.shutdown();
        }
    }

    once::start_once(&CLUSTER, &INIT, Cluster::start, stop_shared, Error::Shared)
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Looks `name` up through NSS (so LDAP/sssd users work, not just /etc/passwd).
fn lookup_user(name: &str) -> Result<RunAs, Error> {
    let c_name = CString::new(name).map_err(|_| Error::NoPostgresUser)?;
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero passwd is a valid value (null pointers, zero ids);
    // getpwnam_r fills it in and points its strings into `buf`.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the given lengths for the call.
    let rc = unsafe {
        libc::getpwnam_r(
            c_name.as_ptr(),
            &mut pwd,
            buf.as_mut_ptr(),
            buf.len(),
            &mut result,
        )
    };
    if rc != 0 || result.is_null() {
        return Err(Error::NoPostgresUser);
    }
    let home = if pwd.pw_dir.is_null() {
        PathBuf::from("/")
    } else {
        // SAFETY: getpwnam_r succeeded, so pw_dir is a NUL-terminated string in `buf`.
        let bytes = unsafe { CStr::from_ptr(pwd.pw_dir) }.to_bytes();
        PathBuf::from(OsStr::from_bytes(bytes))
    };
    Ok(RunAs {
        uid: pwd.pw_uid,
        gid: pwd.pw_gid,
        home,
        name: name.to_string(),
    })
}

fn apply_user(cmd: &mut Command, user: &RunAs) {
    cmd.uid(user.uid)
        .gid(user.gid)
        .env("HOME", &user.home)
        .env("USER", &user.name)
        .env("LOGNAME", &user.name);
}

fn missing_programs(dir: &Path) -> Vec<&'static str> {
    REQUIRED_PROGRAMS
        .into_iter()
        .filter(|p| !dir.join(p).is_file())
        .collect()
}

fn check_bin_dir(dir: &Path, source_name: &'static str) -> Result<(), Error> {
    let missing = missing_programs(dir);
    if missing.is_empty() {
        Ok(())
    } else {
        Err(Error::BadBinDir {
            source_name,
            dir: dir.to_path_buf(),
            missing: missing.join(", "),
        })
    }
}

/// Creates `tandem-pg-<pid>-<counter>-<random>` under the temp dir. The pid
/// and counter make names unique within a machine; the random part avoids
/// clashing with leftovers of an earlier process that had the same pid.
fn create_temp_dir() -> Result<PathBuf, Error> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let base = std::env::temp_dir();
    let mut last_error = None;
    for _ in 0..10 {
        let counter = COUNTER.fetch_add(1, Ordering::Relaxed);
        let dir = base.join(format!(
            "tandem-pg-{}-{}-{:08x}",
            std::process::id(),
            counter,
            random_u32()
        ));
        match std::fs::create_dir(&dir) {
            Ok(()) => return Ok(dir),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => {
                return Err(Error::io(
                    format!("create a temp directory in {}", base.display()),
                    e,
                ))
            }
        }
    }
    Err(Error::io(
        format!("create a unique temp directory in {}", base.display()),
        last_error.unwrap_or_else(|| io::Error::other("too many name clashes")),
    ))
}

/// Randomness without a dependency: std seeds `RandomState` from the OS.
fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    hasher.write_u128(nanos);
    hasher.finish() as u32
}

/// Asks the kernel for a free loopback port. Racy by nature (the port is
/// released before postgres binds it), hence the retry in `start_server`.
fn free_port() -> Result<u16, Error> {
    let listener = TcpListener::bind(SocketAddrV4::new(Ipv4Addr::LOCALHOST, 0))
        .map_err(|e| Error::io("bind 127.0.0.1:0 to find a free port", e))?;
    let port = listener
        .local_addr()
        .map_err(|e| Error::io("read the probed port", e))?
        .port();
    Ok(port)
}

/// Builds pg_ctl's `-o` string. pg_ctl hands it to `/bin/sh`, so every word
/// is single-quoted.
fn server_options(port: u16, socket_dir: &Path, settings: &[(String, String)]) -> String {
    let mut words: Vec<String> = vec![
        "-p".into(),
        port.to_string(),
        "-k".into(),
        socket_dir.to_string_lossy().into_owned(),
    ];
    let defaults = [
        ("listen_addresses", HOST),
        // Durability off: the cluster is thrown away, and fsync dominates
        // DDL-heavy test run times.
        ("fsync", "off"),
        ("synchronous_commit", "off"),
        ("full_page_writes", "off"),
        // Tests run concurrently against one shared cluster.
        ("max_connections", "200"),
    ];
    let user = settings.iter().map(|(n, v)| (n.as_str(), v.as_str()));
    for (name, value) in defaults.into_iter().chain(user) {
        words.push("-c".into());
        words.push(format!("{name}={value}"));
    }
    let mut out = String::new();
    for (i, word) in words.iter().enumerate() {
        if i > 0 {
            out.push(' ');
        }
        out.push_str(&shell_quote(word));
    }
    out
}

/// Single-quotes for POSIX sh: `'` becomes `'\''`.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', r"'\''"))
}

/// Extracts the major version from `PG_VERSION` ("15") or
/// `postgres --version` ("postgres (PostgreSQL) 17.10", "... 15.14 (Debian ...)").
fn parse_major(text: &str) -> Option<u32> {
    let text = text.trim();
    let rest = match text.find(')') {
        Some(i) if text.starts_with("postgres") => &text[i + 1..],
        _ => text,
    };
    let digits: String = rest
        .trim_start()
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok().filter(|major| *major > 0)
}

/// Runs `bin_dir/postgres --version` and returns the major version; for
/// callers that want the version without starting a cluster.
pub fn binary_major_version(bin_dir: &Path) -> Result<u32, Error> {
    let program = bin_dir.join("postgres");
    let output = Command::new(&program)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| Error::io(format!("run {} --version", program.display()), e))?;
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    if !output.status.success() {
        return Err(Error::Version {
            what: program.display().to_string(),
            detail: output_text(&output),
        });
    }
    parse_major(&text).ok_or_else(|| Error::Version {
        what: program.display().to_string(),
        detail: format!("unexpected output {:?}", text.trim()),
    })
}

fn run(cmd: &mut Command, what: &str) -> Result<Output, Error> {
    cmd.output().map_err(|e| {
        Error::io(
            format!("run {what} ({})", cmd.get_program().to_string_lossy()),
            e,
        )
    })
}

fn command_failed(cmd: &Command, output: &Output) -> Error {
    let mut command = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        command.push(' ');
        command.push_str(&arg.to_string_lossy());
    }
    Error::CommandFailed {
        command,
        status: output.status.to_string(),
        output: output_text(output),
    }
}

fn output_text(output: &Output) -> String {
    let mut text = String::from_utf8_lossy(&output.stdout)
        .trim_end()
        .to_string();
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !stderr.trim().is_empty() {
        if !text.is_empty() {
            text.push('\n');
        }
        text.push_str(stderr.trim_end());
    }
    text
}

fn file_len(path: &Path) -> u64 {
    std::fs::metadata(path).map(|m| m.len()).unwrap_or(0)
}

/// The last lines of the log written since `offset` (so retries and restarts
/// report their own failure, not an earlier one).
fn log_tail(path: &Path, offset: u64) -> String {
    let bytes = match std::fs::read(path) {
        Ok(bytes) => bytes,
        Err(e) => return format!("(could not read {}: {e})", path.display()),
    };
    let start = usize::try_from(offset).unwrap_or(0).min(bytes.len());
    let text = String::from_utf8_lossy(&bytes[start..]);
    let lines: Vec<&str> = text.lines().collect();
    let skip = lines.len().saturating_sub(LOG_TAIL_LINES);
    let mut out = String::new();
    for line in &lines[skip..] {
        let _ = writeln!(out, "{line}");
    }
    if out.is_empty() {
        out.push_str("(log is empty)");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_major("15\n"), Some(15));
        assert_eq!(parse_major("postgres (PostgreSQL) 17.10"), Some(17));
        assert_eq!(
            parse_major("postgres (PostgreSQL) 15.14 (Debian 15.14-0+deb12u1)"),
            Some(15)
        );
        assert_eq!(parse_major("9.6"), Some(9));
        assert_eq!(parse_major("garbage"), None);
    }

    #[test]
    fn quotes_options_for_the_shell() {
        let options = server_options(
            5555,
            Path::new("/tmp/a b"),
            &[("application_name".into(), "it's".into())],
        );
        assert!(options.starts_with("'-p' '5555' '-k' '/tmp/a b' "));
        assert!(options.ends_with(r"'-c' 'application_name=it'\''s'"));
    }
}
