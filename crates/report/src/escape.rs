//! Text from a target, made safe for a terminal.
//!
//! File names, function names, thread names, exception messages and values come from
//! the target's memory and may hold anything: an escape sequence that rewrites the
//! terminal, a newline that forges a frame line, a right-to-left override that makes a
//! line read backwards. Every renderer for people passes such text through [`text`],
//! which writes control and invisible formatting characters as faulthandler writes
//! non-ASCII (`\x1b`, `\u202e`, `\U000e0001`); printable text, non-ASCII included,
//! stays as it is. JSON keeps the raw strings (serde escapes what JSON must).

use std::borrow::Cow;
use std::fmt::Write;

/// True for a character that must not reach a terminal raw: C0 and C1 controls and
/// DEL, and the invisible format characters (bidirectional overrides and isolates,
/// zero-width characters, line and paragraph separators, the BOM, tag characters).
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c,
            '\u{00ad}' | '\u{061c}' | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2060}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{e0000}'..='\u{e007f}')
}

/// `s` with every [`is_unsafe`] character escaped as faulthandler escapes it.
pub fn text(s: &str) -> Cow<'_, str> {
    // Nearly every name is printable ASCII: one pass over the bytes decides it.
    if s.bytes().all(|b| (0x20..0x7f).contains(&b)) || !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        if !is_unsafe(c) {
            out.push(c);
            continue;
        }
        let v = u32::from(c);
        let _ = if v <= 0xff {
            write!(out, "\\x{v:02x}")
        } else if v <= 0xffff {
            write!(out, "\\u{v:04x}")
        } else {
            write!(out, "\\U{v:08x}")
        };
    }
    Cow::Owned(out)
}

/// [`text`], keeping tabs (for source lines).
pub fn source_line(s: &str) -> Cow<'_, str> {
    if !s.chars().any(|c| c != '\t' && is_unsafe(c)) {
        return Cow::Borrowed(s);
    }
    Cow::Owned(s.split('\t').map(|p| text(p).into_owned()).collect::<Vec<_>>().join("\t"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controls_and_invisible_formatting_are_escaped_printables_kept() {
        assert_eq!(text("f.py"), "f.py");
        assert_eq!(text("grüße_函数"), "grüße_函数");
        assert_eq!(text("a\nb\x1b[2Jc\x7f\u{85}"), "a\\x0ab\\x1b[2Jc\\x7f\\x85");
        assert_eq!(text("evil\u{202e}yp.txt"), "evil\\u202eyp.txt");
        assert_eq!(text("\u{e0041}"), "\\U000e0041");
        assert_eq!(source_line("\tx = 1\x1b"), "\tx = 1\\x1b");
    }
}

/// `s` without the colour codes the text renderer adds (`ESC [ ... m`): the plain text.
pub fn strip_color(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\x1b' {
            for d in chars.by_ref() {
                if d == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}
