//! Containers: tuple, list, set and frozenset items, dict entries of every dict
//! layout (split, combined, unicode-keyed), bytes-like buffers, lookups by str key.

#[allow(unused_imports)]
use super::*;

impl Renderer<'_> {
    /// The value for `key` (a str) in a dict, if present: the whole dict is searched
    /// (the display limit `--length` does not apply), with a read budget of its own.
    pub fn dict_get_str(&self, dict: RemoteAddr, key: &str) -> Option<RemoteAddr> {
        self.budget.set(LOOKUP_READ_BUDGET);
        self.dict_lookup(dict, key)
    }

    pub(crate) fn dict_lookup(&self, dict: RemoteAddr, key: &str) -> Option<RemoteAddr> {
        self.dict_lookup_many(dict, &[key]).into_iter().next().flatten()
    }

    /// The values for several str keys of a dict, read in one pass over it (each key's
    /// length is compared before its text is read).
    pub(crate) fn dict_lookup_many(&self, dict: RemoteAddr, keys: &[&str]) -> Vec<Option<RemoteAddr>> {
        match self.dict_items_up_to(dict, MAX_LOOKUP_ENTRIES) {
            Ok((pairs, _)) => self.pick_keys(pairs, keys),
            Err(_) => vec![None; keys.len()],
        }
    }

    /// The values of `keys` among the `(str key, value)` pairs of a dict or an
    /// instance's attributes (each key's length is compared before its text is read).
    pub(crate) fn pick_keys(&self, pairs: Vec<Pair>, keys: &[&str]) -> Vec<Option<RemoteAddr>> {
        let mut found = vec![None; keys.len()];
        let lengths: Vec<u64> = keys.iter().map(|k| k.chars().count() as u64).collect();
        for (k, v) in pairs {
            if found.iter().all(Option::is_some) {
                break;
            }
            let Some(len) = self.str_length(k) else { continue };
            if !lengths.contains(&len) {
                continue;
            }
            let Some(text) = self.str_key(k) else { continue };
            for (slot, want) in found.iter_mut().zip(keys) {
                if slot.is_none() && text == *want {
                    *slot = Some(v);
                }
            }
        }
        found
    }

    /// A str's length in code points (its header only), with the lookup's budget.
    fn str_length(&self, k: RemoteAddr) -> Option<u64> {
        self.spend().ok()?;
        self.mem.read_u64(self.at(k, key::unicode::length).ok()?).ok()
    }

    /// A dict key that is a str, read with the lookup's budget.
    pub(crate) fn str_key(&self, k: RemoteAddr) -> Option<String> {
        self.spend().ok()?;
        objects::read_name(self.mem, self.o, k).ok()
    }

    pub(super) fn bytes_like(&self, obj: RemoteAddr, data_key: Key, indirect: bool) -> Result<(Vec<u8>, bool), Error> {
        let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?;
        let size = u64::try_from(size).map_err(|_| Error::Corrupt { what: "bytes size", addr: obj })?;
        let shown = size.min(self.limits.string as u64);
        let data = if indirect { self.ptr(obj, data_key)? } else { self.at(obj, data_key)? };
        if shown == 0 {
            return Ok((Vec::new(), false));
        }
        Ok((self.mem.read_vec(data, shown, objects::MAX_BYTES)?, shown < size))
    }

    /// Items of a tuple or list, capped at the length limit; (items, more).
    pub(super) fn sequence_items(&self, obj: RemoteAddr, kind: Kind) -> Result<(Vec<RemoteAddr>, bool), Error> {
        self.sequence_items_up_to(obj, kind, self.limits.length, 1 << 20)
    }

    /// Items of a tuple or list, at most `max`, reading at most `max_bytes`; (items, more).
    pub(crate) fn sequence_items_up_to(&self, obj: RemoteAddr, kind: Kind, max: usize, max_bytes: u64) -> Result<(Vec<RemoteAddr>, bool), Error> {
        let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?;
        let size = u64::try_from(size).map_err(|_| Error::Corrupt { what: "sequence size", addr: obj })?;
        let items = if kind == Kind::Tuple { self.at(obj, key::tuple::item)? } else { self.ptr(obj, key::list::item)? };
        let n = size.min(max as u64);
        Ok((self.mem.read_ptrs(items, n, max_bytes)?, n < size))
    }

    /// Keys of a set or frozenset in table order, as many as are displayed; (keys, more).
    pub(super) fn set_items(&self, obj: RemoteAddr) -> Result<(Vec<RemoteAddr>, bool), Error> {
        self.set_items_up_to(obj, self.limits.length)
    }

    /// Keys of a set or frozenset in table order, at most `max`; (keys, more).
    pub(crate) fn set_items_up_to(&self, obj: RemoteAddr, max: usize) -> Result<(Vec<RemoteAddr>, bool), Error> {
        let mask = self.mem.read_u64(self.at(obj, key::set::mask)?)?;
        let used = self.mem.read_u64(self.at(obj, key::set::used)?)?;
        let table = self.ptr(obj, key::set::table)?;
        let esize = need(self.o, key::set::entry_size)?;
        if mask >= 1 << 32 || used > mask.saturating_add(1) || !(8..=64).contains(&esize) {
            return Err(Error::Corrupt { what: "set table", addr: obj });
        }
        let mut out = Vec::new();
        // In chunks: a corrupt mask must not cost a huge read; stop at the length limit.
        for chunk_start in (0..=mask).step_by(CHUNK as usize) {
            // mask < 2^32 and esize <= 64 (checked above): no product overflows.
            let n = mask.saturating_add(1).saturating_sub(chunk_start).min(CHUNK);
            self.spend()?;
            let at = table.offset(chunk_start.saturating_mul(esize)).ok_or(Error::Overflow(table))?;
            let raw = self.mem.read_vec(at, n.saturating_mul(esize), CHUNK * 64)?;
            for e in raw.chunks_exact(esize as usize) {
                let key = RemoteAddr(e.get(..8).and_then(|k| k.try_into().ok()).map_or(0, u64::from_le_bytes));
                if key.is_null() || Some(key) == self.known.set_dummy {
                    continue;
                }
                if out.len() >= max {
                    return Ok((out, true));
                }
                out.push(key);
            }
        }
        Ok((out, false))
    }

    /// (key, value) pairs of a dict in iteration order, as many as are displayed
    /// (`--length`); (pairs, more).
    pub fn dict_items(&self, obj: RemoteAddr) -> Result<(Vec<Pair>, bool), Error> {
        self.dict_items_up_to(obj, self.limits.length)
    }

    /// (key, value) pairs of a dict, at most `limit`; (pairs, more).
    pub(crate) fn dict_items_up_to(&self, obj: RemoteAddr, limit: usize) -> Result<(Vec<Pair>, bool), Error> {
        let keys = self.ptr(obj, key::dict::keys)?;
        let values = self.ptr(obj, key::dict::values)?;
        let values = if values.is_null() {
            None
        } else {
            Some(values.offset(self.o.dict.values_values.unwrap_or(0)).ok_or(Error::Overflow(values))?)
        };
        self.keys_items(keys, values, limit)
    }

    /// Entries of a keys object, with values from `values` for a split table; at most
    /// `limit`.
    pub(super) fn keys_items(&self, keys: RemoteAddr, values: Option<RemoteAddr>, limit: usize) -> Result<(Vec<Pair>, bool), Error> {
        let nentries = self.mem.read_i64(self.at(keys, key::dict::dk_nentries)?)?;
        let (entries, esize, key_off) = match self.models.dict {
            DictModel::SizeIndexed => {
                let size = self.mem.read_i64(self.at(keys, key::dict::dk_size)?)?;
                if !(0..=1 << 26).contains(&size) {
                    return Err(Error::Corrupt { what: "dict keys", addr: keys });
                }
                let width: u64 = match size {
                    0..=0xff => 1,
                    0x100..=0xffff => 2,
                    _ => 4,
                };
                let start = (size as u64).checked_mul(width).and_then(|o| self.at(keys, key::dict::dk_indices).ok()?.offset(o)).ok_or(Error::Overflow(keys))?;
                (start, need(self.o, key::dict::entry_size)?, 8u64)
            }
            DictModel::Log2Kinds => {
                let log2_index = u32::from(self.mem.read_u8(self.at(keys, key::dict::dk_log2_index_bytes)?)?);
                let kind = self.mem.read_u8(self.at(keys, key::dict::dk_kind)?)?;
                if log2_index > 32 {
                    return Err(Error::Corrupt { what: "dict keys", addr: keys });
                }
                let start = self.at(keys, key::dict::dk_indices)?.offset(1u64 << log2_index).ok_or(Error::Overflow(keys))?;
                if kind == 0 {
                    (start, need(self.o, key::dict::entry_size)?, 8)
                } else {
                    (start, need(self.o, key::dict::unicode_entry_size)?, 0)
                }
            }
        };
        if !(0..=1 << 32).contains(&nentries) || !(16..=64).contains(&esize) {
            return Err(Error::Corrupt { what: "dict entries", addr: keys });
        }
        let n = nentries as u64;
        let word = |b: &[u8], off: usize| -> RemoteAddr {
            RemoteAddr(b.get(off..off.saturating_add(8)).and_then(|s| s.try_into().ok()).map_or(0, u64::from_le_bytes))
        };
        let mut out = Vec::new();
        // In chunks: a corrupt count must not cost a huge read; stop at the length limit.
        for chunk_start in (0..n).step_by(CHUNK as usize) {
            // n <= 2^32 and esize <= 64 (checked above): no product overflows.
            let len = n.saturating_sub(chunk_start).min(CHUNK);
            // A unit per 8 entries: a corrupt count claiming millions of entries spends
            // the budget, not minutes (a whole-dict lookup of 2^20 entries still fits).
            self.spend_n(usize::try_from(len.div_ceil(8)).unwrap_or(usize::MAX).saturating_add(1))?;
            let at = entries.offset(chunk_start.saturating_mul(esize)).ok_or(Error::Overflow(entries))?;
            let raw = self.mem.read_vec(at, len.saturating_mul(esize), CHUNK * 64)?;
            let vals = match values {
                Some(v) => Some(self.mem.read_vec(v.offset(chunk_start.saturating_mul(8)).ok_or(Error::Overflow(v))?, len.saturating_mul(8), CHUNK * 8)?),
                None => None,
            };
            for (i, e) in raw.chunks_exact(esize as usize).enumerate() {
                let key = word(e, key_off as usize);
                let value = match &vals {
                    Some(v) => word(v, i.saturating_mul(8)),
                    None => word(e, (key_off as usize).saturating_add(8)),
                };
                if key.is_null() || value.is_null() {
                    continue;
                }
                if out.len() >= limit {
                    return Ok((out, true));
                }
                out.push((key, value));
            }
        }
        Ok((out, false))
    }
}
