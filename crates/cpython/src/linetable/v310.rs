//! `co_linetable`, CPython 3.10 (`Objects/lnotab_notes.txt` of 3.10): pairs of
//! unsigned end-address increment and signed line increment; −128 means "no line".

/// `PyCode_Addr2Line` for 3.10 (`addr` in bytes). `None` for a range without a line.
pub fn line_for(table: &[u8], firstlineno: i32, addr: i64) -> Option<i32> {
    if addr < 0 {
        return Some(firstlineno);
    }
    let mut computed = i64::from(firstlineno);
    let mut end: i64 = 0;
    for pair in table.chunks_exact(2) {
        let start = end;
        let &[inc, delta] = pair else { break };
        end = end.saturating_add(i64::from(inc));
        let delta = delta as i8;
        let line = if delta == -128 {
            None
        } else {
            computed = computed.saturating_add(i64::from(delta));
            Some(computed)
        };
        if start <= addr && addr < end {
            return line.and_then(|l| i32::try_from(l).ok());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_and_no_line() {
        // [0,4) line 5; [4,6) no line; [6,10) line 7
        let t = [4, 0, 2, 0x80, 4, 2];
        assert_eq!(line_for(&t, 5, 0), Some(5));
        assert_eq!(line_for(&t, 5, 3), Some(5));
        assert_eq!(line_for(&t, 5, 4), None);
        assert_eq!(line_for(&t, 5, 6), Some(7));
        assert_eq!(line_for(&t, 5, 10), None);
        assert_eq!(line_for(&t, 5, -2), Some(5));
    }

    #[test]
    fn zero_length_ranges_carry_deltas() {
        let t = [0, 3, 2, 1];
        assert_eq!(line_for(&t, 1, 0), Some(5));
    }
}
