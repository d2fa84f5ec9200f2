//! Lineage recorded automatically at push: the git commit, branch and dirty
//! state of the work tree, and the CI provider, run id and run URL.

use std::path::Path;
use std::process::Command;

use berth_core::Lineage;

/// Reads an environment variable; injected so tests control the environment.
pub type Env<'a> = &'a dyn Fn(&str) -> Option<String>;

fn get(env: Env, k: &str) -> Option<String> {
    env(k).filter(|v| !v.is_empty())
}

pub(crate) fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git").arg("-C").arg(dir).args(args).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

pub fn detect_lineage(dir: &Path, env: Env) -> Lineage {
    let mut l = Lineage::default();
    if git(dir, &["rev-parse", "--is-inside-work-tree"]).as_deref() == Some("true") {
        l.git_commit = git(dir, &["rev-parse", "HEAD"]);
        l.git_branch = git(dir, &["rev-parse", "--abbrev-ref", "HEAD"]).filter(|b| b != "HEAD");
        l.git_dirty = git(dir, &["status", "--porcelain", "--untracked-files=no"]).map(|s| !s.is_empty());
    }
    if get(env, "GITHUB_ACTIONS").as_deref() == Some("true") {
        l.ci_provider = Some("github-actions".into());
        l.ci_run_id = get(env, "GITHUB_RUN_ID");
        if let (Some(server), Some(repo), Some(run)) =
            (get(env, "GITHUB_SERVER_URL"), get(env, "GITHUB_REPOSITORY"), get(env, "GITHUB_RUN_ID"))
        {
            l.ci_run_url = Some(format!("{server}/{repo}/actions/runs/{run}"));
        }
        l.git_commit = l.git_commit.or_else(|| get(env, "GITHUB_SHA"));
        l.git_branch = l.git_branch.or_else(|| get(env, "GITHUB_HEAD_REF")).or_else(|| get(env, "GITHUB_REF_NAME"));
    } else if get(env, "GITLAB_CI").is_some() {
        l.ci_provider = Some("gitlab-ci".into());
        l.ci_run_id = get(env, "CI_PIPELINE_ID").or_else(|| get(env, "CI_JOB_ID"));
        l.ci_run_url = get(env, "CI_PIPELINE_URL").or_else(|| get(env, "CI_JOB_URL"));
        l.git_commit = l.git_commit.or_else(|| get(env, "CI_COMMIT_SHA"));
        l.git_branch = l.git_branch.or_else(|| get(env, "CI_COMMIT_REF_NAME"));
    } else if get(env, "CI").is_some_and(|v| v != "false" && v != "0") {
        l.ci_provider = Some("ci".into());
        l.ci_run_id = get(env, "BUILD_ID").or_else(|| get(env, "CI_RUN_ID"));
        l.ci_run_url = get(env, "BUILD_URL");
    }
    l
}

/// Who is acting. `BERTH_USER` always wins. In CI (`CI` or
/// `GITHUB_ACTIONS` set) the actor is `ci`: a name in a committed
/// `berth.toml` must not let a pipeline act as a person. Elsewhere, the
/// configured `[user] name`, then the login name.
pub fn detect_actor(configured: Option<&str>, env: Env) -> String {
    let set = |k: &str| get(env, k).is_some_and(|v| v != "false" && v != "0");
    get(env, "BERTH_USER")
        .or_else(|| (set("CI") || set("GITHUB_ACTIONS") || set("GITLAB_CI")).then(|| "ci".to_string()))
        .or_else(|| configured.map(str::to_string))
        .or_else(|| get(env, "USER"))
        .or_else(|| get(env, "USERNAME"))
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[test]
    fn github_actions_lineage_has_the_run_url() {
        let m: HashMap<&str, &str> = [
            ("GITHUB_ACTIONS", "true"),
            ("GITHUB_RUN_ID", "42"),
            ("GITHUB_SERVER_URL", "https://github.example"),
            ("GITHUB_REPOSITORY", "acme/churn"),
            ("GITHUB_SHA", "abc"),
            ("GITHUB_REF_NAME", "main"),
        ]
        .into();
        let env = |k: &str| m.get(k).map(|v| v.to_string());
        let dir = tempfile::tempdir().unwrap();
        let l = detect_lineage(dir.path(), &env);
        assert_eq!(l.ci_provider.as_deref(), Some("github-actions"));
        assert_eq!(l.ci_run_url.as_deref(), Some("https://github.example/acme/churn/actions/runs/42"));
        assert_eq!(l.git_commit.as_deref(), Some("abc"));
        assert_eq!(l.git_branch.as_deref(), Some("main"));
    }

    #[test]
    fn the_actor_is_berth_user_then_ci_then_the_configured_name() {
        let of = |pairs: &'static [(&'static str, &'static str)], configured: Option<&str>| {
            let env = move |k: &str| pairs.iter().find(|(n, _)| *n == k).map(|(_, v)| v.to_string());
            detect_actor(configured, &env)
        };
        assert_eq!(of(&[("BERTH_USER", "bob"), ("CI", "true")], Some("alice")), "bob");
        assert_eq!(of(&[("CI", "true"), ("USER", "runner")], Some("alice")), "ci");
        assert_eq!(of(&[("GITHUB_ACTIONS", "true"), ("GITHUB_ACTOR", "octo")], None), "ci");
        assert_eq!(of(&[("USER", "carol")], Some("alice")), "alice");
        assert_eq!(of(&[("USER", "carol"), ("CI", "false")], None), "carol");
    }

    #[test]
    fn gitlab_and_generic_ci_are_recognised() {
        let env = |k: &str| match k {
            "GITLAB_CI" => Some("true".to_string()),
            "CI_PIPELINE_ID" => Some("7".to_string()),
            _ => None,
        };
        let dir = tempfile::tempdir().unwrap();
        let l = detect_lineage(dir.path(), &env);
        assert_eq!((l.ci_provider.as_deref(), l.ci_run_id.as_deref()), (Some("gitlab-ci"), Some("7")));
        let env = |k: &str| (k == "CI").then(|| "true".to_string());
        assert_eq!(detect_lineage(dir.path(), &env).ci_provider.as_deref(), Some("ci"));
    }
}
