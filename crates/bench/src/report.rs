//! The benchmark report: rows of figures per server, targets and verdicts, printed as a
//! table and written as JSON.

use crate::target::ServerKind;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One measured figure, per server.
#[derive(Debug, Clone, Serialize)]
pub struct Row {
    /// Scenario that produced it.
    pub scenario: String,
    /// What it is.
    pub metric: String,
    /// Unit of the values.
    pub unit: String,
    /// Value per server name (`sesh`, `actix-ws`, `tungstenite`).
    pub values: BTreeMap<String, f64>,
    /// Sesh's value divided by the actix-ws baseline's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_actix: Option<f64>,
    /// Sesh's value divided by the tungstenite baseline's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ratio_tungstenite: Option<f64>,
    /// The target, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<String>,
    /// Whether Sesh met it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub met: Option<bool>,
}

/// A target to judge a row by.
pub enum Target {
    /// Sesh's value at most this.
    AtMost(f64),
    /// Sesh's value at least this.
    AtLeast(f64),
    /// Sesh's value at most this many times the actix-ws baseline's.
    RatioToActix(f64),
    /// Both: an absolute ceiling and a ratio to actix-ws.
    AtMostAndRatio(f64, f64),
    /// Sesh's value exactly this.
    Equals(f64),
}

impl Row {
    /// A row with values for whichever servers measured it.
    pub fn new(
        scenario: &str,
        metric: &str,
        unit: &str,
        values: &[(ServerKind, Option<f64>)],
    ) -> Row {
        let values: BTreeMap<String, f64> = values
            .iter()
            .filter_map(|(kind, v)| v.map(|v| (kind.name().to_owned(), v)))
            .collect();
        let ratio = |other: ServerKind| {
            let sesh = values.get(ServerKind::Sesh.name())?;
            let base = values.get(other.name())?;
            (*base > 0.0).then(|| sesh / base)
        };
        Row {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            ratio_actix: ratio(ServerKind::Actix),
            ratio_tungstenite: ratio(ServerKind::Tungstenite),
            values,
            target: None,
            met: None,
        }
    }

    /// A row of a [`Table`]: one value per named column, no ratios, no target.
    pub fn columns(
        scenario: &str,
        metric: &str,
        unit: &str,
        values: &[(String, Option<f64>)],
    ) -> Row {
        Row {
            scenario: scenario.to_owned(),
            metric: metric.to_owned(),
            unit: unit.to_owned(),
            values: values
                .iter()
                .filter_map(|(column, v)| v.map(|v| (column.clone(), v)))
                .collect(),
            ratio_actix: None,
            ratio_tungstenite: None,
            target: None,
            met: None,
        }
    }

    /// Judges Sesh's value against `target`, described as `text`.
    pub fn target(mut self, text: &str, target: Target) -> Row {
        self.target = Some(text.to_owned());
        let sesh = self.values.get(ServerKind::Sesh.name()).copied();
        self.met = match (target, sesh) {
            (_, None) => None,
            (Target::AtMost(limit), Some(v)) => Some(v <= limit),
            (Target::AtLeast(floor), Some(v)) => Some(v >= floor),
            (Target::Equals(want), Some(v)) => Some((v - want).abs() < 1e-9),
            (Target::RatioToActix(r), Some(_)) => self.ratio_actix.map(|x| x <= r),
            (Target::AtMostAndRatio(limit, r), Some(v)) => {
                Some(v <= limit && self.ratio_actix.is_none_or(|x| x <= r))
            }
        };
        self
    }
}

/// Figures side by side under columns of their own (configurations of one scenario: a
/// single node, each node of a cluster), printed after the main table.
#[derive(Debug, Clone, Serialize)]
pub struct Table {
    /// Printed above it.
    pub title: String,
    /// The value columns, in order (the keys of the rows' `values`).
    pub columns: Vec<String>,
    /// The figures ([`Row::columns`]).
    pub rows: Vec<Row>,
}

/// Where and how the figures were taken.
#[derive(Debug, Clone, Serialize)]
pub struct Meta {
    /// UTC date and time.
    pub date: String,
    /// `git rev-parse --short HEAD` (+ `-dirty`).
    pub commit: String,
    /// CPU model and count, memory, kernel.
    pub machine: String,
    /// The command line.
    pub command: String,
    /// Whether this was a `--quick` run.
    pub quick: bool,
}

/// Everything a run produced.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Context.
    pub meta: Meta,
    /// The figures.
    pub rows: Vec<Row>,
    /// Further figures side by side under columns of their own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tables: Vec<Table>,
    /// Per scenario and server: sizes, errors and other details.
    pub details: BTreeMap<String, serde_json::Value>,
    /// Things that went wrong (the run exits non-zero when there are any).
    pub failures: Vec<String>,
}

fn command_output(program: &str, args: &[&str]) -> Option<String> {
    let out = std::process::Command::new(program)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_owned())
}

impl Meta {
    /// Collects the context of this run.
    pub fn collect(quick: bool) -> Meta {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let model = cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split(':').nth(1))
            .map(str::trim)
            .unwrap_or("unknown CPU");
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mem_gib = std::fs::read_to_string("/proc/meminfo")
            .ok()
            .and_then(|m| {
                let line = m.lines().find(|l| l.starts_with("MemTotal:"))?.to_owned();
                line.split_whitespace().nth(1)?.parse::<f64>().ok()
            })
            .map(|kb| kb / 1024.0 / 1024.0)
            .unwrap_or(0.0);
        let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
        let commit = command_output("git", &["rev-parse", "--short", "HEAD"])
            .unwrap_or_else(|| "unknown".into());
        let dirty =
            command_output("git", &["status", "--porcelain"]).is_some_and(|s| !s.is_empty());
        Meta {
            date: command_output("date", &["-u", "+%Y-%m-%d %H:%M UTC"]).unwrap_or_default(),
            commit: if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            },
            machine: format!(
                "{cpus} × {model}, {mem_gib:.0} GiB RAM, Linux {}",
                kernel.trim()
            ),
            command: std::env::args().collect::<Vec<_>>().join(" "),
            quick,
        }
    }
}

fn fmt_value(v: Option<f64>) -> String {
    match v {
        None => "—".into(),
        Some(v) if v.abs() >= 1000.0 => format!("{v:.0}"),
        Some(v) if v.abs() >= 10.0 => format!("{v:.1}"),
        Some(v) => format!("{v:.2}"),
    }
}

/// Lines of cells as a Markdown table with aligned columns, the first line its header.
fn aligned(lines: &[Vec<String>]) -> String {
    let columns = lines.first().map_or(0, Vec::len);
    let widths: Vec<usize> = (0..columns)
        .map(|c| {
            lines
                .iter()
                .map(|l| l[c].chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    let mut out = String::new();
    for (i, line) in lines.iter().enumerate() {
        let cells: Vec<String> = line
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "| {} |", cells.join(" | "));
        if i == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            let _ = writeln!(out, "| {} |", rule.join(" | "));
        }
    }
    out
}

impl Table {
    /// The table as aligned Markdown, its title above it.
    pub fn text(&self) -> String {
        let mut header = vec!["metric".to_owned(), "unit".to_owned()];
        header.extend(self.columns.iter().cloned());
        let mut lines = vec![header];
        for row in &self.rows {
            let mut line = vec![row.metric.clone(), row.unit.clone()];
            line.extend(
                self.columns
                    .iter()
                    .map(|c| fmt_value(row.values.get(c).copied())),
            );
            lines.push(line);
        }
        format!("{}\n\n{}", self.title, aligned(&lines))
    }
}

impl Report {
    /// The report as an aligned text table (also valid Markdown), then its side-by-side
    /// tables.
    pub fn table(&self) -> String {
        let header = [
            "scenario",
            "metric",
            "unit",
            "sesh",
            "actix-ws",
            "tungstenite",
            "sesh/actix",
            "sesh/tung",
            "target",
            "met",
        ];
        let mut lines: Vec<Vec<String>> = vec![header.iter().map(|s| s.to_string()).collect()];
        for row in &self.rows {
            let v = |k: ServerKind| fmt_value(row.values.get(k.name()).copied());
            lines.push(vec![
                row.scenario.clone(),
                row.metric.clone(),
                row.unit.clone(),
                v(ServerKind::Sesh),
                v(ServerKind::Actix),
                v(ServerKind::Tungstenite),
                row.ratio_actix
                    .map(|r| format!("{r:.2}×"))
                    .unwrap_or_else(|| "—".into()),
                row.ratio_tungstenite
                    .map(|r| format!("{r:.2}×"))
                    .unwrap_or_else(|| "—".into()),
                row.target.clone().unwrap_or_default(),
                match row.met {
                    Some(true) => "met".into(),
                    Some(false) => "NOT MET".into(),
                    None => "".into(),
                },
            ]);
        }
        let mut out = aligned(&lines);
        for table in &self.tables {
            let _ = write!(out, "\n{}", table.text());
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_targets() {
        let row = Row::new(
            "members",
            "p99",
            "ms",
            &[
                (ServerKind::Sesh, Some(120.0)),
                (ServerKind::Actix, Some(100.0)),
                (ServerKind::Tungstenite, None),
            ],
        );
        assert_eq!(row.ratio_actix, Some(1.2));
        assert_eq!(row.ratio_tungstenite, None);
        assert_eq!(
            row.clone()
                .target("≤ 1.25×", Target::RatioToActix(1.25))
                .met,
            Some(true)
        );
        assert_eq!(
            row.clone().target("≤ 100 ms", Target::AtMost(100.0)).met,
            Some(false)
        );
        assert_eq!(
            row.clone().target("≥ 120", Target::AtLeast(120.0)).met,
            Some(true)
        );
        assert_eq!(
            row.target("both", Target::AtMostAndRatio(150.0, 1.1)).met,
            Some(false)
        );
    }

    #[test]
    fn table_has_a_line_per_row() {
        let report = Report {
            meta: Meta::collect(true),
            rows: vec![
                Row::new("x", "y", "ms", &[(ServerKind::Sesh, Some(1.0))])
                    .target("= 1", Target::Equals(1.0)),
            ],
            details: BTreeMap::new(),
            failures: vec![],
            tables: vec![],
        };
        let table = report.table();
        assert_eq!(table.lines().count(), 3);
        assert!(table.contains("met"));
    }

    #[test]
    fn a_side_by_side_table_follows_the_main_one() {
        let columns = vec!["one".to_owned(), "two".to_owned()];
        let report = Report {
            meta: Meta::collect(true),
            rows: vec![Row::new("x", "y", "ms", &[(ServerKind::Sesh, Some(1.0))])],
            details: BTreeMap::new(),
            failures: vec![],
            tables: vec![Table {
                title: "Side by side".into(),
                rows: vec![Row::columns(
                    "x",
                    "rss",
                    "MB",
                    &[(columns[0].clone(), Some(12.5)), (columns[1].clone(), None)],
                )],
                columns,
            }],
        };
        let text = report.table();
        assert!(text.contains("Side by side"));
        assert!(text.contains("| metric | unit | one  | two |"), "{text}");
        assert!(text.contains("| rss    | MB   | 12.5 | —   |"), "{text}");
    }
}
