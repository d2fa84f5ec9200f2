//! The arguments of `berth ci`.

use std::path::PathBuf;

use berth_core::ModelName;
use clap::{Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum CiCommand {
    /// Write the CI pipeline for this project: train (or push what your training made) ->
    /// validation gate (a failed gate fails the job; the report in the summary, on the pull
    /// request and as the test report) -> promotion through each environment of berth.toml in
    /// order (staging smoke-tested, production behind the CI's reviewers and berth's policy);
    /// weekly retraining; `[skip ci]` honoured. Rewrites its own unedited file; an edited one
    /// only with --force.
    Init {
        /// github (.github/workflows/berth.yml) or gitlab (.gitlab-ci.yml).
        #[arg(value_enum)]
        ci: CiKind,
        /// The model the pipeline makes versions of.
        #[arg(long)]
        model: ModelName,
        /// The training config `berth train` runs (default: train.toml, when it exists).
        #[arg(long, value_name = "FILE", conflicts_with = "push")]
        train_config: Option<PathBuf>,
        /// Push these files instead of training with berth: what the repository's own training
        /// script writes (run it with --train-command).
        #[arg(long, value_name = "PATH")]
        push: Option<PathBuf>,
        /// The command that makes the files --push sends, e.g. "python train.py".
        #[arg(long, value_name = "COMMAND", requires = "push")]
        train_command: Option<String>,
        /// A gate file (repeatable; default: every gates/*.toml).
        #[arg(long = "gate", value_name = "FILE")]
        gates: Vec<PathBuf>,
        /// The labelled data the gates score, in the repository.
        #[arg(long, value_name = "FILE", default_value = "test.csv")]
        data: PathBuf,
        /// Also build and push a container image of `berth serve` on pushes to the branch, e.g.
        /// ghcr.io/acme/churn-server (tagged with berth's version), from a Dockerfile.berth
        /// written beside the pipeline.
        #[arg(long, value_name = "NAME")]
        image: Option<String>,
        /// The branch pushes to which run the pipeline.
        #[arg(long, default_value = "main")]
        branch: String,
        /// Print what would be written (a diff when the file exists) and write nothing.
        #[arg(long)]
        dry_run: bool,
        /// Replace the file even if it was edited since berth wrote it.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CiKind {
    Github,
    Gitlab,
}
