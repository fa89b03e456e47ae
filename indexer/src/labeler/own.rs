//! The service's own labels (`indexer label apply|negate|list`): operator takedowns and other
//! moderation decisions, made as the service's DID, signed with its label key when one is
//! configured, stored like any labeler's label (the AppViews apply them within a second) and
//! recorded in `label_actions` with who made them, when and why.

use chrono::{DateTime, Utc};
use clap::{Args, Subcommand};
use plyr_atproto::label::{self, Label, LabelSigner, NewLabel};
use sqlx::PgPool;

use crate::db::labels;

/// `indexer label ...`.
#[derive(Debug, Args)]
pub struct LabelArgs {
    /// The service's DID: the `src` of its labels. The AppView applies its own DID's labels,
    /// so set the same PLYR_SERVICE_DID for both.
    #[arg(long, env = "PLYR_SERVICE_DID", value_parser = plyr_atproto::settings::did)]
    pub service_did: String,

    #[command(subcommand)]
    pub action: LabelAction,
}

#[derive(Debug, Subcommand)]
pub enum LabelAction {
    /// Apply a label (e.g. `!takedown`) to a record or an account, at once.
    Apply(Change),
    /// Negate a label this service applied earlier.
    Negate(Change),
    /// Show the latest label actions, newest first.
    List {
        /// Only actions on this record (AT-URI) or account (DID).
        #[arg(long, value_parser = subject)]
        subject: Option<String>,
        /// Most actions shown.
        #[arg(long, default_value_t = 50)]
        limit: i64,
    },
}

/// One apply or negate.
#[derive(Debug, Args)]
pub struct Change {
    /// The record's AT-URI or the account's DID.
    #[arg(long, value_parser = subject)]
    pub subject: String,
    /// The label value (`!takedown`, `!hide`, `porn`, ...).
    #[arg(long, value_parser = value)]
    pub val: String,
    /// Why: kept in the audit trail.
    #[arg(long, value_parser = reason)]
    pub reason: String,
    /// Who is acting, for the audit trail (defaults to $USER).
    #[arg(long, env = "USER", default_value = "operator")]
    pub by: String,
    /// Pin the label to this version (CID) of the record.
    #[arg(long)]
    pub cid: Option<String>,
    /// When the label stops applying (RFC 3339).
    #[arg(long, value_parser = time)]
    pub exp: Option<DateTime<Utc>>,
    /// secp256k1 private key (64 hex digits) that signs the service's labels; unsigned without
    /// one (they are applied here either way; other services may want them signed).
    #[arg(long, env = "PLYR_LABEL_SIGNING_KEY", hide_env_values = true, value_parser = signer)]
    pub signing_key: Option<LabelSigner>,
}

fn subject(value: &str) -> Result<String, String> {
    let ok = plyr_atproto::syntax::is_valid_did(value) || plyr_atproto::syntax::is_valid_at_uri(value);
    if ok { Ok(value.to_owned()) } else { Err("expected a record's at:// URI or an account's DID".into()) }
}

fn value(value: &str) -> Result<String, String> {
    if value.is_empty() || value.len() > label::MAX_VAL_BYTES {
        return Err(format!("a label value is 1 to {} bytes", label::MAX_VAL_BYTES));
    }
    Ok(value.to_owned())
}

fn reason(value: &str) -> Result<String, String> {
    if value.trim().is_empty() {
        Err("say why (kept in the audit trail)".into())
    } else {
        Ok(value.to_owned())
    }
}

fn time(value: &str) -> Result<DateTime<Utc>, String> {
    plyr_atproto::syntax::parse_datetime(value).map(|t| t.with_timezone(&Utc)).map_err(|e| e.to_string())
}

fn signer(value: &str) -> Result<LabelSigner, String> {
    LabelSigner::from_hex(value).map_err(|e| e.to_string())
}

/// Runs one `indexer label` command, printing what it did.
pub async fn run(db: &PgPool, args: LabelArgs) -> anyhow::Result<()> {
    match args.action {
        LabelAction::Apply(change) => act(db, &args.service_did, change, false).await,
        LabelAction::Negate(change) => act(db, &args.service_did, change, true).await,
        LabelAction::List { subject, limit } => {
            let actions =
                labels::actions(db, &args.service_did, subject.as_deref(), limit.clamp(1, 10_000)).await?;
            if actions.is_empty() {
                println!("no label actions by {}", args.service_did);
            }
            for a in actions {
                println!(
                    "#{} {} {} {} {:?} on {}{} ({})",
                    a.id,
                    a.created_at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                    a.actor,
                    if a.neg { "negated" } else { "applied" },
                    a.val,
                    a.uri,
                    if a.in_force { ", in force" } else { "" },
                    a.reason,
                );
            }
            Ok(())
        }
    }
}

async fn act(db: &PgPool, src: &str, change: Change, neg: bool) -> anyhow::Result<()> {
    let new = NewLabel {
        src: src.to_owned(),
        uri: change.subject.clone(),
        cid: change.cid.clone(),
        val: change.val.clone(),
        neg,
        cts: Utc::now(),
        exp: change.exp,
    };
    let label = match &change.signing_key {
        Some(signer) => signer.sign(new)?,
        None => label::unsigned(new)?,
    };
    let id = store(db, &label, &change.reason, &change.by).await?;
    let verb = if neg { "negated" } else { "applied" };
    println!("{verb} {:?} on {} as {src} (action #{id})", label.val, label.uri);
    tracing::info!(action = id, src, uri = %label.uri, val = %label.val, neg, by = %change.by, "label {verb}");
    Ok(())
}

/// Stores the label and its audit entry in one transaction that announces the change.
async fn store(db: &PgPool, label: &Label, reason: &str, by: &str) -> sqlx::Result<i64> {
    let mut tx = db.begin().await?;
    labels::apply(&mut tx, std::slice::from_ref(label)).await?;
    let id = labels::record_action(&mut tx, label, reason, by).await?;
    labels::announce(&mut tx, std::slice::from_ref(label)).await?;
    tx.commit().await?;
    Ok(id)
}
