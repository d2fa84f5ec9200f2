//! Reading `--metrics FILE.json`: a JSON object whose numeric leaves become
//! metrics; nested objects are flattened with dots (`per_class_recall.1`).

use std::collections::BTreeMap;
use std::path::Path;

use crate::{Result, ServiceError};

/// Returns the metrics and the keys that were skipped because they are not numbers.
pub fn read_metrics(path: &Path) -> Result<(BTreeMap<String, f64>, Vec<String>)> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ServiceError::input(format!("{}: cannot read metrics file: {e}", path.display()), None))?;
    let v: serde_json::Value = serde_json::from_str(&text).map_err(|e| {
        ServiceError::input(
            format!("{}: not valid JSON: {e}", path.display()),
            Some("the metrics file is a JSON object such as {\"accuracy\": 0.91, \"f1\": 0.88}".into()),
        )
    })?;
    let serde_json::Value::Object(obj) = v else {
        return Err(ServiceError::input(
            format!("{}: expected a JSON object of metric names to numbers", path.display()),
            Some("write it as {\"accuracy\": 0.91}".into()),
        ));
    };
    let mut metrics = BTreeMap::new();
    let mut skipped = Vec::new();
    flatten("", &serde_json::Value::Object(obj), &mut metrics, &mut skipped);
    Ok((metrics, skipped))
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut BTreeMap<String, f64>, skipped: &mut Vec<String>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                flatten(&key, v, out, skipped);
            }
        }
        serde_json::Value::Number(n) => match n.as_f64() {
            Some(f) if f.is_finite() => {
                out.insert(prefix.to_string(), f);
            }
            _ => skipped.push(prefix.to_string()),
        },
        _ => skipped.push(prefix.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_metrics_are_flattened_and_non_numbers_skipped() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        std::fs::write(
            &p,
            r#"{"accuracy": 0.9, "per_class_recall": {"0": 0.8, "1": 0.7}, "cm": [[1,2],[3,4]], "note": "x"}"#,
        )
        .unwrap();
        let (m, skipped) = read_metrics(&p).unwrap();
        assert_eq!(m["accuracy"], 0.9);
        assert_eq!(m["per_class_recall.1"], 0.7);
        assert_eq!(skipped, ["cm", "note"]);
    }

    #[test]
    fn a_metrics_file_that_is_not_an_object_is_refused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("m.json");
        std::fs::write(&p, "[1,2]").unwrap();
        assert!(read_metrics(&p).is_err());
        std::fs::write(&p, "{oops").unwrap();
        assert!(read_metrics(&p).unwrap_err().to_string().contains("not valid JSON"));
    }
}
