//! Real-process tests: these start actual PostgreSQL servers with whatever
//! binaries discovery finds (or `TANDEM_PG_BIN`). Without a client library we
//! check readiness with TCP connects; SQL is tested by the crates using this.

use std::io::{BufRead, BufReader};
use std::net::{Shutdown, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use tandem_ephemeral::{binary_major_version, shared, Cluster, ClusterOptions, Error};

/// Set in the re-executed child of `watchdog_cleans_up_after_sigkill`.
const CHILD_ENV: &str = "TANDEM_EPHEMERAL_TEST_CHILD";

fn accepts_tcp(port: u16) -> bool {
    match TcpStream::connect_timeout(
        &std::net::SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    ) {
        Ok(stream) => {
            let _ = stream.shutdown(Shutdown::Both);
            true
        }
        Err(_) => false,
    }
}

fn wait_until(timeout: Duration, mut condition: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    while Instant::now() < deadline {
        if condition() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    condition()
}

#[test]
fn starts_and_accepts_tcp_connections() {
    let started = Instant::now();
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    eprintln!(
        "cluster PG {} from {} started in {:?} on port {}",
        cluster.major_version(),
        cluster.bin_dir().display(),
        started.elapsed(),
        cluster.port()
    );
    assert!(accepts_tcp(cluster.port()));
    assert_eq!(cluster.host(), "127.0.0.1");
    assert_eq!(cluster.user(), "postgres");
    assert_eq!(
        cluster.url("app"),
        format!("postgres://postgres@127.0.0.1:{}/app", cluster.port())
    );
    assert!(cluster.data_dir().join("PG_VERSION").is_file());
    let binary_major = binary_major_version(cluster.bin_dir()).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cluster.major_version(), binary_major);
    assert!((10..100).contains(&binary_major));
}

#[test]
fn restart_keeps_port_and_comes_back() {
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let port = cluster.port();
    let pid_before = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid"))
        .unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    cluster.restart().unwrap_or_else(|e| panic!("{e}"));
    eprintln!("restart took {:?}", started.elapsed());
    let pid_after = std::fs::read_to_string(cluster.data_dir().join("postmaster.pid"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(
        pid_before.lines().next(),
        pid_after.lines().next(),
        "a new postmaster should be running"
    );
    assert_eq!(cluster.port(), port);
    assert!(accepts_tcp(port));
    // Crash-like restarts must be repeatable.
    cluster.restart().unwrap_or_else(|e| panic!("{e}"));
    assert!(accepts_tcp(port));
}

#[test]
fn stop_removes_data_dir_and_closes_port() {
    let mut cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let data_dir = cluster.data_dir().to_path_buf();
    let port = cluster.port();
    assert!(data_dir.is_dir());
    cluster.stop();
    assert!(!data_dir.exists());
    assert!(!data_dir.parent().is_some_and(Path::exists));
    assert!(!accepts_tcp(port));
    // Idempotent, and Drop after stop is harmless.
    cluster.stop();
    drop(cluster);
}

#[test]
fn drop_cleans_up() {
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let data_dir = cluster.data_dir().to_path_buf();
    let port = cluster.port();
    drop(cluster);
    assert!(!data_dir.exists());
    assert!(!accepts_tcp(port));
}

#[test]
fn two_clusters_at_once_get_different_ports() {
    let a = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    let b = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(a.port(), b.port());
    assert_ne!(a.data_dir(), b.data_dir());
    assert!(accepts_tcp(a.port()));
    assert!(accepts_tcp(b.port()));
}

#[test]
fn settings_are_passed_through_the_shell_intact() {
    let cluster = Cluster::start_with(ClusterOptions {
        bin_dir: None,
        settings: vec![
            (
                "application_name".into(),
                "it's a \"test\" $HOME `x`".into(),
            ),
            ("work_mem".into(), "8MB".into()),
        ],
    })
    .unwrap_or_else(|e| panic!("{e}"));
    assert!(accepts_tcp(cluster.port()));
    // postmaster.opts records the server's argv as it received it.
    let opts = std::fs::read_to_string(cluster.data_dir().join("postmaster.opts"))
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        opts.contains("application_name=it's a \\\"test\\\" $HOME `x`")
            || opts.contains("application_name=it's a \"test\" $HOME `x`"),
        "{opts}"
    );
    assert!(opts.contains("work_mem=8MB"), "{opts}");
}

#[test]
fn bad_setting_reports_the_server_log() {
    let error = Cluster::start_with(ClusterOptions {
        bin_dir: None,
        settings: vec![("no_such_setting".into(), "1".into())],
    })
    .err()
    .unwrap_or_else(|| panic!("an unknown setting must fail to start"));
    let message = error.to_string();
    assert!(matches!(error, Error::StartFailed { .. }), "{message}");
    assert!(
        message.contains("no_such_setting"),
        "log tail missing: {message}"
    );
    // The failed cluster's temp dir is removed too.
    if let Error::StartFailed { log, .. } = &error {
        assert!(!log.exists(), "{} left behind", log.display());
    }
}

#[test]
fn bad_bin_dir_says_what_to_do() {
    let error = Cluster::start_with(ClusterOptions {
        bin_dir: Some(PathBuf::from("/nonexistent/tandem/bin")),
        settings: Vec::new(),
    })
    .err()
    .unwrap_or_else(|| panic!("a missing bin dir must fail"));
    let message = error.to_string();
    assert!(matches!(error, Error::BadBinDir { .. }), "{message}");
    assert!(message.contains("initdb, pg_ctl, postgres"), "{message}");
    assert!(message.contains("point it to"), "{message}");
}

#[test]
fn shared_cluster_is_started_once() {
    let a = shared().unwrap_or_else(|e| panic!("{e}"));
    let b = shared().unwrap_or_else(|e| panic!("{e}"));
    assert!(std::ptr::eq(a, b));
    assert!(accepts_tcp(a.port()));
}

/// When CI selects binaries with `TANDEM_PG_BIN`, clusters must use exactly
/// those, and `TANDEM_EXPECT_PG_MAJOR` (if set) pins the version.
#[test]
fn honours_tandem_pg_bin() {
    let found = tandem_ephemeral::find_bin_dir().unwrap_or_else(|e| panic!("{e}"));
    let cluster = shared().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(cluster.bin_dir(), found);
    if let Some(dir) = std::env::var_os("TANDEM_PG_BIN").filter(|v| !v.is_empty()) {
        assert_eq!(cluster.bin_dir(), Path::new(&dir));
    }
    if let Ok(expected) = std::env::var("TANDEM_EXPECT_PG_MAJOR") {
        let expected: u32 = expected.parse().unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(cluster.major_version(), expected);
    }
    eprintln!(
        "using PostgreSQL {} from {}",
        cluster.major_version(),
        cluster.bin_dir().display()
    );
}

/// Helper run in a child process by `watchdog_cleans_up_after_sigkill`: it
/// starts a cluster, announces it, and waits to be killed.
#[test]
fn watchdog_child() {
    if std::env::var_os(CHILD_ENV).is_none() {
        return;
    }
    let cluster = Cluster::start().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "CLUSTER {} {}",
        cluster.port(),
        cluster.data_dir().display()
    );
    loop {
        std::thread::sleep(Duration::from_secs(1));
    }
}

#[test]
fn watchdog_cleans_up_after_sigkill() {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(exe)
        .args([
            "--exact",
            "watchdog_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| panic!("no stdout"));
    // Read on a thread so a hung child fails the test instead of hanging it.
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            // libtest prints "test watchdog_child ... " before our output.
            if let Some(at) = line.find("CLUSTER ") {
                let _ = sender.send(line[at + "CLUSTER ".len()..].to_string());
                return;
            }
        }
    });
    let announced = receiver
        .recv_timeout(Duration::from_secs(90))
        .ok()
        .and_then(|rest| {
            let (port, dir) = rest.split_once(' ')?;
            Some((port.parse::<u16>().ok()?, PathBuf::from(dir)))
        });
    let (port, data_dir) = announced.unwrap_or_else(|| {
        let _ = child.kill();
        let _ = child.wait();
        panic!("child did not announce a cluster")
    });
    assert!(data_dir.is_dir());
    assert!(accepts_tcp(port));

    child.kill().unwrap_or_else(|e| panic!("{e}")); // SIGKILL: no destructors run
    let _ = child.wait();
    let started = Instant::now();
    assert!(
        wait_until(Duration::from_secs(10), || !data_dir.exists()),
        "watchdog did not remove {}",
        data_dir.display()
    );
    eprintln!("watchdog cleaned up {:?} after SIGKILL", started.elapsed());
    assert!(wait_until(Duration::from_secs(5), || !accepts_tcp(port)));
}
