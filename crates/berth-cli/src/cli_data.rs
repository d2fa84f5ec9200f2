//! The arguments of `berth data`: synth, profile, schema, drift.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};

#[derive(Debug, Subcommand)]
pub enum DataCommand {
    /// Write seeded synthetic data (.csv or .parquet); the same seed gives the same bytes.
    Synth(SynthArgs),
    /// Profile a data file: per column count, nulls, mean, std, quantiles, categories.
    Profile {
        file: PathBuf,
        /// Only these columns (comma-separated).
        #[arg(long, value_delimiter = ',')]
        columns: Option<Vec<String>>,
        /// Also write the profile as JSON to this file.
        #[arg(short = 'o', long = "output")]
        output: Option<PathBuf>,
    },
    /// Show the column names and types berth infers for a data file.
    Schema { file: PathBuf },
    /// Test every column for drift between a reference and current data; exit 1 on dataset drift.
    Drift(DriftArgs),
}

#[derive(Debug, Args)]
pub struct DriftArgs {
    /// The reference data (what the model was trained on).
    #[arg(long)]
    pub reference: PathBuf,
    /// The current data.
    #[arg(long)]
    pub data: PathBuf,
    /// Only these columns (default: every column both files have).
    #[arg(long, value_delimiter = ',')]
    pub columns: Option<Vec<String>>,
    #[arg(long, default_value_t = 0.05)]
    pub alpha: f64,
    /// How the columns' p-values are corrected for testing many at once.
    #[arg(long, value_enum, default_value = "holm")]
    pub correction: CorrectionArg,
    /// The dataset drifts when more than this share of its columns drift.
    #[arg(long, default_value_t = 0.5)]
    pub max_drifted_share: f64,
    /// Numeric test: ks (Kolmogorov–Smirnov), z (difference of means, with Levene's test on the spread beside it) or levene.
    #[arg(long, value_enum, default_value = "ks")]
    pub numeric_test: NumericTestArg,
}

/// `data drift --correction`: the gate's corrections, by the gate file's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CorrectionArg {
    Holm,
    Bh,
    None,
}

/// `data drift --numeric-test`: the gate's numeric tests, by the gate file's names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NumericTestArg {
    Ks,
    Z,
    Levene,
}

#[derive(Debug, Args)]
pub struct SynthArgs {
    /// What the data is for.
    #[arg(long, value_enum)]
    pub kind: SynthKind,
    #[arg(long, default_value_t = 1000)]
    pub rows: usize,
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
    /// Numeric features (classification, regression, anomaly).
    #[arg(long, default_value_t = 10)]
    pub features: usize,
    /// Classes (classification).
    #[arg(long, default_value_t = 2)]
    pub classes: usize,
    /// Share of outliers (anomaly).
    #[arg(long, default_value_t = 0.05)]
    pub contamination: f64,
    /// Make a drifted copy: shift:COLUMN=DELTA, scale:COLUMN=FACTOR, mix:COLUMN=LEVEL:SHARE (repeatable).
    #[arg(long = "drift", value_name = "SPEC", value_parser = berth_data::synth::Drift::parse)]
    pub drift: Vec<berth_data::synth::Drift>,
    /// Output file; the extension picks CSV or Parquet.
    #[arg(short = 'o', long = "output")]
    pub output: PathBuf,
}

/// `data synth --kind`: the kinds of synthetic data berth makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SynthKind {
    Classification,
    Regression,
    Forecast,
    Text,
    Anomaly,
}
