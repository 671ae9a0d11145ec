//! The location table of CPython 3.11+ (PEP 657, `Objects/locations.md`). Only the
//! start line is needed for a traceback; columns are skipped.

fn varint(t: &[u8], pos: &mut usize) -> Option<u64> {
    let mut shift = 0u32;
    let mut val = 0u64;
    loop {
        let b = *t.get(*pos)?;
        *pos = pos.checked_add(1)?;
        val |= u64::from(b & 63).checked_shl(shift)?;
        if b & 64 == 0 {
            return Some(val);
        }
        shift = shift.saturating_add(6);
        if shift > 60 {
            return None;
        }
    }
}

fn svarint(t: &[u8], pos: &mut usize) -> Option<i64> {
    let v = varint(t, pos)?;
    let mag = i64::try_from(v >> 1).ok()?;
    Some(if v & 1 != 0 { mag.checked_neg()? } else { mag })
}

/// `PyCode_Addr2Line` for 3.11+: `addr` is a byte offset into the bytecode.
/// `None` where the instruction has no location (or lies past the table).
pub fn line_for(table: &[u8], firstlineno: i32, addr: i64) -> Option<i32> {
    if addr < 0 {
        return Some(firstlineno);
    }
    let target = addr / 2;
    let mut line = i64::from(firstlineno);
    let mut unit: i64 = 0;
    let mut pos = 0usize;
    while pos < table.len() {
        let first = *table.get(pos)?;
        if first & 0x80 == 0 {
            return None; // not at an entry start: corrupt table
        }
        pos = pos.saturating_add(1);
        let code = (first >> 3) & 15;
        let len = i64::from(first & 7).saturating_add(1);
        let this_line: Option<i64> = match code {
            15 => None,
            14 => {
                line = line.saturating_add(svarint(table, &mut pos)?);
                varint(table, &mut pos)?;
                varint(table, &mut pos)?;
                varint(table, &mut pos)?;
                Some(line)
            }
            13 => {
                line = line.saturating_add(svarint(table, &mut pos)?);
                Some(line)
            }
            10..=12 => {
                line = line.saturating_add(i64::from(code).saturating_sub(10));
                pos = pos.saturating_add(2);
                Some(line)
            }
            _ => {
                pos = pos.saturating_add(1);
                Some(line)
            }
        };
        if unit <= target && target < unit.saturating_add(len) {
            return this_line.and_then(|l| i32::try_from(l).ok());
        }
        unit = unit.saturating_add(len);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(code: u8, len: u8) -> u8 {
        0x80 | (code << 3) | (len - 1)
    }

    #[test]
    fn short_one_line_no_columns_long_and_none() {
        let mut t = vec![entry(0, 2), 0x00]; // units 0-1: line 10 (short)
        t.extend([entry(11, 1), 4, 8]); // unit 2: line 11 (one-line +1)
        t.extend([entry(13, 1), 4]); // unit 3: +2 -> 13 (svarint 4 = +2)
        t.extend([entry(15, 1)]); // unit 4: no location, running line stays 13
        t.extend([entry(14, 1), 3, 0, 1, 1]); // unit 5: -1 -> 12
        assert_eq!(line_for(&t, 10, 0), Some(10));
        assert_eq!(line_for(&t, 10, 2), Some(10));
        assert_eq!(line_for(&t, 10, 4), Some(11));
        assert_eq!(line_for(&t, 10, 6), Some(13));
        assert_eq!(line_for(&t, 10, 8), None);
        assert_eq!(line_for(&t, 10, 10), Some(12));
        assert_eq!(line_for(&t, 10, 12), None);
        assert_eq!(line_for(&t, 10, -2), Some(10));
    }

    #[test]
    fn garbage_never_panics() {
        for seed in 0u32..2000 {
            let t: Vec<u8> = (0..(seed % 37)).map(|i| (seed.wrapping_mul(2654435761).wrapping_add(i * 97) >> 7) as u8).collect();
            let _ = line_for(&t, 1, i64::from(seed % 64));
        }
        let _ = line_for(&[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff], 1, 1000);
    }
}
