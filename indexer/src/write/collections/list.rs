//! `fm.plyr.list`: an album or playlist, an ordered list of strong references. Each item keeps
//! the time its subject first appeared in the list through every later version (the fold carries
//! it); a list moves its author's album or playlist count.

use std::collections::HashMap;

use futures_util::future::BoxFuture;
use ipld_core::ipld::Ipld;
use plyr_lexicons::read::List as ListRecord;

use super::{Collection, Origin, Reject, Row, Run, utc};
use crate::db::Tx;
use crate::db::lists::{self, ListRow};
use crate::write::deltas::Deltas;
use crate::write::rules::{TrustedOrigins, list_id, sort_time};

pub const NSID: &str = ListRecord::NSID;

#[derive(Debug)]
pub struct List;

impl Collection for List {
    const NSID: &'static str = NSID;
    type Record = ListRecord;

    fn row(origin: Origin<'_>, list: ListRecord, _: &Ipld, _: &TrustedOrigins) -> Result<Row, Reject> {
        let items: Vec<(String, String)> =
            list.items.into_iter().map(|item| (item.subject.uri, item.subject.cid)).collect();
        let created_at = origin.created_at(&list.created_at);
        let updated_at = list.updated_at.as_ref().and_then(utc);
        Ok(Row::List(Box::new(ListRow {
            added_at: vec![updated_at.unwrap_or(created_at); items.len()],
            id: list_id(origin.uri),
            name: list.name,
            list_type: list.list_type,
            items,
            created_at,
            updated_at,
            sort_at: sort_time(created_at, origin.indexed_at),
        })))
    }

    fn purge<'a>(tx: &'a mut Tx<'_>, did: &'a str, _: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(lists::purge(tx, did))
    }

    fn apply<'a>(tx: &'a mut Tx<'_>, run: Run<'a>, d: &'a mut Deltas) -> BoxFuture<'a, sqlx::Result<()>> {
        Box::pin(apply(tx, run, d))
    }
}

async fn apply(tx: &mut Tx<'_>, run: Run<'_>, d: &mut Deltas) -> sqlx::Result<()> {
    for (_, did, list_type) in lists::types(tx, &run.were_live()).await? {
        d.list(&did, list_type.as_deref(), -1);
    }
    let mut before: HashMap<&str, Vec<&lists::StoredItem>> = HashMap::new();
    for item in run.stored {
        before.entry(item.list_uri.as_str()).or_default().push(item);
    }
    let mut up = Vec::new();
    let (mut replaced, mut keep) = (Vec::new(), Vec::new());
    let mut items = lists::ItemWrites::default();
    for c in &run.changes {
        let Some(Row::List(r)) = &c.after else { continue };
        d.list(&c.meta.did, r.list_type.as_deref(), 1);
        // Items are rewritten from the first position that differs from the stored list (an
        // appended track writes one row, not the whole list again).
        let old = before.get(c.meta.uri.as_str()).map(Vec::as_slice).unwrap_or_default();
        let new = r.items.iter().zip(&r.added_at);
        let same = new
            .clone()
            .zip(old)
            .take_while(|(((subject, cid), at), o)| {
                o.subject_uri == *subject && o.subject_cid == *cid && o.added_at == **at
            })
            .count();
        for (pos, ((subject_uri, subject_cid), added_at)) in new.enumerate().skip(same) {
            items.list_uri.push(c.meta.uri.to_string());
            items.position.push(i32::try_from(pos).unwrap_or(i32::MAX));
            items.subject_uri.push(subject_uri.clone());
            items.subject_cid.push(subject_cid.clone());
            items.added_at.push(*added_at);
        }
        replaced.push(c.meta.uri.to_string());
        keep.push(i32::try_from(same).unwrap_or(i32::MAX));
        up.push((&c.meta, &**r));
    }
    lists::upsert(tx, &up).await?;
    lists::replace_items(tx, &replaced, &keep, &items).await?;
    lists::delete(tx, &run.removed()).await
}
