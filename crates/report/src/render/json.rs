//! JSON (schema 2), derived with serde, and its JSON Schema, derived from the same types.

use crate::Report;

/// The report as pretty-printed JSON.
pub fn render(report: &Report) -> String {
    serde_json::to_string_pretty(report).unwrap_or_else(|e| format!("{{\"error\": \"{e}\"}}"))
}

/// The JSON Schema (draft 2020-12) every report follows, generated from the types;
/// `schema/report.schema.json` in the repository is this text.
pub fn schema() -> String {
    let schema = schemars::schema_for!(Report);
    serde_json::to_string_pretty(&schema).map(|s| s + "\n").unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use crate::render::faulthandler::tests::sample;

    #[test]
    fn follows_the_contract() {
        let v: serde_json::Value = serde_json::from_str(&super::render(&sample())).expect("valid JSON");
        assert_eq!(v["schema"], crate::SCHEMA);
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

    /// The checked-in schema is the one the types generate (regenerate it with
    /// `PYCORONER_REGEN_SCHEMA=1 cargo test -p pycoroner-report`).
    #[test]
    fn the_checked_in_schema_is_generated_from_the_types() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../schema/report.schema.json");
        let generated = super::schema();
        if std::env::var_os("PYCORONER_REGEN_SCHEMA").is_some() {
            std::fs::write(path, &generated).expect("write the schema");
        }
        let checked_in = std::fs::read_to_string(path).unwrap_or_default();
        assert!(checked_in == generated, "schema/report.schema.json is stale: regenerate it with PYCORONER_REGEN_SCHEMA=1 cargo test -p pycoroner-report");
        let v: serde_json::Value = serde_json::from_str(&generated).expect("valid JSON");
        assert_eq!(v["properties"]["warnings"]["items"]["$ref"], "#/$defs/Warning");
    }

    /// The README's example report is one the types accept (and so valid JSON).
    #[test]
    fn the_readme_example_is_a_report() {
        let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).expect("README.md");
        let start = readme.find("```json\n").expect("a JSON example") + "```json\n".len();
        let end = readme[start..].find("```").expect("its end") + start;
        let report: crate::Report = serde_json::from_str(&readme[start..end]).expect("the README example is a report");
        assert_eq!(report.schema, crate::SCHEMA);
    }
}
