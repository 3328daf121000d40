//! A detector's bounded key-value state (the WIT `state` interface). The
//! runtime keeps it in memory during a run and hands each call a journal
//! over it: a call that fails (trap, timeout, plugin error) is rolled back,
//! so a failed batch never leaves half-written windows behind. Which keys
//! changed is tracked so the caller can persist only those; where the state
//! is persisted (SQLite) is not the runtime's business.

use std::collections::{BTreeMap, BTreeSet};

/// What one detector may keep. Defaults are generous for correlation windows
/// and small enough that a hostile plugin cannot fill the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StateQuota {
    /// Total bytes of keys and values (64 MiB by default).
    pub max_bytes: usize,
    /// Number of keys (100,000 by default).
    pub max_keys: usize,
    /// Length of one key, in bytes (1 KiB by default).
    pub max_key_bytes: usize,
}

impl Default for StateQuota {
    fn default() -> Self {
        StateQuota {
            max_bytes: 64 << 20,
            max_keys: 100_000,
            max_key_bytes: 1024,
        }
    }
}

/// The state of one detector.
#[derive(Debug, Clone, Default)]
pub struct DetectorState {
    entries: BTreeMap<String, Vec<u8>>,
    bytes: usize,
    quota: StateQuota,
    dirty: BTreeSet<String>,
}

impl DetectorState {
    /// State loaded from storage. Entries over a (since lowered) quota are kept;
    /// only growth is refused.
    pub fn new(entries: BTreeMap<String, Vec<u8>>, quota: StateQuota) -> DetectorState {
        let bytes = entries.iter().map(|(k, v)| k.len() + v.len()).sum();
        DetectorState {
            entries,
            bytes,
            quota,
            dirty: BTreeSet::new(),
        }
    }

    /// Number of keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether there are no keys.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Total bytes of keys and values, what [`StateQuota::max_bytes`] caps.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The value of `key`, if it is set.
    pub fn get(&self, key: &str) -> Option<&[u8]> {
        self.entries.get(key).map(Vec::as_slice)
    }

    /// Keys changed since the last call, with their value now (`None`: deleted).
    pub fn take_changes(&mut self) -> Vec<(String, Option<Vec<u8>>)> {
        std::mem::take(&mut self.dirty)
            .into_iter()
            .map(|k| {
                let v = self.entries.get(&k).cloned();
                (k, v)
            })
            .collect()
    }

    fn put(&mut self, key: String, value: Option<Vec<u8>>) -> Option<Vec<u8>> {
        let old = match value {
            Some(v) => {
                self.bytes += key.len() + v.len();
                self.entries.insert(key.clone(), v)
            }
            None => self.entries.remove(&key),
        };
        if let Some(o) = &old {
            self.bytes -= key.len() + o.len();
        }
        self.dirty.insert(key);
        old
    }
}

/// The state during one call, with what is needed to undo it.
#[derive(Debug)]
pub(crate) struct CallState {
    state: DetectorState,
    /// Each key touched by the call, with its value before the call.
    undo: BTreeMap<String, Option<Vec<u8>>>,
}

impl CallState {
    /// Start a call over `state`, with nothing to undo yet.
    pub fn begin(state: DetectorState) -> CallState {
        CallState {
            state,
            undo: BTreeMap::new(),
        }
    }

    /// Keep what the call did.
    pub fn commit(self) -> DetectorState {
        self.state
    }

    /// Forget what the call did.
    pub fn rollback(self) -> DetectorState {
        let mut state = self.state;
        for (k, v) in self.undo {
            state.put(k, v);
        }
        state
    }

    fn touch(&mut self, key: &str) {
        if !self.undo.contains_key(key) {
            let before = self.state.entries.get(key).cloned();
            self.undo.insert(key.to_string(), before);
        }
    }

    /// The value of `key` as the call sees it.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        self.state.entries.get(key).cloned()
    }

    /// Set `key` to `value`; refused, with the limit in the message, when
    /// the key is too long or the state would exceed its quota of bytes or keys.
    pub fn set(&mut self, key: String, value: Vec<u8>) -> Result<(), String> {
        let q = self.state.quota;
        if key.len() > q.max_key_bytes {
            return Err(format!(
                "key of {} bytes is over the limit of {} bytes",
                key.len(),
                q.max_key_bytes
            ));
        }
        let old = self.state.entries.get(&key).map(|v| key.len() + v.len());
        let after = self.state.bytes - old.unwrap_or(0) + key.len() + value.len();
        if after > q.max_bytes {
            return Err(format!(
                "state quota exceeded: {after} bytes over the limit of {} bytes",
                q.max_bytes
            ));
        }
        if old.is_none() && self.state.entries.len() >= q.max_keys {
            return Err(format!(
                "state quota exceeded: more than {} keys",
                q.max_keys
            ));
        }
        self.touch(&key);
        self.state.put(key, Some(value));
        Ok(())
    }

    /// Remove `key`; nothing happens when it is not set.
    pub fn delete(&mut self, key: String) {
        if self.state.entries.contains_key(&key) {
            self.touch(&key);
            self.state.put(key, None);
        }
    }

    /// Every key that starts with `prefix`, in byte order (all keys for `""`).
    pub fn keys(&self, prefix: &str) -> Vec<String> {
        self.state
            .entries
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(k, _)| k.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quota_is_enforced_and_a_failed_call_rolls_back() {
        let quota = StateQuota {
            max_bytes: 20,
            max_keys: 2,
            max_key_bytes: 4,
        };
        let mut s = CallState::begin(DetectorState::new(BTreeMap::new(), quota));
        s.set("a".into(), b"12345".to_vec()).unwrap();
        assert!(s.set("toolong".into(), vec![]).unwrap_err().contains("key"));
        assert!(
            s.set("b".into(), vec![0; 30])
                .unwrap_err()
                .contains("quota")
        );
        s.set("b".into(), b"1".to_vec()).unwrap();
        assert!(
            s.set("c".into(), b"1".to_vec())
                .unwrap_err()
                .contains("keys")
        );
        let mut state = s.commit();
        assert_eq!(state.take_changes().len(), 2);
        let mut s = CallState::begin(state);
        s.set("a".into(), b"x".to_vec()).unwrap();
        s.delete("b".into());
        assert_eq!(s.keys(""), vec!["a".to_string()]);
        let mut state = s.rollback();
        assert_eq!(state.get("a"), Some(&b"12345"[..]));
        assert_eq!(state.get("b"), Some(&b"1"[..]));
        assert_eq!(state.bytes(), 8);
        // The rollback rewrote the keys to what they were: persisting them is harmless.
        assert_eq!(state.take_changes().len(), 2);
    }
}
