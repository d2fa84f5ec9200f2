//! What a command tells the CI it runs in: step outputs (`ref=NAME@N` after
//! a push, so later jobs name the exact version; GitHub's `$GITHUB_OUTPUT`
//! or the file `$BERTH_OUTPUT` names), the job summary (a gate's Markdown report) and annotations (one
//! `::error` per failed check, shown on the run and the pull request). Each
//! is written only where GitHub asks for it and never fails the command.

use std::io::Write;
use std::path::Path;

/// Appends `text` to the file an environment variable names, when it names one.
fn append(var: &str, text: &str) {
    let Some(path) = std::env::var_os(var).filter(|p| !p.is_empty()) else { return };
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        .and_then(|mut f| f.write_all(text.as_bytes()));
    if let Err(e) = written {
        eprintln!("warning: cannot append to ${var} ({}): {e}", Path::new(&path).display());
    }
}

/// A step output: `key=value` in `$GITHUB_OUTPUT` (GitHub Actions) and in
/// `$BERTH_OUTPUT` (any CI; GitLab reads it as a dotenv report).
pub fn output(key: &str, value: &str) {
    append("GITHUB_OUTPUT", &format!("{key}={value}\n"));
    append("BERTH_OUTPUT", &format!("{key}={value}\n"));
}

/// Markdown for the job's summary page: `$GITHUB_STEP_SUMMARY`.
pub fn summary(markdown: &str) {
    append("GITHUB_STEP_SUMMARY", markdown);
}

/// A workflow command's data, escaped as GitHub reads it.
fn escape_data(s: &str) -> String {
    s.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// A workflow command's property, escaped as GitHub reads it.
fn escape_property(s: &str) -> String {
    escape_data(s).replace(':', "%3A").replace(',', "%2C")
}

/// The `::error` line for a failed check.
fn error_line(title: &str, message: &str) -> String {
    format!("::error title={}::{}", escape_property(title), escape_data(message))
}

/// One `::error` annotation per failed check of a gate's report, on stdout
/// where the runner reads workflow commands; only inside GitHub Actions.
pub fn annotate_failures(gate: &str, report: &berth_gate::Report) {
    if std::env::var("GITHUB_ACTIONS").as_deref() != Ok("true") {
        return;
    }
    for c in report.results.iter().filter(|c| !c.passed) {
        println!("{}", error_line(&format!("gate {gate}: {}", c.name), &c.message));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_escaped_as_github_reads_them() {
        assert_eq!(
            error_line("gate quality: accuracy", "0.61 < 0.7, 100% of\nrows"),
            "::error title=gate quality%3A accuracy::0.61 < 0.7, 100%25 of%0Arows"
        );
        assert_eq!(escape_property("a,b:c"), "a%2Cb%3Ac");
    }
}
