//! CI pipelines for a berth project: the workflow `berth ci init` writes for
//! GitHub Actions (`github.rs`) and GitLab CI (`gitlab.rs`) from one
//! [`Pipeline`] — train and push (or push what the repository's own training
//! made), the validation gate (a failed gate fails the job), the report where
//! reviewers read it, promotion through each environment in order, a smoke
//! test of staging, production behind the CI's own reviewers and berth's
//! policy — and how such a file is written again (`written.rs`: a file berth
//! wrote and nobody edited is replaced; an edited one only with `--force`).
//! Text in, text out: no I/O, no network.
//!
//! Depends on `berth-core` only.

mod github;
mod gitlab;
mod written;

use berth_core::ModelName;

pub use written::{Decision, decide, diff, stamp};

/// Which CI a pipeline is written for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ci {
    GitHub,
    GitLab,
}

impl Ci {
    /// Where the pipeline lives in the repository.
    pub fn path(self) -> &'static str {
        match self {
            Ci::GitHub => ".github/workflows/berth.yml",
            Ci::GitLab => ".gitlab-ci.yml",
        }
    }
}

/// How a version comes to be in CI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// `berth train --config FILE --push MODEL`.
    Train { config: String },
    /// `berth push PATH --model MODEL`: files the repository's own training made.
    Push { path: String, train_command: Option<String> },
}

/// One environment a version is promoted through, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Environment {
    pub name: String,
    /// The CI's own protection (required reviewers) is asked for: production.
    pub reviewed: bool,
}

/// Everything a pipeline needs to know about the project.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pipeline {
    pub model: ModelName,
    pub source: Source,
    /// Gate files, by the name berth's policy knows them by (`gates/quality.toml` is "quality").
    pub gates: Vec<(String, String)>,
    /// The labelled data the gates score.
    pub data: String,
    pub environments: Vec<Environment>,
    /// The berth release CI installs.
    pub berth_version: String,
    /// The repository's default branch.
    pub branch: String,
    /// The paths whose changes start the pipeline.
    pub paths: Vec<String>,
    /// Where the pipeline pushes a container image of `berth serve` (built from
    /// [`DOCKERFILE`]'s text at [`Pipeline::dockerfile`]), if anywhere.
    pub image: Option<String>,
}

/// Where `berth ci init --image` writes the image's Dockerfile.
pub const DOCKERFILE: &str = "Dockerfile.berth";

impl Pipeline {
    /// Orders environment names for promotion: production (or prod) last,
    /// the rest as given; production is reviewed.
    pub fn environments_in_order(names: impl IntoIterator<Item = String>) -> Vec<Environment> {
        let is_prod = |n: &str| n == "production" || n == "prod";
        let (prod, rest): (Vec<String>, Vec<String>) = names.into_iter().partition(|n| is_prod(n));
        rest.into_iter()
            .map(|name| Environment { name, reviewed: false })
            .chain(prod.into_iter().map(|name| Environment { name, reviewed: true }))
            .collect()
    }

    /// The pipeline's text for `ci`, stamped so a later `berth ci init` can
    /// tell it from an edited copy.
    pub fn render(&self, ci: Ci) -> String {
        let body = match ci {
            Ci::GitHub => github::workflow(self),
            Ci::GitLab => gitlab::pipeline(self),
        };
        stamp(&body)
    }

    /// The Dockerfile of the image the pipeline builds: the pinned berth
    /// release, installed in a build stage, run in a small Debian image as an
    /// unprivileged user, serving on :8080 with a health check on /readyz;
    /// it serves whatever `berth serve NAME@ENV` follows through the hub.
    pub fn dockerfile(&self) -> String {
        stamp(&format!(
            "FROM rust:1-bookworm AS build\n\
             RUN cargo install --locked berth-cli --version {v} --root /opt/berth\n\n\
             FROM debian:bookworm-slim\n\
             RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates curl \\\n    \
             && rm -rf /var/lib/apt/lists/* && useradd --system --uid 10001 --create-home berth\n\
             COPY --from=build /opt/berth/bin/berth /usr/local/bin/berth\n\
             USER berth\n\
             WORKDIR /home/berth\n\
             ENV BERTH_SERVE_ADDR=0.0.0.0:8080\n\
             EXPOSE 8080\n\
             HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \\\n    \
             CMD curl -fsS http://127.0.0.1:8080/readyz >/dev/null || exit 1\n\
             ENTRYPOINT [\"berth\"]\n\
             CMD [\"serve\", \"{model}@production\"]\n",
            v = self.berth_version,
            model = self.model,
        ))
    }

    /// The image's name, and the tag the pipeline gives it: berth's version.
    fn image_tag(&self) -> Option<String> {
        self.image.as_ref().map(|i| format!("{i}:{}", self.berth_version))
    }

    /// The command that makes the version, in a shell step.
    fn make_version(&self) -> String {
        match &self.source {
            Source::Train { config } => format!("berth train --config {} --push \"$MODEL\"", shell_word(config)),
            Source::Push { path, train_command } => {
                let push = format!("berth push {} --model \"$MODEL\"", shell_word(path));
                match train_command {
                    Some(t) => format!("{t}\n{push}"),
                    None => push,
                }
            }
        }
    }

    /// Each gate's validate command on the version in `$REF`, writing its
    /// Markdown and JUnit reports beside it.
    fn gate_commands(&self) -> Vec<(String, String)> {
        self.gates
            .iter()
            .map(|(name, path)| {
                let cmd = format!(
                    "berth validate \"$REF\" --gate {} --data {} --report-md gate-{name}.md --junit gate-{name}.xml",
                    shell_word(path),
                    shell_word(&self.data)
                );
                (name.clone(), cmd)
            })
            .collect()
    }

    /// The environment that gets a smoke test after promotion: the first one.
    fn smoked(&self) -> Option<&Environment> {
        self.environments.first().filter(|e| !e.reviewed)
    }
}

/// The CI variable that names an environment's server: `BERTH_STAGING_URL`.
pub(crate) fn env_var(env: &str) -> String {
    let upper: String =
        env.chars().map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_uppercase() } else { '_' }).collect();
    format!("BERTH_{upper}_URL")
}

/// A shell word: left bare when it is one already, else in single quotes.
pub(crate) fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "-_./@=:".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

/// A YAML string in double quotes (JSON's escaping is YAML's).
pub(crate) fn yaml_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `text` as a YAML block scalar's lines, indented by `indent` spaces.
pub(crate) fn block(text: &str, indent: usize) -> String {
    let pad = " ".repeat(indent);
    text.lines().map(|l| format!("{pad}{l}\n")).collect()
}

#[cfg(test)]
pub(crate) fn example() -> Pipeline {
    Pipeline {
        model: ModelName::parse("churn").unwrap(),
        source: Source::Train { config: "train.toml".into() },
        gates: vec![("quality".into(), "gates/quality.toml".into())],
        data: "test.csv".into(),
        environments: Pipeline::environments_in_order(["production".to_string(), "staging".to_string()]),
        berth_version: "0.1.0".into(),
        branch: "main".into(),
        paths: vec!["train.toml".into(), "gates/**".into(), "train.csv".into(), "test.csv".into()],
        image: Some("ghcr.io/acme/churn-server".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn production_is_promoted_last_and_reviewed() {
        let envs = Pipeline::environments_in_order(["production", "qa", "staging"].map(String::from));
        let names: Vec<(&str, bool)> = envs.iter().map(|e| (e.name.as_str(), e.reviewed)).collect();
        assert_eq!(names, [("qa", false), ("staging", false), ("production", true)]);
    }

    #[test]
    fn words_are_quoted_only_when_they_must_be() {
        assert_eq!(shell_word("gates/quality.toml"), "gates/quality.toml");
        assert_eq!(shell_word("my file.csv"), "'my file.csv'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(yaml_string("a \"b\"\n"), r#""a \"b\"\n""#);
    }
}
