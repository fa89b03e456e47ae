//! Labelers' labels as this process applies them: the `labels` table [`Held`] in memory and read
//! again when a writer announces a label change ([`crate::cache::listen`]), so judging the keys of
//! a hydration never costs a statement. Labels are moderation decisions, a small table next to
//! the records they judge. Self-labels live on the records and are judged from the row.

use std::collections::{HashMap, HashSet};

use sqlx::PgPool;

use crate::db::labels::{self, LabelRow};
use crate::held::Held;

/// Label values in force per subject (a record's AT-URI or a DID).
#[derive(Debug, Default)]
struct BySubject(HashMap<Box<str>, Vec<Box<str>>>);

impl BySubject {
    fn from_rows(rows: Vec<LabelRow>) -> Self {
        let mut map: HashMap<Box<str>, Vec<Box<str>>> = HashMap::new();
        for LabelRow { uri, val } in rows {
            map.entry(uri.into_boxed_str()).or_default().push(val.into_boxed_str());
        }
        BySubject(map)
    }
}

/// The labels this process applies.
#[derive(Debug, Default)]
pub struct Labels {
    held: Held<BySubject>,
}

impl Labels {
    /// Which of `keys` carry one of the `values`.
    pub async fn carrying(
        &self,
        db: &PgPool,
        keys: &[String],
        values: &[String],
    ) -> sqlx::Result<HashSet<String>> {
        if values.is_empty() || keys.is_empty() {
            return Ok(HashSet::new());
        }
        let held = self.held.get(|| load(db)).await?;
        Ok(keys
            .iter()
            .filter(|k| {
                held.0
                    .get(k.as_str())
                    .is_some_and(|vals| vals.iter().any(|v| values.iter().any(|h| **h == **v)))
            })
            .cloned()
            .collect())
    }

    /// Reads the table again (a label was applied or negated, or announcements were missed).
    /// On failure the labels in memory stay as they were.
    pub async fn reload(&self, db: &PgPool) -> sqlx::Result<()> {
        let held = self.held.reload(|| load(db)).await?;
        metrics::gauge!("appview_labels_subjects").set(held.0.len() as f64);
        Ok(())
    }
}

async fn load(db: &PgPool) -> sqlx::Result<BySubject> {
    Ok(BySubject::from_rows(labels::in_force(db).await?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_grouped_by_subject() {
        let row = |uri: &str, val: &str| LabelRow { uri: uri.into(), val: val.into() };
        let held = BySubject::from_rows(vec![
            row("did:plc:a", "!hide"),
            row("did:plc:a", "porn"),
            row("at://x", "spam"),
        ]);
        assert_eq!(held.0["did:plc:a"].len(), 2);
        assert_eq!(&*held.0["at://x"][0], "spam");
    }
}
