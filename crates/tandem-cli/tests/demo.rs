//! `tandem demo`, the README's first command, runs end to end with zero failed writes.

use std::process::Command;

#[test]
fn demo_runs_end_to_end_with_no_failed_write() {
    let out = Command::new(env!("CARGO_BIN_EXE_tandem"))
        .args(["demo", "--rows", "5000", "--phase-time", "1s"])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "[7/7] done: table users has columns (id, full_name, email, active)",
        "old application:",
        "new application:",
    ] {
        assert!(stdout.contains(expected), "missing `{expected}`:\n{stdout}");
    }
    for line in stdout.lines().filter(|l| l.contains(" writes, ")) {
        assert!(line.trim_end().ends_with(" 0 failed"), "{line}");
        let writes: u64 = line
            .split(": ")
            .nth(1)
            .and_then(|s| s.split(' ').next())
            .and_then(|n| n.parse().ok())
            .unwrap_or(0);
        assert!(writes > 0, "the application wrote nothing: {line}");
    }
}
