//! Pure formatting as CPython writes it: str and bytes literals, floats, complex
//! numbers, big ints in decimal.

use std::fmt::Write;

/// Python's repr of a str: quotes chosen as CPython does, escapes for the backslash,
/// the quote, `\t \n \r`, and `\xNN`/`\uNNNN`/`\UNNNNNNNN` for non-printable code points.
pub fn str_repr(s: &str, max_chars: usize) -> String {
    let quote = if s.contains('\'') && !s.contains('"') { '"' } else { '\'' };
    let mut out = String::with_capacity(s.len().saturating_add(2));
    out.push(quote);
    for (i, c) in s.chars().enumerate() {
        if i >= max_chars {
            out.push_str("...");
            break;
        }
        match c {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c == quote => {
                out.push('\\');
                out.push(c);
            }
            c if is_printable(c) => out.push(c),
            c => {
                let v = c as u32;
                let _ = if v <= 0xff {
                    write!(out, "\\x{v:02x}")
                } else if v <= 0xffff {
                    write!(out, "\\u{v:04x}")
                } else {
                    write!(out, "\\U{v:08x}")
                };
            }
        }
    }
    out.push(quote);
    out
}

/// `str.isprintable()` for one code point, without Unicode tables: false for controls,
/// separators other than the space, format characters, surrogates and private use.
/// (Unassigned code points, which CPython also escapes, are not recognized.)
fn is_printable(c: char) -> bool {
    let v = c as u32;
    if c == ' ' {
        return true;
    }
    if c.is_control() {
        return false;
    }
    !matches!(v,
        0xA0 | 0xAD | 0x1680 | 0x2000..=0x200F | 0x2028..=0x202F | 0x205F..=0x2064 | 0x2066..=0x206F
        | 0x3000 | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x180E | 0xFEFF | 0xFFF9..=0xFFFB
        | 0xD800..=0xDFFF | 0xE000..=0xF8FF | 0xF0000..=0x10FFFF | 0xE0001 | 0xE0020..=0xE007F
        | 0x110BD | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A)
}

/// Python's repr of bytes contents (without the `b` prefix).
pub fn bytes_repr(b: &[u8], more: bool) -> String {
    let quote = if b.contains(&b'\'') && !b.contains(&b'"') { '"' } else { '\'' };
    let mut out = String::with_capacity(b.len().saturating_add(2));
    out.push(quote);
    for &c in b {
        match c {
            b'\\' => out.push_str("\\\\"),
            b'\t' => out.push_str("\\t"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            c if char::from(c) == quote => {
                out.push('\\');
                out.push(char::from(c));
            }
            0x20..=0x7e => out.push(char::from(c)),
            c => {
                let _ = write!(out, "\\x{c:02x}");
            }
        }
    }
    if more {
        out.push_str("...");
    }
    out.push(quote);
    out
}

/// `complex.__repr__` (Objects/complexobject.c): `2j` when the real part is +0.0, else
/// `(1.5-2j)`; each part as `repr(float)` without the `.0` it adds to integral values.
pub fn complex_repr(real: f64, imag: f64) -> String {
    let part = |f: f64| {
        let r = float_repr(f);
        r.strip_suffix(".0").map(str::to_string).unwrap_or(r)
    };
    let im = part(imag);
    if real == 0.0 && real.is_sign_positive() {
        return format!("{im}j");
    }
    let sign = if im.starts_with('-') { "" } else { "+" };
    format!("({}{sign}{im}j)", part(real))
}

/// Python's `repr(float)`: the shortest round-tripping digits, in fixed notation for
/// exponents −4..16 and scientific (`1e+16`) outside.
pub fn float_repr(f: f64) -> String {
    if f.is_nan() {
        return "nan".into();
    }
    if f.is_infinite() {
        return if f > 0.0 { "inf".into() } else { "-inf".into() };
    }
    if f == 0.0 {
        return if f.is_sign_negative() { "-0.0".into() } else { "0.0".into() };
    }
    // Rust's shortest round-trip digits, as d.ddde±x.
    let sci = format!("{:e}", f);
    let (mant, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let neg = mant.starts_with('-');
    let digits: String = mant.chars().filter(char::is_ascii_digit).collect();
    let sign = if neg { "-" } else { "" };
    if (-4..16).contains(&exp) {
        // -4 <= exp < 16: the digits before the decimal point, -3..=16.
        let point = exp.saturating_add(1);
        let body = if point <= 0 {
            format!("0.{}{}", "0".repeat(point.unsigned_abs() as usize), digits)
        } else if point as usize >= digits.len() {
            format!("{}{}.0", digits, "0".repeat((point as usize).saturating_sub(digits.len())))
        } else {
            format!("{}.{}", &digits[..point as usize], &digits[point as usize..])
        };
        format!("{sign}{body}")
    } else {
        let m = if digits.len() > 1 { format!("{}.{}", &digits[..1], &digits[1..]) } else { digits.clone() };
        format!("{sign}{m}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs())
    }
}

/// Decimal string of a magnitude given as little-endian base-2^30 digits.
pub fn digits_to_decimal(digits: &[u32]) -> String {
    // Convert to base 10^9 by repeated multiply-add from the most significant digit.
    let mut chunks: Vec<u32> = vec![0]; // little-endian base 1e9
    for &d in digits.iter().rev() {
        let mut carry = u64::from(d);
        for c in chunks.iter_mut() {
            // c < 1e9 < 2^30 and carry < 2^31: v < 2^61.
            let v = (u64::from(*c) << 30).saturating_add(carry);
            *c = (v % 1_000_000_000) as u32;
            carry = v / 1_000_000_000;
        }
        while carry > 0 {
            chunks.push((carry % 1_000_000_000) as u32);
            carry /= 1_000_000_000;
        }
    }
    let mut s = String::new();
    let mut it = chunks.iter().rev();
    if let Some(first) = it.next() {
        let _ = write!(s, "{first}");
    }
    for c in it {
        let _ = write!(s, "{c:09}");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn complex_like_python() {
        // repr(complex(...)) in CPython.
        assert_eq!(complex_repr(1.5, -2.0), "(1.5-2j)");
        assert_eq!(complex_repr(0.0, 1.0), "1j");
        assert_eq!(complex_repr(-0.0, 1.0), "(-0+1j)");
        assert_eq!(complex_repr(1.0, 0.0), "(1+0j)");
        assert_eq!(complex_repr(0.0, -0.0), "-0j");
        assert_eq!(complex_repr(1e20, f64::INFINITY), "(1e+20+infj)");
        assert_eq!(complex_repr(f64::NAN, 2.5e-7), "(nan+2.5e-07j)");
    }

    #[test]
    fn floats_like_python() {
        for (f, want) in [
            (0.1, "0.1"),
            (1.0, "1.0"),
            (-2.5, "-2.5"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.5e-5, "1.5e-05"),
            (0.0001, "0.0001"),
            (123456789.125, "123456789.125"),
            (f64::INFINITY, "inf"),
            (-0.0, "-0.0"),
            (std::f64::consts::PI, "3.141592653589793"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
        ] {
            assert_eq!(float_repr(f), want, "{f:e}");
        }
    }

    #[test]
    fn strings_and_bytes_like_python() {
        assert_eq!(str_repr("it's", usize::MAX), "\"it's\"");
        assert_eq!(str_repr("a'b\"c", usize::MAX), "'a\\'b\"c'");
        assert_eq!(str_repr("tab\there\n\\", usize::MAX), "'tab\\there\\n\\\\'");
        assert_eq!(str_repr("\u{0}\u{7f}é\u{a0}\u{1F600}", usize::MAX), "'\\x00\\x7fé\\xa0\u{1F600}'");
        assert_eq!(str_repr("abcdef", 3), "'abc...'");
        assert_eq!(bytes_repr(b"a'\x00\xff", false), "\"a'\\x00\\xff\"");
    }

    #[test]
    fn big_ints_to_decimal() {
        assert_eq!(digits_to_decimal(&[]), "0");
        assert_eq!(digits_to_decimal(&[5]), "5");
        // 2**30 = [0, 1]
        assert_eq!(digits_to_decimal(&[0, 1]), "1073741824");
        // 2**90 = [0, 0, 0, 1]
        assert_eq!(digits_to_decimal(&[0, 0, 0, 1]), "1237940039285380274899124224");
    }
}
