//! Counts of what a generated stream holds, by event kind and by collection and operation,
//! for the CLI's report and for tests to assert the mix against.

use std::collections::BTreeMap;
use std::fmt;

use crate::wire::{Body, Operation};

/// Creates, updates and deletes in one collection.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct OpCounts {
    pub create: u64,
    pub update: u64,
    pub delete: u64,
}

impl OpCounts {
    /// All operations.
    pub fn total(&self) -> u64 {
        self.create + self.update + self.delete
    }

    /// The count for one operation.
    pub fn get(&self, operation: Operation) -> u64 {
        match operation {
            Operation::Create => self.create,
            Operation::Update => self.update,
            Operation::Delete => self.delete,
        }
    }
}

/// What a stream holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every event (lines).
    pub events: u64,
    /// `kind: identity` events.
    pub identity: u64,
    /// `kind: account` events.
    pub account: u64,
    /// Of those, the ones that deactivate, reactivate or delete an account.
    pub deactivations: u64,
    pub reactivations: u64,
    pub deletions: u64,
    /// `kind: commit` events by collection.
    pub commits: BTreeMap<&'static str, OpCounts>,
    /// `time_us` of the first and last events (0 when empty).
    pub first_time_us: i64,
    pub last_time_us: i64,
}

impl Summary {
    /// Counts one event.
    pub(crate) fn record(&mut self, time_us: i64, body: &Body) {
        if self.events == 0 {
            self.first_time_us = time_us;
        }
        self.events += 1;
        self.last_time_us = time_us;
        match body {
            Body::Commit { operation, collection, .. } => {
                let counts = self.commits.entry(collection).or_default();
                match operation {
                    Operation::Create => counts.create += 1,
                    Operation::Update => counts.update += 1,
                    Operation::Delete => counts.delete += 1,
                }
            }
            Body::Identity { .. } => self.identity += 1,
            Body::Account { active, status } => {
                self.account += 1;
                match (active, status) {
                    (true, _) => self.reactivations += 1,
                    (false, Some("deleted")) => self.deletions += 1,
                    (false, _) => self.deactivations += 1,
                }
            }
        }
    }

    /// Counts for `collection` (zero when it never appeared).
    pub fn collection(&self, collection: &str) -> OpCounts {
        self.commits.get(collection).copied().unwrap_or_default()
    }

    /// All commit events.
    pub fn commit_total(&self) -> u64 {
        self.commits.values().map(OpCounts::total).sum()
    }

    /// Commit events with `operation`, over all collections.
    pub fn operation_total(&self, operation: Operation) -> u64 {
        self.commits.values().map(|c| c.get(operation)).sum()
    }
}

impl fmt::Display for Summary {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let percent = |n: u64| if self.events == 0 { 0.0 } else { n as f64 * 100.0 / self.events as f64 };
        writeln!(f, "events     {:>9}", self.events)?;
        writeln!(f, "  commit   {:>9}  {:5.1}%", self.commit_total(), percent(self.commit_total()))?;
        writeln!(f, "  identity {:>9}  {:5.1}%", self.identity, percent(self.identity))?;
        writeln!(
            f,
            "  account  {:>9}  {:5.1}%  ({} deactivated, {} reactivated, {} deleted)",
            self.account,
            percent(self.account),
            self.deactivations,
            self.reactivations,
            self.deletions
        )?;
        writeln!(f, "{:<24} {:>9} {:>9} {:>9}", "collection", "create", "update", "delete")?;
        for (collection, counts) in &self.commits {
            writeln!(f, "{collection:<24} {:>9} {:>9} {:>9}", counts.create, counts.update, counts.delete)?;
        }
        let totals = OpCounts {
            create: self.operation_total(Operation::Create),
            update: self.operation_total(Operation::Update),
            delete: self.operation_total(Operation::Delete),
        };
        writeln!(f, "{:<24} {:>9} {:>9} {:>9}", "total", totals.create, totals.update, totals.delete)?;
        write!(
            f,
            "time_us    {} .. {} ({:.1} days)",
            self.first_time_us,
            self.last_time_us,
            (self.last_time_us - self.first_time_us) as f64 / 86_400e6
        )
    }
}
