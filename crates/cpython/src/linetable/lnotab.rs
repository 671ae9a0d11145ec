//! `co_lnotab`, CPython 3.6–3.9 (`Objects/lnotab_notes.txt`): pairs of unsigned
//! address increment and signed line increment.

/// `PyCode_Addr2Line` for 3.6–3.9. A negative address gives `co_firstlineno`.
pub fn line_for(table: &[u8], firstlineno: i32, addr: i64) -> i32 {
    let mut line = i64::from(firstlineno);
    let mut pos: i64 = 0;
    for pair in table.chunks_exact(2) {
        let &[inc, delta] = pair else { break };
        pos = pos.saturating_add(i64::from(inc));
        if pos > addr {
            break;
        }
        line = line.saturating_add(i64::from(delta as i8));
    }
    i32::try_from(line).unwrap_or(firstlineno)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walks_pairs_until_past_address() {
        // addr 0..6 -> line 10, 6..10 -> 11, 10.. -> 13
        let t = [6, 1, 4, 2];
        assert_eq!(line_for(&t, 10, 0), 10);
        assert_eq!(line_for(&t, 10, 5), 10);
        assert_eq!(line_for(&t, 10, 6), 11);
        assert_eq!(line_for(&t, 10, 9), 11);
        assert_eq!(line_for(&t, 10, 10), 13);
        assert_eq!(line_for(&t, 10, -1), 10);
    }

    #[test]
    fn negative_line_deltas() {
        let t = [2, 5, 2, 0xfe]; // +5 then -2
        assert_eq!(line_for(&t, 1, 4), 4);
    }
}
