//! CPython version numbers, from `Py_Version` (3.11+) or from names and strings.

use std::fmt;

/// A CPython version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PyVersion {
    /// Major (3).
    pub major: u8,
    /// Minor.
    pub minor: u8,
    /// Micro, when known.
    pub micro: Option<u8>,
}

impl PyVersion {
    /// Decode `PY_VERSION_HEX` (`0xMMmmppLS`).
    pub fn from_hex(hex: u64) -> Option<PyVersion> {
        let major = ((hex >> 24) & 0xff) as u8;
        let minor = ((hex >> 16) & 0xff) as u8;
        let micro = ((hex >> 8) & 0xff) as u8;
        (major == 3 && minor < 100 && hex >> 32 == 0).then_some(PyVersion { major, minor, micro: Some(micro) })
    }

    /// Find `python3.X` / `libpython3.X` in a file name (`libpython3.7m.so.1.0`).
    pub fn from_file_name(name: &str) -> Option<PyVersion> {
        let base = name.rsplit('/').next().unwrap_or(name);
        let rest = base.strip_prefix("libpython").or_else(|| base.strip_prefix("python"))?;
        let rest = rest.strip_prefix("3.")?;
        let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
        let minor: u8 = digits.parse().ok()?;
        Some(PyVersion { major: 3, minor, micro: None })
    }

    /// Parse the start of `sys.version` (`"3.12.1 (main, ..."`).
    pub fn from_version_string(s: &str) -> Option<PyVersion> {
        let mut it = s.split(|c: char| !c.is_ascii_digit());
        let major: u8 = it.next()?.parse().ok()?;
        let minor: u8 = it.next()?.parse().ok()?;
        let micro: Option<u8> = it.next().and_then(|m| m.parse().ok());
        (major == 3).then_some(PyVersion { major, minor, micro })
    }
}

impl fmt::Display for PyVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.micro {
            Some(m) => write!(f, "{}.{}.{}", self.major, self.minor, m),
            None => write!(f, "{}.{}", self.major, self.minor),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_all_sources() {
        assert_eq!(PyVersion::from_hex(0x030D00F0).map(|v| v.to_string()).as_deref(), Some("3.13.0"));
        assert_eq!(PyVersion::from_hex(0xdead_beef_0000), None);
        assert_eq!(PyVersion::from_file_name("/x/lib/libpython3.7m.so.1.0").map(|v| v.minor), Some(7));
        assert_eq!(PyVersion::from_file_name("python3.12").map(|v| v.minor), Some(12));
        assert_eq!(PyVersion::from_file_name("python3"), None);
        assert_eq!(PyVersion::from_version_string("3.12.1 (main, ...").map(|v| v.to_string()).as_deref(), Some("3.12.1"));
    }
}
