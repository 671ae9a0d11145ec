//! JSON (schema 1), derived with serde.

use crate::Report;

/// The report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

#[cfg(test)]
mod tests {
    use crate::render::faulthandler::tests::sample;

    #[test]
    fn follows_the_contract() {
        let v: serde_json::Value = serde_json::from_str(&super::render(&sample())).expect("valid JSON");
        assert_eq!(v["schema"], 1);
        assert_eq!(v["python"]["version"], "3.12.1");
        let t = &v["threads"][1];
        assert_eq!(t["thread_id"], 0x7f3a1d2a5740u64);
        assert_eq!(t["native_id"], 4242);
        assert_eq!(t["current"], true);
        assert_eq!(t["gil"], true);
        let f = &t["frames"][0];
        assert_eq!(f["kind"], "python");
        assert_eq!(f["function"], "call_native");
        assert_eq!(f["file"], "/srv/app/ext.py");
        assert_eq!(f["line"], 12);
        assert!(f.get("qualname").is_some());
        assert_eq!(v["threads"][1]["frames"][1]["line"], serde_json::Value::Null);
    }
}
