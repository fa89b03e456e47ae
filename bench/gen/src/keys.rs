//! The keys file next to generated frames and repos: a JSON object mapping each DID to the
//! `did:key` of its signing key, so consumers verify with static keys instead of resolving
//! identities.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use plyr_atproto::identity::SigningKey;

use crate::GenError;

/// DID → public signing key.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyFile(pub BTreeMap<String, SigningKey>);

impl KeyFile {
    /// Writes the file (`{"did:plc:...": "did:key:z..."}`, sorted by DID).
    pub fn write(&self, path: &Path) -> Result<(), GenError> {
        let map: BTreeMap<&str, String> = self.0.iter().map(|(d, k)| (d.as_str(), k.did_key())).collect();
        std::fs::write(path, serde_json::to_vec_pretty(&map)?)?;
        Ok(())
    }

    /// Reads a file written by [`KeyFile::write`].
    pub fn read(path: &Path) -> Result<Self, GenError> {
        let map: BTreeMap<String, String> = serde_json::from_slice(&std::fs::read(path)?)?;
        let keys = map
            .into_iter()
            .map(|(did, key)| {
                SigningKey::from_did_key(&key)
                    .map(|k| (did.clone(), k))
                    .map_err(|e| GenError::Keys(format!("{did}: {e}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self(keys))
    }

    /// The keys as the firehose verifier takes them.
    pub fn static_keys(&self) -> plyr_indexer::firehose::StaticKeys {
        plyr_indexer::firehose::StaticKeys(
            self.0.iter().map(|(d, k)| (d.clone(), k.clone())).collect::<HashMap<_, _>>(),
        )
    }
}
