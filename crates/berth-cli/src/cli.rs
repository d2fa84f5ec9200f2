//! The command line, as clap types. Parsing only: each command is carried out
//! in `run.rs` by calling the service layer.
//!
//! Every argument is parsed into its type here, so a bad value is a usage
//! error naming the argument (exit 2) and `run.rs` never reads a string
//! twice: refs, model and environment names with berth-core's `FromStr`,
//! `KEY=VALUE` pairs as `KeyValue`, closed sets as `ValueEnum`s, endpoint
//! and store URLs, durations and algorithms by their own parsers. Model
//! arguments that may be a file or a ref (`predict MODEL`, `serve REF`) are
//! the exception: whether a relative path names a file depends on `-C DIR`,
//! which is applied after parsing, so they are decided (as a
//! `berth_core::ModelArg`) once it has been.

use std::path::{Path, PathBuf};
use std::time::Duration;

use berth_core::{AliasName, KeyValue, ModelName, Ref};

pub use crate::cli_data::{CorrectionArg, DataCommand, DriftArgs, NumericTestArg, SynthArgs, SynthKind};
use berth_ml::AlgorithmName;
use berth_service::EndpointUrl;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use crate::cli_hub::{HubArgs, HubCommand, PolicyCommand, TokenCommand};
pub use crate::cli_lfs::LfsCommand;

#[derive(Debug, Parser)]
#[command(
    name = "berth",
    version,
    about = "Continuous delivery for machine-learning models",
    long_about = "berth keeps model files out of git in a content-addressed store, versions them in a registry \
                  with their lineage, and moves them between environments.\n\n\
                  Exit codes: 0 success; 1 a check said no (fsck found damage); 2 bad input or usage; \
                  3 store, database or network failure.",
    after_help = "Refs name a version: NAME@N, NAME@ALIAS, NAME@latest, or a bare NAME (the latest).\n\
                  Model and alias names: 1-64 characters from a-z, 0-9, '-', '_', '.', starting with a letter or digit."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
    #[command(flatten)]
    pub global: Global,
}

#[derive(Debug, Args)]
pub struct Global {
    /// Print results as JSON on stdout.
    #[arg(long, global = true)]
    pub json: bool,
    /// Run as if started in DIR.
    #[arg(short = 'C', long = "project", global = true, value_name = "DIR")]
    pub project: Option<PathBuf>,
    /// Log format on stderr.
    #[arg(long, global = true, value_enum, default_value = "text")]
    pub log_format: LogFormat,
    /// Only print results and errors (no progress, no warnings).
    #[arg(short, long, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Create berth.toml and .berth/ here (idempotent).
    Init(InitArgs),
    /// Store files or directories as a new version of a model.
    Push(PushArgs),
    /// Restore a version's files into a directory, verifying every byte.
    Pull(PullArgs),
    /// List models.
    Models,
    /// List the versions of a model, newest first.
    Versions {
        /// Model name.
        model: ModelName,
    },
    /// Show one version: metadata, lineage, aliases and files.
    Show {
        /// NAME@N, NAME@ALIAS or NAME@latest.
        reference: Ref,
    },
    /// Set tags on a version (KEY=VALUE ...).
    Tag {
        reference: Ref,
        #[arg(required = true, value_name = "KEY=VALUE")]
        tags: Vec<KeyValue>,
    },
    /// Point aliases (environments) at versions.
    #[command(subcommand)]
    Alias(AliasCommand),
    /// Promote a version to an environment if the environment's policy allows; otherwise say
    /// exactly what is missing (exit 1).
    Promote {
        /// NAME@N, NAME@ALIAS or NAME@latest.
        reference: Ref,
        /// The environment, e.g. production.
        #[arg(long = "to", value_name = "ENV")]
        env: AliasName,
        /// Why, for the deployment history.
        #[arg(long)]
        reason: Option<String>,
        /// Start an environment that berth.toml does not define and the model
        /// has never had (otherwise an unknown name is refused as a likely typo).
        #[arg(long)]
        new_env: bool,
    },
    /// Approve a version for an environment (approvals must come from someone other than its publisher).
    Approve {
        reference: Ref,
        #[arg(long, value_name = "ENV")]
        env: AliasName,
        #[arg(long)]
        comment: Option<String>,
    },
    /// List approvals.
    Approvals {
        /// Only this model's.
        model: Option<ModelName>,
        /// Only for this environment.
        #[arg(long, value_name = "ENV")]
        env: Option<AliasName>,
    },
    /// An environment's deployment history: from, to, who, when, why, and the gate reports' digests.
    Deployments {
        model: ModelName,
        /// One environment (default: all of the model's).
        #[arg(long, value_name = "ENV")]
        env: Option<AliasName>,
    },
    /// Roll an environment back: to the previous version that was live and healthy, or to --to N.
    Rollback {
        model: ModelName,
        #[arg(long, value_name = "ENV")]
        env: AliasName,
        /// The version to go back to.
        #[arg(long, value_name = "N")]
        to: Option<u64>,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Compare live metrics with the metrics the live version passed its gate with; roll back when one
    /// is worse than the environment allows (exit 1).
    Check {
        model: ModelName,
        #[arg(long, value_name = "ENV")]
        env: AliasName,
        /// A JSON object of live metrics, e.g. {"accuracy": 0.84}.
        #[arg(long, value_name = "FILE")]
        metrics: PathBuf,
        /// The fraction a metric may worsen before rolling back (default: the policy's, else 0.2).
        #[arg(long)]
        max_degradation: Option<f64>,
        /// Report without rolling back.
        #[arg(long)]
        dry_run: bool,
    },
    /// Judge the live traffic of the version in ENV from the prediction log: live metrics of the
    /// labelled rows, input and prediction drift, data quality, volume, latency. Records the report
    /// on the version, alerts when degradation or drift starts or ends, and rolls back when the
    /// metrics dropped beyond the policy (exit 1 when degraded or drifted).
    Monitor(MonitorArgs),
    /// Record labels that arrived later, for predictions in the prediction log.
    Feedback(FeedbackArgs),
    /// Roll a new version out through a running `berth serve NAME@ENV`: canary, blue-green or shadow.
    #[command(subcommand)]
    Rollout(RolloutCommand),
    /// The notification delivery log, newest first.
    Notifications {
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Show the audit log, newest first.
    Log {
        /// Only entries about this model.
        #[arg(long)]
        model: Option<ModelName>,
        /// At most this many entries.
        #[arg(long, default_value_t = 50)]
        limit: u32,
    },
    /// Remove blobs that no version references.
    Gc {
        /// Report what would be removed without removing anything.
        #[arg(long)]
        dry_run: bool,
        /// Seconds to wait for pushes in progress to finish.
        #[arg(long, default_value_t = 60)]
        wait: u64,
    },
    /// Verify every blob in the store; report missing, corrupt and orphaned blobs.
    Fsck {
        /// Restore missing and corrupt blobs from files under DIR that hold the right bytes
        /// (a good copy of the damaged versions' files).
        #[arg(long, value_name = "FROM_DIR")]
        repair: Option<PathBuf>,
    },
    /// Train a built-in model on a data file (optionally pushing it as a version).
    Train(TrainArgs),
    /// Score a data file with a model file or a registry ref.
    Predict {
        /// A model file (model.berth or an exported .onnx) or a ref such as churn@production.
        model: String,
        #[arg(long)]
        data: PathBuf,
        /// ONNX models: the columns that fill the input matrix, in order (default: every numeric column).
        #[arg(long, value_delimiter = ',')]
        features: Option<Vec<String>>,
        /// Output file (.csv or .parquet).
        #[arg(short = 'o', long = "output", default_value = "predictions.csv")]
        output: PathBuf,
    },
    /// Run a validation gate: metrics, baseline, drift, stability, range, latency, data checks.
    /// Exit 0 passed, 1 failed, 2 bad input or gate file. `--help` adds the gate file reference.
    #[command(after_long_help = berth_gate::gate::GATE_REFERENCE)]
    Validate(ValidateArgs),
    /// Serve a model over HTTP: /predict, KServe v1, Open Inference Protocol v2, /health, /metrics.
    /// Follows an alias and swaps versions without dropping requests.
    Serve(ServeArgs),
    /// The team server: one authenticated HTTP API over a shared registry and store (PostgreSQL and
    /// S3 for teams). `berth hub init` makes its first admin token.
    Hub(HubArgs),
    /// Make, list and revoke the tokens the hub accepts (admins).
    #[command(subcommand)]
    Token(TokenCommand),
    /// The policy in force: each environment's requirements, kept in the registry, versioned.
    #[command(subcommand)]
    Policy(PolicyCommand),
    /// Git LFS through the hub: `berth lfs install MODEL` points a repository's large files at it.
    #[command(subcommand)]
    Lfs(LfsCommand),
    /// What stands between this project and shipping models safely: model files tracked in git
    /// or in its history (the largest blobs), the size of .git, Git LFS and its quota, .gitignore
    /// coverage, the registry and store reachable and sound, policies that guard the road.
    /// Each finding with the command that fixes it. Exit 1 when a finding is an error.
    Doctor,
    /// Move model files out of git: each commit that changed files matching GLOB (oldest first)
    /// becomes a version of MODEL holding them, with the commit's lineage (commit, author, date,
    /// message); commits imported before are skipped. Then prints the history rewrite that
    /// removes them (`git filter-repo`), or runs it with --rewrite.
    #[command(name = "import-git")]
    ImportGit {
        /// Git pathspec glob from the repository's top, e.g. 'models/*.joblib'.
        glob: String,
        #[arg(long)]
        model: ModelName,
        /// Run the history rewrite too (needs git-filter-repo; rewrites every commit: push the
        /// result with --force, and everyone re-clones).
        #[arg(long)]
        rewrite: bool,
    },
    /// Shell completions, printed: `berth completions bash > /etc/bash_completion.d/berth`,
    /// `berth completions zsh > "${fpath[1]}/_berth"`, `berth completions fish >
    /// ~/.config/fish/completions/berth.fish`.
    Completions {
        #[arg(value_enum)]
        shell: crate::completions::ShellArg,
    },
    /// The manual page (roff), printed (`berth man | man -l -`); with --dir, one page per
    /// command written there (berth.1, berth-push.1, berth-alias-set.1, …).
    Man {
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// CI pipelines: `berth ci init github|gitlab` writes the one this project needs.
    #[command(subcommand)]
    Ci(crate::cli_ci::CiCommand),
    /// Smoke-test a running server with real requests: health, each row of a sample, one batch,
    /// well-formed predictions, latency. Exit 0 passed, 1 failed, 2 bad input.
    Smoke {
        /// The server, e.g. http://staging:8080.
        #[arg(long, value_parser = endpoint_url)]
        endpoint: EndpointUrl,
        /// Rows to send (CSV or Parquet with the model's input columns).
        #[arg(long)]
        data: PathBuf,
        /// How many rows to send one request each (the first N).
        #[arg(long, default_value_t = 100)]
        rows: usize,
        /// Fail when the p99 of the single-row requests is above this.
        #[arg(long, value_name = "MS")]
        max_latency_ms: Option<f64>,
        /// Wait until the server serves this version (NAME@N), as one that follows an
        /// environment does within its poll interval after a promotion; fail if it does not.
        #[arg(long, value_name = "NAME@N", value_parser = exact_version)]
        expect: Option<Ref>,
        /// How long --expect waits for the version.
        #[arg(long, value_name = "SECONDS", default_value_t = 120)]
        expect_wait: u64,
    },
    /// Tabular data: synthesize, profile, show the schema.
    #[command(subcommand)]
    Data(DataCommand),
    /// Run the whole loop on a throwaway project and show each step.
    Quickstart {
        /// Where to create the project (default: a new temporary directory).
        #[arg(long)]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct InitArgs {
    /// Registry URL to record (default sqlite://.berth/registry.db, or BERTH_REGISTRY_URL).
    #[arg(long, value_parser = registry_url)]
    pub registry: Option<String>,
    /// Store URL to record (default .berth/store, or BERTH_STORE_URL).
    #[arg(long, value_parser = store_url)]
    pub store: Option<String>,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Files or directories (a directory keeps its layout).
    #[arg(required = true)]
    pub paths: Vec<PathBuf>,
    /// Model name.
    #[arg(long, short)]
    pub model: ModelName,
    /// JSON file of metrics ({"accuracy": 0.91, ...}).
    #[arg(long)]
    pub metrics: Option<PathBuf>,
    /// A parameter (repeatable).
    #[arg(long = "param", value_name = "KEY=VALUE")]
    pub params: Vec<KeyValue>,
    /// A tag (repeatable).
    #[arg(long = "tag", value_name = "KEY=VALUE")]
    pub tags: Vec<KeyValue>,
    #[arg(long)]
    pub description: Option<String>,
    /// Model format (inferred from file extensions when omitted).
    #[arg(long)]
    pub format: Option<String>,
    /// Store what symbolic links inside a pushed directory point to, if that is inside the
    /// directory (links are refused otherwise).
    #[arg(long)]
    pub follow_symlinks: bool,
    /// Create no version when the model's newest version holds exactly these files
    /// (exit 0, "unchanged: NAME@N").
    #[arg(long)]
    pub if_changed: bool,
    /// Take Git LFS pointer files as the objects they name, which must already be on the hub
    /// (`git lfs push` to its /lfs/MODEL): the version is registered without sending them again.
    #[arg(long)]
    pub from_lfs: bool,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// NAME@N, NAME@ALIAS or NAME@latest.
    pub reference: Ref,
    /// Target directory (default NAME-vN).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum AliasCommand {
    /// Point ALIAS of model NAME at version N.
    Set {
        model: ModelName,
        alias: AliasName,
        version: u64,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Remove ALIAS of model NAME.
    Rm {
        model: ModelName,
        alias: AliasName,
        #[arg(long)]
        reason: Option<String>,
    },
    /// Every move of a model's aliases, oldest first.
    History { model: ModelName, alias: Option<AliasName> },
}

#[derive(Debug, Subcommand)]
pub enum RolloutCommand {
    /// Start a rollout of a candidate version against the version the server follows.
    Start(RolloutStartArgs),
    /// Where the rollout stands: phase, weight, this step's traffic and analysis, shadow statistics.
    Status(EndpointArg),
    /// Promote now (a canary skips its remaining steps; a switched blue-green finishes).
    Promote(EndpointArg),
    /// Abort: the candidate is dropped and stable answers everything.
    Abort(EndpointArg),
    /// Blue-green: send every request to the candidate (stable stays loaded).
    Switch(EndpointArg),
    /// Blue-green: switch back to stable at once.
    Back(EndpointArg),
    /// Blue-green after a switch: make it permanent (moves the environment). Shadow: stop mirroring.
    Finish(EndpointArg),
}

#[derive(Debug, Args)]
pub struct EndpointArg {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_parser = endpoint_url)]
    pub endpoint: EndpointUrl,
    /// The variable holding the server's admin token, sent as "Authorization: Bearer TOKEN"
    /// [default: BERTH_ADMIN_TOKEN, when it is set]. Needed when the server runs with --admin-token-env.
    #[arg(long, value_name = "VAR")]
    pub admin_token_env: Option<String>,
}

#[derive(Debug, Args)]
pub struct RolloutStartArgs {
    /// The server, e.g. http://127.0.0.1:8080.
    #[arg(long, value_parser = endpoint_url)]
    pub endpoint: EndpointUrl,
    /// The variable holding the server's admin token, sent as "Authorization: Bearer TOKEN"
    /// [default: BERTH_ADMIN_TOKEN, when it is set]. Needed when the server runs with --admin-token-env.
    #[arg(long, value_name = "VAR")]
    pub admin_token_env: Option<String>,
    #[arg(long, value_enum)]
    pub strategy: RolloutStrategy,
    /// The candidate version number of the served model.
    #[arg(long, value_name = "N")]
    pub candidate: u64,
    /// Canary weights in percent, rising to 100.
    #[arg(long, value_delimiter = ',', default_value = "10,50,100")]
    pub steps: Vec<u32>,
    /// How long each canary step runs before its analysis.
    #[arg(long, default_value = "1m", value_parser = humantime::parse_duration)]
    pub pause: Duration,
    /// Route by this request header, so one caller stays on one side.
    #[arg(long, value_name = "HEADER")]
    pub sticky_header: Option<String>,
    /// Requests each side must answer in a step before it is judged.
    #[arg(long, default_value_t = 50)]
    pub min_requests: u64,
    /// The candidate's error rate may exceed stable's by at most this fraction.
    #[arg(long, default_value_t = 0.02)]
    pub max_error_rate_increase: f64,
    /// The candidate's p99 may be at most this multiple of stable's (plus 5 ms).
    #[arg(long, default_value_t = 1.5)]
    pub max_p99_ratio: f64,
    /// The largest population stability index between the two sides' predictions.
    #[arg(long, default_value_t = 0.25)]
    pub max_psi: f64,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RolloutStrategy {
    Canary,
    BlueGreen,
    Shadow,
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// A ref to serve and follow, e.g. churn@production (the alias is re-resolved every --poll).
    #[arg(conflicts_with = "model")]
    pub reference: Option<String>,
    /// Serve a model file (model.berth or .onnx) instead; a changed file is swapped in.
    #[arg(long)]
    pub model: Option<PathBuf>,
    /// With --model: the name the model is served under (default: the file's stem).
    #[arg(long, requires = "model")]
    pub name: Option<String>,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:8080", env = "BERTH_SERVE_ADDR")]
    pub addr: String,
    /// ONNX models: the input names, in the order of the model's input matrix.
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// How often to check for a new version (also the longest retry wait).
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub poll: Duration,
    /// In CI only (CI or GITHUB_ACTIONS set): while no real model can be loaded, serve one trained on
    /// synthetic data, reported as source "synthetic".
    #[arg(long, env = "BERTH_ALLOW_SYNTHETIC")]
    pub allow_synthetic: bool,
    /// The signature the synthetic stand-in takes (a signature.json from `berth train`).
    #[arg(long)]
    pub signature: Option<PathBuf>,
    /// Largest request body accepted, in bytes.
    #[arg(long, default_value_t = 8 << 20)]
    pub max_body_bytes: usize,
    /// A request taking longer is answered 503.
    #[arg(long, default_value = "10s", value_parser = humantime::parse_duration)]
    pub timeout: Duration,
    /// Inference requests answered at once; more get 503 with Retry-After.
    #[arg(long, default_value_t = 256)]
    pub max_in_flight: usize,
    /// Log predictions into this directory: Parquet segments of one row per predicted row (request
    /// id, time, version, latency, inputs, prediction, probabilities), which `berth monitor` and
    /// `berth data drift --data DIR` read; also takes labels at POST /feedback.
    #[arg(long)]
    pub prediction_log: Option<PathBuf>,
    /// The share of requests logged, in (0, 1].
    #[arg(long, default_value_t = 1.0, requires = "prediction_log")]
    pub prediction_log_sample: f64,
    /// The log directory's budget in MiB; the oldest segments are deleted beyond it.
    #[arg(long, default_value_t = 1024, requires = "prediction_log")]
    pub prediction_log_max_mib: u64,
    /// A segment is written once it is this old (or about 64 MiB), so the monitor sees traffic
    /// at most this late.
    #[arg(long, default_value = "60s", value_parser = nonzero_duration, requires = "prediction_log")]
    pub prediction_log_rotate: Duration,
    /// Also send every segment the log writes to the store (by name, each once; a round every
    /// --prediction-log-rotate and one at shutdown), so `berth monitor --log-from-store` on any
    /// machine sees every replica's traffic. Needs a ref to serve; the token a hub is reached
    /// with needs the publisher role on the model.
    #[arg(long, requires = "prediction_log", conflicts_with = "model")]
    pub prediction_log_to_store: bool,
    /// Rows in each served version's live drift window: /metrics reports, over the last this many
    /// rows answered, each input column's PSI against the version's reference profile (its
    /// profile.json; for a model file, the one beside it), the missing share, and the predictions'
    /// classes, quantiles and PSI against the training target. 0 turns the window off.
    #[arg(long, default_value_t = 10_000, value_name = "ROWS")]
    pub drift_window: usize,
    /// How long a shutdown waits for requests in flight.
    #[arg(long, default_value = "30s", value_parser = humantime::parse_duration)]
    pub drain: Duration,
    /// The environment variable holding the token /admin/* (reload, rollouts) then requires, as
    /// "Authorization: Bearer TOKEN". Required when --addr is not loopback; on loopback without it
    /// the admin endpoints are open to local processes.
    #[arg(long, value_name = "VAR")]
    pub admin_token_env: Option<String>,
    /// A request head must be complete this long after its connection opens (or after its first
    /// byte following an idle spell); else the connection is closed.
    #[arg(long, default_value = "10s", value_parser = nonzero_duration)]
    pub header_read_timeout: Duration,
    /// A kept-alive connection with no request for this long is closed.
    #[arg(long, default_value = "60s", value_parser = nonzero_duration)]
    pub idle_timeout: Duration,
    /// Connections open at once; beyond, a new one is answered 503 and closed at once (counted in
    /// /metrics as berth_connections_refused_total), never queued.
    #[arg(long, default_value_t = 4096)]
    pub max_connections: usize,
}

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// A model file (model.berth, .onnx) or a ref such as churn@staging; omit with --predictions.
    pub model: Option<String>,
    /// The evaluation data (CSV or Parquet) with the true labels.
    #[arg(long)]
    pub data: PathBuf,
    /// A gate file (TOML); flags below add to it.
    #[arg(long)]
    pub gate: Option<PathBuf>,
    /// The label column (default: the gate's `target`, else the model's).
    #[arg(long)]
    pub target: Option<String>,
    /// Score this predictions file instead of running a model (a `prediction` column, proba_<class> columns).
    #[arg(long, conflicts_with_all = ["endpoint", "model"])]
    pub predictions: Option<PathBuf>,
    /// Score through a running `berth serve` (e.g. staging) instead of a model: http://HOST:PORT.
    /// Latency is then measured over the network.
    #[arg(long, conflicts_with = "model", value_parser = endpoint_url)]
    pub endpoint: Option<EndpointUrl>,
    /// With --predictions: the model's task (a model or an endpoint says its own).
    #[arg(long, value_enum)]
    pub task: Option<TaskArg>,
    /// ONNX models: the input columns, in order.
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// Compare with this version or model file (a ref such as churn@production).
    #[arg(long)]
    pub baseline: Option<String>,
    /// With --baseline: how much worse each compared metric may be, as a fraction of the baseline (0.05 = 5%).
    #[arg(long)]
    pub tolerance: Option<f64>,
    /// Minimum accuracy, a fraction in [0, 1] (0.85 for 85%).
    #[arg(long, value_name = "X")]
    pub min_accuracy: Option<f64>,
    /// Minimum recall of every class, a fraction in [0, 1].
    #[arg(long, value_name = "X")]
    pub min_recall: Option<f64>,
    /// Maximum single-row p99 latency.
    #[arg(long, value_name = "MS")]
    pub max_latency_ms: Option<f64>,
    /// A metric floor, e.g. --min f1_macro=0.8 (repeatable).
    #[arg(long = "min", value_name = "METRIC=X")]
    pub min: Vec<String>,
    /// A metric ceiling, e.g. --max mae=40 or --max mape=10 (MAPE is in percent) (repeatable).
    #[arg(long = "max", value_name = "METRIC=X")]
    pub max: Vec<String>,
    /// Write the report as JSON.
    #[arg(long, value_name = "FILE")]
    pub report_json: Option<PathBuf>,
    /// Write the report as Markdown (also appended to $GITHUB_STEP_SUMMARY when set).
    #[arg(long, value_name = "FILE")]
    pub report_md: Option<PathBuf>,
    /// Write the report as JUnit XML (one test case per check).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Do not store the report on the version.
    #[arg(long)]
    pub no_store: bool,
}

/// A model's task, as `train --model-type` and `validate --task` name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TaskArg {
    Classification,
    Regression,
    Anomaly,
    /// A regression over time, validated on its latest rows (a forecast model is a regression model).
    Forecast,
}

#[derive(Debug, Args)]
pub struct TrainArgs {
    /// Training config (TOML): model_type, algorithm, target, features, validation_split, seed, data, [hyperparameters].
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Training data (.csv or .parquet); overrides the config's `data`.
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// The model's task.
    #[arg(long, value_enum)]
    pub model_type: Option<TaskArg>,
    /// logistic_regression, random_forest, gradient_boosting, hist_gradient_boosting, naive_bayes
    /// (classification); ridge, random_forest, gradient_boosting, hist_gradient_boosting (regression);
    /// isolation_forest (anomaly).
    /// LightGBM and XGBoost models come in as ONNX: export them with onnxmltools.
    #[arg(long)]
    pub algorithm: Option<AlgorithmName>,
    #[arg(long)]
    pub target: Option<String>,
    /// Feature columns (comma-separated; default: every column but the target).
    #[arg(long, value_delimiter = ',')]
    pub features: Option<Vec<String>>,
    /// A hyperparameter (repeatable), e.g. --set C=0.5.
    #[arg(long = "set", value_name = "NAME=VALUE", value_parser = hyperparameter)]
    pub hyperparameters: Vec<(String, berth_ml::Hyper)>,
    #[arg(long)]
    pub validation_split: Option<f64>,
    #[arg(long)]
    pub seed: Option<u64>,
    /// Output directory. Its training files are replaced; a directory holding
    /// anything else is refused unless --force.
    #[arg(short = 'o', long = "output", default_value = "model")]
    pub output: PathBuf,
    /// Train into an output directory that holds other files (they are left
    /// alone and never pushed).
    #[arg(long)]
    pub force: bool,
    /// Push exactly the files this training wrote as a new version of this model.
    #[arg(long, value_name = "NAME")]
    pub push: Option<ModelName>,
}

/// A value parser's error: what was wrong and, after it, what to do.
fn with_hint(message: impl std::fmt::Display, hint: Option<String>) -> String {
    match hint {
        Some(h) => format!("{message}\n  help: {h}"),
        None => message.to_string(),
    }
}

/// `--endpoint`: a berth server's address.
/// A ref that names one version by number: `NAME@N`.
fn exact_version(s: &str) -> Result<Ref, String> {
    let r = Ref::parse(s).map_err(|e| e.to_string())?;
    match r.selector {
        berth_core::Selector::Version(_) => Ok(r),
        _ => Err(format!("{s:?} does not name a version by number: write NAME@N, e.g. churn@3")),
    }
}

fn endpoint_url(s: &str) -> Result<EndpointUrl, String> {
    EndpointUrl::parse(s).map_err(|e| {
        let hint = e.hint();
        with_hint(e, hint)
    })
}

/// `init --registry`: checked now, recorded as written (a relative SQLite
/// path stays relative to the project).
fn registry_url(s: &str) -> Result<String, String> {
    berth_service::RegistryUrl::parse(s, Path::new(""))
        .map(|_| s.to_string())
        .map_err(|e| with_hint(e, Some("write sqlite://PATH or postgres://USER@HOST:PORT/DB".into())))
}

/// `init --store`: checked now, recorded as written.
fn store_url(s: &str) -> Result<String, String> {
    berth_service::StoreUrl::parse(s, Path::new(""))
        .map(|_| s.to_string())
        .map_err(|e| with_hint(e, Some("write a directory, file:///abs/path or s3://bucket/prefix".into())))
}

/// `--set NAME=VALUE`: a number, or a name for the few hyperparameters that
/// choose among options (`--set loss=poisson`). Which names the algorithm
/// takes, and which values each, is checked with the rest of the training
/// config.
fn hyperparameter(s: &str) -> Result<(String, berth_ml::Hyper), String> {
    let kv = KeyValue::parse(s).map_err(|e| e.to_string())?;
    if kv.value.trim().is_empty() {
        return Err(with_hint(
            format!("hyperparameter {} has no value", kv.key),
            Some(format!("write it as --set {}=0.5", kv.key)),
        ));
    }
    Ok((kv.key, berth_ml::Hyper::parse(&kv.value)))
}

/// A duration that may not be zero, e.g. `10s` (a zero timeout would close
/// every connection at once).
fn nonzero_duration(s: &str) -> Result<Duration, String> {
    match humantime::parse_duration(s) {
        Ok(d) if d.is_zero() => {
            Err(with_hint(format!("{s:?} is no time at all"), Some("give a duration, e.g. 10s".into())))
        }
        Ok(d) => Ok(d),
        Err(e) => Err(with_hint(e, Some("give a duration, e.g. 10s or 1m".into()))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("berth").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    #[test]
    fn typed_arguments_arrive_parsed() {
        let Command::Promote { reference, env, .. } =
            parse(&["promote", "churn@3", "--to", "production"]).unwrap().command
        else {
            panic!("not promote")
        };
        assert_eq!((reference.to_string(), env.as_str()), ("churn@3".to_string(), "production"));
        let Command::Push(p) =
            parse(&["push", "m.bin", "-m", "churn", "--param", "lr=0.1", "--tag", "q=a=b"]).unwrap().command
        else {
            panic!("not push")
        };
        assert_eq!(
            (p.model.as_str(), p.params[0].to_string(), p.tags[0].value.as_str()),
            ("churn", "lr=0.1".into(), "a=b")
        );
        let Command::Train(t) = parse(&[
            "train",
            "--model-type",
            "regression",
            "--algorithm",
            "ridge",
            "--set",
            "alpha=0.5",
            "--push",
            "m",
        ])
        .unwrap()
        .command
        else {
            panic!("not train")
        };
        assert_eq!((t.model_type, t.algorithm), (Some(TaskArg::Regression), Some(AlgorithmName::Ridge)));
        assert_eq!(t.hyperparameters, [("alpha".to_string(), berth_ml::Hyper::Number(0.5))]);
        let Command::Data(DataCommand::Drift(d)) = parse(&[
            "data",
            "drift",
            "--reference",
            "a",
            "--data",
            "b",
            "--correction",
            "bh",
            "--numeric-test",
            "levene",
        ])
        .unwrap()
        .command
        else {
            panic!("not drift")
        };
        assert_eq!((d.correction, d.numeric_test), (CorrectionArg::Bh, NumericTestArg::Levene));
        let Command::Rollout(RolloutCommand::Status(e)) =
            parse(&["rollout", "status", "--endpoint", "http://127.0.0.1:8080/"]).unwrap().command
        else {
            panic!("not rollout status")
        };
        assert_eq!(e.endpoint.to_string(), "http://127.0.0.1:8080");
    }

    /// What a bad value answers: a usage error (exit 2) naming the argument,
    /// the value and what is wrong with it.
    #[test]
    fn a_bad_value_is_a_usage_error_naming_the_argument() {
        let cases: &[(&[&str], &str, &str)] = &[
            (&["show", "m@0"], "<REFERENCE>", "version numbers start at 1"),
            (&["versions", "Churn"], "<MODEL>", "try \"churn\""),
            (&["promote", "m@1", "--to", "latest"], "--to <ENV>", "reserved"),
            (&["push", "m.bin", "-m", "m", "--param", "novalue"], "--param <KEY=VALUE>", "expected KEY=VALUE"),
            (&["tag", "m@1", "=v"], "<KEY=VALUE>", "no key"),
            (&["train", "--set", "C="], "--set <NAME=VALUE>", "has no value"),
            (&["train", "--algorithm", "svm"], "--algorithm <ALGORITHM>", "valid: logistic_regression"),
            (&["train", "--algorithm", "xgboost"], "--algorithm <ALGORITHM>", "onnxmltools"),
            (&["train", "--model-type", "regr"], "--model-type <MODEL_TYPE>", "regression"),
            (&["train", "--push", "Bad Name"], "--push <NAME>", "invalid model name"),
            (&["data", "synth", "--kind", "images", "-o", "x.csv"], "--kind <KIND>", "forecast"),
            (&["data", "synth", "--kind", "forecast", "--drift", "tilt:x=1", "-o", "x.csv"], "--drift <SPEC>", "tilt"),
            (
                &["data", "drift", "--reference", "a", "--data", "b", "--correction", "bonferroni"],
                "--correction",
                "holm",
            ),
            (&["smoke", "--endpoint", "ftp://x", "--data", "d.csv"], "--endpoint <ENDPOINT>", "http://HOST:PORT"),
            (&["init", "--registry", "mysql://x"], "--registry <REGISTRY>", "postgres://"),
            (&["serve", "m@1", "--idle-timeout", "0s"], "--idle-timeout", "e.g. 10s"),
        ];
        for (args, arg, needle) in cases {
            let e = parse(args).err().unwrap_or_else(|| panic!("{args:?} parsed"));
            let text = e.to_string();
            assert_eq!(e.exit_code(), 2, "{args:?}: {text}");
            assert!(text.contains(arg) && text.contains(needle), "{args:?}: expected {arg} and {needle:?} in\n{text}");
        }
    }
}

#[derive(Args, Debug)]
pub struct MonitorArgs {
    pub model: ModelName,
    #[arg(long, value_name = "ENV")]
    pub env: AliasName,
    /// The prediction log directory (default: `[monitors.MODEL] log` in berth.toml).
    #[arg(long, value_name = "DIR")]
    pub log: Option<PathBuf>,
    /// Read the log from the store: the segments every replica with --prediction-log-to-store
    /// sent, mirrored before each look into --log (default `.berth/plog/MODEL`).
    #[arg(long)]
    pub log_from_store: bool,
    /// How far back to look: 7d, 12h, 30m (default: `[monitors.MODEL] window`, else 7d).
    #[arg(long, value_name = "DURATION", conflicts_with = "last")]
    pub window: Option<String>,
    /// Look at the newest N predictions instead of a time window.
    #[arg(long, value_name = "N")]
    pub last: Option<u64>,
    /// Keep running: look again this long after each look (6h, 30m).
    #[arg(long, value_name = "DURATION")]
    pub every: Option<String>,
    /// Judge and print; record nothing, roll nothing back.
    #[arg(long)]
    pub dry_run: bool,
}

#[derive(Args, Debug)]
pub struct FeedbackArgs {
    /// A CSV or Parquet file with a request id column and the true label or value.
    #[arg(long, value_name = "FILE")]
    pub data: PathBuf,
    /// The prediction log directory the labels are for.
    #[arg(long, value_name = "DIR")]
    pub log: PathBuf,
    #[arg(long, value_name = "COLUMN", default_value = "request_id")]
    pub id_column: String,
    /// The column of true labels (text or whole numbers) or values (numbers).
    #[arg(long, value_name = "COLUMN")]
    pub target: String,
    /// The column of row numbers within a request (default: every label is for row 0).
    #[arg(long, value_name = "COLUMN")]
    pub row_column: Option<String>,
    /// Also send the labels to the store as a segment of MODEL's log, for `berth monitor
    /// --log-from-store` (the publisher role on MODEL).
    #[arg(long, value_name = "MODEL")]
    pub to_store: Option<berth_core::ModelName>,
}
