//! Numbers: `int` of any size (and `bool`), as `repr()` writes them.

#[allow(unused_imports)]
use super::*;

impl Renderer<'_> {
    /// The value of an `int` that fits in 64 bits.
    pub fn int_as_u64(&self, obj: RemoteAddr) -> Option<u64> {
        if self.kind_of(obj) != Some(Kind::Int) {
            return None;
        }
        self.int_value(obj).ok()?.parse().ok()
    }

    pub(super) fn int_value(&self, obj: RemoteAddr) -> Result<String, Error> {
        let (ndigits, negative) = match self.models.int {
            IntModel::SignedSize => {
                let size = self.mem.read_i64(self.at(obj, key::object::ob_size)?)?;
                (size.unsigned_abs(), size < 0)
            }
            IntModel::Tagged => {
                let tag = self.mem.read_u64(self.at(obj, key::long::lv_tag)?)?;
                (tag >> 3, tag & 3 == 2)
            }
        };
        if ndigits > MAX_INT_DIGITS {
            return Err(Error::Corrupt { what: "int size", addr: obj });
        }
        if ndigits > MAX_DECIMAL_INT_DIGITS {
            // The top digit is enough to say how long it is.
            let digit = self.at(obj, key::long::digit)?;
            // MAX_DECIMAL_INT_DIGITS < ndigits <= MAX_INT_DIGITS: none of this overflows.
            let top_at = ndigits.saturating_sub(1).saturating_mul(4);
            let top = self.mem.read_u32(digit.offset(top_at).ok_or(Error::Overflow(obj))?)? & 0x3fff_ffff;
            let bits = ndigits.saturating_sub(1).saturating_mul(30).saturating_add(u64::from(32u32.saturating_sub(top.leading_zeros())));
            let decimal = ((bits as f64 * std::f64::consts::LOG10_2) as u64).saturating_add(1);
            return Ok(format!("<{}int with about {decimal} decimal digits>", if negative { "negative " } else { "" }));
        }
        let raw = self.mem.read_vec(self.at(obj, key::long::digit)?, ndigits.saturating_mul(4), MAX_INT_DIGITS * 4)?;
        let digits: Vec<u32> = raw.chunks_exact(4).map(|c| <[u8; 4]>::try_from(c).map_or(0, u32::from_le_bytes) & 0x3fff_ffff).collect();
        let mut s = digits_to_decimal(&digits);
        if negative && s != "0" {
            s.insert(0, '-');
        }
        Ok(s)
    }
}
