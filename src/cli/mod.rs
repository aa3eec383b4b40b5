//! The command line: thin over the library. Exit codes: 0 ok, 1 failed, 2 bad usage or
//! configuration, 3 finished but partial (records quarantined).

#[cfg(feature = "bench")]
mod bench;
mod commands;
pub(crate) mod output;

use std::path::PathBuf;

use chrono::NaiveDate;
use clap::{Args, Parser, Subcommand, ValueEnum};

pub use commands::run;

/// Exit code: everything went through.
pub const EXIT_OK: u8 = 0;
/// Exit code: a run or command failed.
pub const EXIT_FAILED: u8 = 1;
/// Exit code: bad usage or invalid configuration.
pub const EXIT_USAGE: u8 = 2;
/// Exit code: finished, but some records were quarantined.
pub const EXIT_PARTIAL: u8 = 3;

/// Tributary: connectors, mappings, a unified customer master and credit exposure.
#[derive(Debug, Parser)]
#[command(name = "tributary", version, about, propagate_version = true)]
pub struct Cli {
    /// Project root holding config/, connectors/ and mappings/.
    #[arg(long, global = true, env = "TRIBUTARY_ROOT", default_value = ".")]
    pub root: PathBuf,
    /// Log filter (e.g. `info`, `tributary=debug`); logs go to stderr.
    #[arg(long, global = true, env = "TRIBUTARY_LOG", default_value = "warn")]
    pub log: String,
    /// Log lines as `text` (for a terminal) or `json` (one object a line, for a collector).
    #[arg(long, global = true, env = "TRIBUTARY_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line, with the run's connector and run ID on every line of a run.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the daemon: scheduled syncs, webhooks, the API, the web page and metrics.
    Serve {
        /// Listen here instead of `server.bind` of config/tributary.toml.
        #[arg(long)]
        bind: Option<String>,
    },
    /// Sync connectors into the store and rebuild the customer master.
    Sync(SyncArgs),
    /// Validate config, every connector and every mapping without touching a source; with
    /// `--environment`, then reach every enabled connector and the store.
    Check {
        /// After the static check, open every enabled connector (log in, connect, list its
        /// folder, or send one request per stream) and connect to the store, reporting each;
        /// exit 1 if any failed.
        #[arg(long)]
        environment: bool,
    },
    /// Run the test cases shipped inside mapping files.
    Test {
        /// Only these mappings (file stems); all when omitted.
        mappings: Vec<String>,
    },
    /// Search master customers by name, tax ID, master ID or source key.
    Customers {
        /// Text to look for; lists all when omitted.
        query: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// One customer: golden record with lineage, linked source records, exposure.
    Customer {
        /// Master ID (an alias of a merged master works too).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// The as-of date.
        #[command(flatten)]
        asof: AsOf,
    },
    /// Credit exposure of one customer, or the report over all (`credit report`).
    #[command(args_conflicts_with_subcommands = true)]
    Credit(CreditArgs),
    /// Recent sync runs.
    Runs {
        /// Only this connector.
        #[arg(long)]
        connector: Option<String>,
        /// How many.
        #[arg(long, default_value_t = 20)]
        limit: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Inventory held in the distribution channel per dealer: on hand, in transit, sell-through
    /// over the last `--days` days up to `--as-of`, and weeks of cover.
    Channel {
        /// Only this dealer (its key in the source, e.g. D1001).
        #[arg(long)]
        dealer: Option<String>,
        /// Length of the sell-through window in days.
        #[arg(long, default_value_t = 28)]
        days: u32,
        /// Print JSON (quantities as decimal strings).
        #[arg(long)]
        json: bool,
        /// The as-of date.
        #[command(flatten)]
        asof: AsOf,
    },
    /// The data steward's review queue: pairs the matcher could not decide (`review` lists the
    /// open ones, largest exposure at stake first; `review show|approve|reject ID`).
    Review(ReviewArgs),
    /// A data steward's actions on the customer master, audited and undoable.
    #[command(subcommand)]
    Master(MasterCommand),
    /// Benchmarks that print their figures.
    #[cfg(feature = "bench")]
    #[command(subcommand)]
    Bench(BenchCommand),
    /// Webhook events in the inbox, newest first: pending, processed or failed.
    Inbox(Listing),
    /// Quarantined records with their reasons.
    Errors(Listing),
}

/// Options of the `inbox` and `errors` lists.
#[derive(Debug, Args)]
pub struct Listing {
    /// Only this connector.
    #[arg(long)]
    pub connector: Option<String>,
    /// How many, newest first.
    #[arg(long, default_value_t = 50)]
    pub limit: i64,
    /// Print JSON (with raw payloads and bodies).
    #[arg(long)]
    pub json: bool,
}

/// `review` options.
#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct ReviewArgs {
    /// What to do with one review.
    #[command(subcommand)]
    pub command: Option<ReviewCommand>,
    /// Also list approved, rejected and obsolete reviews.
    #[arg(long)]
    pub all: bool,
    /// Order of the list: `at-stake` (the smaller side's credit exposure, in the base currency,
    /// largest first; ties most probable first) or `probability`.
    #[arg(long, value_enum, default_value_t = crate::views::ReviewSort::AtStake)]
    pub sort: crate::views::ReviewSort,
    /// Print JSON (the exposure at stake as a decimal string, with its currency).
    #[arg(long)]
    pub json: bool,
}

/// `review` subcommands.
#[derive(Debug, Subcommand)]
pub enum ReviewCommand {
    /// One review with the explanation of its score.
    Show {
        /// Review number.
        id: i64,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// The two records are the same customer: link them (now and in every later rebuild).
    Approve {
        /// Review number.
        id: i64,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
    /// The two records are different customers: keep them apart.
    Reject {
        /// Review number.
        id: i64,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
}

/// Who acts and why (every steward action is audited).
#[derive(Debug, Args)]
pub struct By {
    /// Why (required).
    #[arg(long)]
    pub reason: String,
    /// Who (defaults to $USER).
    #[arg(long, env = "USER", default_value = "unknown")]
    pub by: String,
}

/// `master` subcommands. Records are written `SOURCE:KEY` (e.g. `erp:C10014`).
#[derive(Debug, Subcommand)]
pub enum MasterCommand {
    /// Re-cluster every staged customer with the kept matching model, keeping master IDs and
    /// steward decisions. Syncs match only what changed, and get the same result; this is the
    /// full path, e.g. to check that, or after changing thresholds or survivorship without
    /// syncing again.
    Recluster {
        /// Train the matching model again on every staged customer first.
        #[arg(long)]
        retrain: bool,
        /// The as-of date.
        #[command(flatten)]
        asof: AsOf,
    },
    /// Merge two masters: the older keeps its ID, the other becomes an alias of it.
    Merge {
        /// One master ID.
        a: String,
        /// The other.
        b: String,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
    /// Split records out of a master into a master of their own.
    Split {
        /// Master ID.
        id: String,
        /// The records to split out.
        #[arg(required = true)]
        records: Vec<String>,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
    /// Force two source records into one master.
    Link {
        /// One record.
        left: String,
        /// The other.
        right: String,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
    /// Force two source records apart.
    Unlink {
        /// One record.
        left: String,
        /// The other.
        right: String,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
    /// Undo a steward action (its number is in `master history` and in each action's output).
    Undo {
        /// Action number.
        action: i64,
        /// Who acts, and why.
        #[command(flatten)]
        by: By,
    },
    /// The steward actions concerning a master, oldest first.
    History {
        /// Master ID (an alias works too).
        id: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// The records `bench master` generates.
#[cfg(feature = "bench")]
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Shape {
    /// Copies of each company written differently by each source.
    Synthetic,
    /// Companies as real ERPs and a dealer system hold them.
    MultiErp,
}

/// `bench` subcommands.
#[cfg(feature = "bench")]
#[derive(Debug, Subcommand)]
pub enum BenchCommand {
    /// Match generated customer records with known duplicates (Chinese and English company
    /// names, tax IDs, addresses, phones, e-mails, written differently per source), then match
    /// and merge a batch of new records into the result; prints time, peak memory, candidate
    /// pairs and pairwise precision, recall and F1.
    Master {
        /// Records matched whole.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// New records matched and merged afterwards (`synthetic` only).
        #[arg(long, default_value_t = 1_000)]
        new: usize,
        /// `synthetic`: one to three copies of each company, written differently; `multi-erp`:
        /// companies as an ERP, a sister company's ledger and a dealer system really hold them
        /// (tax IDs missing on one side, namesakes and branches), with recall per evidence class.
        #[arg(long, value_enum, default_value_t = Shape::Synthetic)]
        shape: Shape,
        /// Also print up to N false positives and N true pairs left apart, explained
        /// (`multi-erp` only).
        #[arg(long, default_value_t = 0)]
        show: usize,
        /// Write the trained m and u per level as a priors file (`multi-erp` only; how the
        /// shipped `src/reconcile/matching/priors.json` is made).
        #[arg(long)]
        write_priors: Option<PathBuf>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rebuild the master through a real store: stage generated customers into a temporary
    /// SQLite file (or `--store`, which must be empty), build the master (training), stage
    /// edits and new records, rebuild incrementally, then re-cluster whole with the kept model;
    /// prints the seconds of each, the records clustered again and whether the two agree.
    Rebuild {
        /// Customers staged first.
        #[arg(long, default_value_t = 100_000)]
        records: usize,
        /// Records changed afterwards: half edited, half new.
        #[arg(long, default_value_t = 1_000)]
        changes: usize,
        /// Store URL instead of a temporary SQLite file (e.g. an empty PostgreSQL database).
        #[arg(long)]
        store: Option<String>,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Match FEBRL person records with the `[reconcile.matching]` settings and print candidate
    /// pairs, precision, recall and F1 over record pairs, and seconds. One file: deduplicate it;
    /// two files: link them.
    Febrl {
        /// One or two FEBRL CSV files.
        #[arg(required = true, num_args = 1..=2)]
        files: Vec<PathBuf>,
        /// Also compare `soc_sec_id` (as `personal_id`).
        #[arg(long)]
        with_ssn: bool,
        /// Link the originals (`rec-N-org`) of one file against its duplicates.
        #[arg(long)]
        split: bool,
        /// Also print up to N false positives and N false negatives with their explanations.
        #[arg(long, default_value_t = 0)]
        show: usize,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `sync` options.
#[derive(Debug, Args)]
pub struct SyncArgs {
    /// Sync this connector (repeatable).
    #[arg(long = "connector", short = 'c', conflicts_with = "all")]
    pub connectors: Vec<String>,
    /// Sync every enabled connector (the default when no connector is named).
    #[arg(long)]
    pub all: bool,
    /// Only these streams of the named connector (repeatable).
    #[arg(long = "stream", requires = "connectors")]
    pub streams: Vec<String>,
    /// Forget the streams' cursors and read everything again (backfill).
    #[arg(long)]
    pub full: bool,
    /// How many customers to show by credit utilisation after the sync.
    #[arg(long, default_value_t = 10)]
    pub top: usize,
    /// The as-of date.
    #[command(flatten)]
    pub asof: AsOf,
}

/// The date receivables are aged against.
#[derive(Debug, Clone, Args)]
pub struct AsOf {
    /// Age receivables as of this date (YYYY-MM-DD; default today, UTC).
    #[arg(long, env = "TRIBUTARY_AS_OF")]
    pub as_of: Option<NaiveDate>,
}

/// `credit` options.
#[derive(Debug, Args)]
pub struct CreditArgs {
    /// `report` for all customers.
    #[command(subcommand)]
    pub report: Option<CreditCommand>,
    /// Master ID of one customer.
    pub id: Option<String>,
    /// The customer's group: itself plus all its descendants, against its own credit limit.
    #[arg(long)]
    pub group: bool,
    /// Print the JSON contract (amounts as decimal strings).
    #[arg(long)]
    pub json: bool,
    /// The as-of date.
    #[command(flatten)]
    pub asof: AsOf,
}

/// `credit` subcommands.
#[derive(Debug, Subcommand)]
pub enum CreditCommand {
    /// Exposure of every customer, highest utilisation first.
    Report {
        /// Filters, sorting and paging.
        #[command(flatten)]
        query: crate::views::ReportQuery,
        /// Group heads only, each with the exposure of its whole group.
        #[arg(long)]
        groups: bool,
        /// Output format.
        #[arg(long, value_enum, default_value_t = Format::Table)]
        format: Format,
        /// The as-of date.
        #[command(flatten)]
        asof: AsOf,
    },
}

/// Output formats of reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// A table for people.
    Table,
    /// CSV with a header row.
    Csv,
    /// A JSON array.
    Json,
}
