//! Output to a reader that goes away: `berth show X | head -1` stops quietly.

mod support;

use std::process::Stdio;

use support::Project;

/// Runs berth with its standard output a pipe whose reading end is already
/// closed, as `| head -1` leaves it once head has its line.
fn to_a_closed_pipe(p: &Project, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = p.command(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    (out.status, String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn every_command_stops_quietly_when_its_reader_goes_away() {
    let p = Project::new();
    p.berth(&["data", "synth", "--kind", "classification", "--rows", "3000", "-o", "d.csv"]).ok();
    p.write("m.bin", b"weights");
    p.berth(&["push", "m.bin", "--model", "churn", "--tag", "team=risk"]).ok();
    for args in [
        &["show", "churn@1"][..],
        &["data", "profile", "d.csv"],
        &["log"],
        &["versions", "churn"],
        &["show", "churn@1", "--json"],
    ] {
        let (status, stderr) = to_a_closed_pipe(&p, args);
        assert_ne!(status.code(), Some(101), "berth {args:?} panicked:\n{stderr}");
        assert!(!stderr.contains("panicked") && !stderr.contains("Broken pipe"), "berth {args:?}:\n{stderr}");
        #[cfg(unix)]
        {
            use std::os::unix::process::ExitStatusExt;
            assert!(status.success() || status.signal() == Some(libc_sigpipe()), "berth {args:?}: {status}");
        }
    }
}

#[cfg(unix)]
fn libc_sigpipe() -> i32 {
    13
}
