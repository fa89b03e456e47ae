//! The embedded lexicon documents are the ones the validator uses: they all load, every ref
//! resolves inside the set, and every record collection we index has a schema.

use plyr_atproto::{Catalog, LexiconDoc};
use plyr_lexicons::schemas::LEXICONS;

fn catalog() -> Catalog {
    let docs = LEXICONS.iter().map(|(nsid, json)| {
        let doc = LexiconDoc::from_json(json).unwrap_or_else(|e| panic!("{nsid}: {e}"));
        assert_eq!(doc.id, *nsid, "embedded under the wrong NSID");
        doc
    });
    Catalog::from_documents(docs).expect("catalog")
}

#[test]
fn every_embedded_lexicon_loads_and_resolves() {
    let catalog = catalog();
    assert!(catalog.unresolved_refs().is_empty(), "unresolved refs: {:?}", catalog.unresolved_refs());
    let mut records: Vec<&str> = catalog.record_types().collect();
    records.sort();
    assert_eq!(
        records,
        [
            "fm.plyr.actor.profile",
            "fm.plyr.comment",
            "fm.plyr.like",
            "fm.plyr.list",
            "fm.plyr.track",
            "fm.teal.actor.status",
            "fm.teal.alpha.feed.play",
            "fm.teal.feed.play"
        ]
    );
}

#[test]
fn generated_types_cover_every_document() {
    // One module file per NSID: a document without generated code would be a codegen gap.
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for (nsid, _) in LEXICONS {
        let mut parts: Vec<String> = nsid.split('.').map(str::to_owned).collect();
        let ns = format!("{}_{}", parts.remove(0), parts.remove(0));
        let file = parts.pop().map(|last| snake(&last)).unwrap_or_default();
        let mut path = src.join(ns);
        for p in parts {
            path = path.join(p);
        }
        let path = if file == "defs" { path.with_extension("rs") } else { path.join(format!("{file}.rs")) };
        assert!(path.exists(), "{nsid}: no generated module at {}", path.display());
    }
}

fn snake(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_uppercase() {
            out.push('_');
            out.push(c.to_ascii_lowercase());
        } else {
            out.push(c);
        }
    }
    out
}
