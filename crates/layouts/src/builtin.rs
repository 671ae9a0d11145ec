//! Built-in layouts, one per interpreter build pycoroner was generated against
//! (`crates/layouts/data/`, written by `pycoroner layouts BINARY`; a test regenerates
//! them from every interpreter on the machine and fails on any difference).

use crate::{Flavour, Layout, LAYOUT_FORMAT};

include!(concat!(env!("OUT_DIR"), "/builtin_tables.rs"));

/// How well a built-in table matches the interpreter asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Match {
    /// Same version and flavour.
    Exact,
    /// Same minor version and flavour, another micro version.
    OtherMicro,
    /// No table for this minor version: the nearest lower one.
    OtherMinor,
}

/// Every built-in table that parses and is of the current format.
pub fn all() -> Vec<(&'static str, Layout)> {
    TABLES
        .iter()
        .filter_map(|(name, json)| {
            let l: Layout = serde_json::from_str(json).ok()?;
            (l.format == LAYOUT_FORMAT).then_some((*name, l))
        })
        .collect()
}

/// The best table for `3.minor[.micro]` of `flavour`.
pub fn lookup(major: u8, minor: u8, micro: Option<u8>, flavour: Flavour) -> Option<(Layout, Match)> {
    let tables: Vec<Layout> = all().into_iter().map(|(_, l)| l).filter(|l| l.flavour == flavour).collect();
    let same_minor = tables.iter().filter(|l| l.version == (major, minor));
    if let Some(exact) = same_minor.clone().find(|l| micro.is_some() && l.micro == micro) {
        return Some((exact.clone(), Match::Exact));
    }
    // Nearest micro: the highest one at or below, else the lowest above.
    let m = micro.unwrap_or(u8::MAX);
    let below = same_minor.clone().filter(|l| l.micro.unwrap_or(0) <= m).max_by_key(|l| l.micro);
    if let Some(l) = below.or_else(|| same_minor.min_by_key(|l| l.micro)) {
        return Some((l.clone(), Match::OtherMicro));
    }
    tables
        .iter()
        .filter(|l| l.version.0 == major && l.version.1 < minor)
        .max_by_key(|l| (l.version, l.micro))
        .map(|l| (l.clone(), Match::OtherMinor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_parses_and_is_current() {
        assert_eq!(all().len(), TABLES.len(), "a table under data/ does not parse or is of an old format");
        assert!(!TABLES.is_empty());
    }

    #[test]
    fn lookup_prefers_exact_then_micro_then_lower_minor() {
        let rel = Flavour::default();
        let (l, m) = lookup(3, 12, Some(1), rel).expect("3.12.1");
        assert_eq!((l.version, l.micro, m), ((3, 12), Some(1), Match::Exact));
        let (l, m) = lookup(3, 12, Some(9), rel).expect("3.12.x");
        assert_eq!((l.version, m), ((3, 12), Match::OtherMicro));
        let (_, m) = lookup(3, 12, None, rel).expect("3.12");
        assert_eq!(m, Match::OtherMicro);
        let (l, m) = lookup(3, 99, Some(0), rel).expect("future");
        assert_eq!(m, Match::OtherMinor);
        assert!(l.version.1 >= 13);
        let dbg = Flavour { debug: true, free_threaded: false };
        assert_eq!(lookup(3, 11, Some(2), dbg).map(|(l, _)| l.flavour), Some(dbg));
        assert!(lookup(2, 7, None, rel).is_none());
    }
}
