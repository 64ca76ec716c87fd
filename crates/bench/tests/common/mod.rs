//! What the end-to-end tests share: reading a figure out of a report's JSON.

use serde_json::Value;

/// The value in `column` (a server, a node) of the first row of `table` whose metric starts
/// with `metric_prefix`.
pub fn cell(table: &Value, metric_prefix: &str, column: &str) -> Option<f64> {
    table["rows"].as_array()?.iter().find(|row| {
        row["metric"]
            .as_str()
            .is_some_and(|m| m.starts_with(metric_prefix))
    })?["values"][column]
        .as_f64()
}
