//! The Grafana dashboard (`deploy/grafana/cc-export-dashboard.json`) parses, and every metric it
//! queries is one this registry exports: a renamed metric breaks this test, not a panel.

use std::collections::BTreeSet;

use super::metrics::Metrics;

const DASHBOARD: &str = include_str!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/deploy/grafana/cc-export-dashboard.json"
));

/// Every sample name the registry can produce, from its `# TYPE` lines (OpenMetrics suffixes).
fn exported_names() -> BTreeSet<String> {
    let text = Metrics::with_every_family().encode();
    let mut names = BTreeSet::new();
    for line in text.lines() {
        let Some(rest) = line.strip_prefix("# TYPE ") else {
            continue;
        };
        let (name, kind) = rest.split_once(' ').expect("# TYPE name kind");
        let suffixes: &[&str] = match kind {
            "counter" => &["_total"],
            "histogram" => &["_bucket", "_sum", "_count"],
            _ => &[""],
        };
        names.extend(suffixes.iter().map(|s| format!("{name}{s}")));
    }
    names
}

/// The `cc_export_*` names in a PromQL expression.
fn queried_names(expr: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("cc_export_") {
        let name: String = rest[at..]
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        rest = &rest[at + name.len()..];
        out.push(name);
    }
    out
}

fn exprs(dashboard: &serde_json::Value) -> Vec<(String, String)> {
    let panels = dashboard["panels"].as_array().expect("panels");
    assert!(!panels.is_empty());
    let mut out = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("every panel has a title");
        let targets = panel["targets"]
            .as_array()
            .expect("every panel has targets");
        assert!(!targets.is_empty(), "panel {title} queries nothing");
        for target in targets {
            let expr = target["expr"].as_str().expect("a PromQL expr");
            out.push((title.to_owned(), expr.to_owned()));
        }
    }
    out
}

#[test]
fn every_metric_the_dashboard_queries_exists_in_the_registry() {
    let dashboard: serde_json::Value = serde_json::from_str(DASHBOARD).expect("valid JSON");
    assert_eq!(dashboard["uid"], "cc-export");
    let exported = exported_names();
    let mut queried = BTreeSet::new();
    for (title, expr) in exprs(&dashboard) {
        let names = queried_names(&expr);
        assert!(
            !names.is_empty(),
            "panel {title}: {expr} queries no cc_export metric"
        );
        for name in names {
            assert!(
                exported.contains(&name),
                "panel {title} queries {name}, which the registry does not export: {exported:?}"
            );
            queried.insert(name);
        }
    }
    // The panels the issue asks for.
    for needed in [
        "cc_export_jobs",
        "cc_export_contacts_exported_total",
        "cc_export_api_requests_total",
        "cc_export_limiter_wait_seconds_bucket",
        "cc_export_s3_upload_bytes_total",
        "cc_export_job_duration_seconds_bucket",
    ] {
        assert!(queried.contains(needed), "no panel queries {needed}");
    }
}

#[test]
fn queried_names_stop_at_label_braces_and_brackets() {
    let expr = r#"sum(rate(cc_export_api_requests_total{status="429"}[5m])) / cc_export_jobs"#;
    assert_eq!(
        queried_names(expr),
        ["cc_export_api_requests_total", "cc_export_jobs"]
    );
}
