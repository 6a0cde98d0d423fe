//! Offline checks of `deploy/` and `docker-compose.yml`: every manifest parses, names that must
//! agree do (queue, deployment, ports, probes, settings), and the settings they pass are ones
//! the binary reads. No cluster and no Docker engine needed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine;
use serde_yaml_ng::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn docs(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_yaml_ng::Deserializer::from_str(&text)
        .map(|d| {
            serde::Deserialize::deserialize(d)
                .unwrap_or_else(|e| panic!("{} does not parse: {e}", path.display()))
        })
        .filter(|v: &Value| !v.is_null())
        .collect()
}

fn k8s_objects() -> Vec<(String, Value)> {
    let dir = root().join("deploy/k8s");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("deploy/k8s exists") {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "yaml") {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            out.extend(docs(&path).into_iter().map(|d| (name.clone(), d)));
        }
    }
    out
}

fn s<'a>(v: &'a Value, path: &[&str]) -> &'a Value {
    path.iter().fold(v, |v, k| &v[*k])
}

fn find<'a>(objs: &'a [(String, Value)], kind: &str, name: &str) -> &'a Value {
    objs.iter()
        .map(|(_, o)| o)
        .find(|o| {
            o["kind"].as_str() == Some(kind) && s(o, &["metadata", "name"]).as_str() == Some(name)
        })
        .unwrap_or_else(|| panic!("no {kind} named {name} in deploy/k8s"))
}

/// Every `env = "NAME"` the command line reads, plus the variables read by libraries.
fn known_settings() -> BTreeSet<String> {
    let mut names: BTreeSet<String> = [
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION",
        "RUST_LOG",
    ]
    .map(String::from)
    .into();
    let mut stack = vec![root().join("src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "rs") {
                let text = std::fs::read_to_string(&path).unwrap();
                for (i, _) in text.match_indices("env = \"") {
                    let rest = &text[i + 7..];
                    names.insert(rest[..rest.find('"').unwrap()].to_string());
                }
            }
        }
    }
    names
}

#[test]
fn every_manifest_parses_and_kustomization_lists_them_all() {
    let objs = k8s_objects();
    assert!(
        objs.len() >= 9,
        "expected the whole stack, got {} objects",
        objs.len()
    );
    for (file, o) in &objs {
        assert!(
            o["apiVersion"].as_str().is_some(),
            "{file}: apiVersion missing"
        );
        assert!(o["kind"].as_str().is_some(), "{file}: kind missing");
        if o["kind"] != "Kustomization" {
            assert!(
                s(o, &["metadata", "name"]).as_str().is_some(),
                "{file}: metadata.name missing"
            );
        }
    }
    let kustomization = find_kind(&objs, "Kustomization");
    let listed: BTreeSet<&str> = kustomization["resources"]
        .as_sequence()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    let files: BTreeSet<&str> = objs
        .iter()
        .map(|(f, _)| f.as_str())
        .filter(|f| *f != "kustomization.yaml")
        .collect();
    assert_eq!(
        listed, files,
        "kustomization.yaml resources vs the files in deploy/k8s"
    );
}

fn find_kind<'a>(objs: &'a [(String, Value)], kind: &str) -> &'a Value {
    objs.iter()
        .map(|(_, o)| o)
        .find(|o| o["kind"] == kind)
        .unwrap()
}

#[test]
fn pods_run_as_non_root_with_probes_on_declared_ports_and_limits() {
    let objs = k8s_objects();
    let config = find(&objs, "ConfigMap", "cc-export");
    for name in ["cc-export-worker", "cc-export-api"] {
        let pod = s(
            find(&objs, "Deployment", name),
            &["spec", "template", "spec"],
        );
        assert_eq!(
            pod["securityContext"]["runAsNonRoot"], true,
            "{name}: runAsNonRoot"
        );
        let c = &pod["containers"][0];
        let ports: BTreeSet<&str> = c["ports"]
            .as_sequence()
            .unwrap()
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect();
        for probe in ["livenessProbe", "readinessProbe"] {
            let get = &c[probe]["httpGet"];
            let path = get["path"]
                .as_str()
                .unwrap_or_else(|| panic!("{name}: {probe}"));
            assert!(
                ["/healthz", "/readyz"].contains(&path),
                "{name}: {probe} path {path}"
            );
            assert!(
                ports.contains(get["port"].as_str().unwrap()),
                "{name}: {probe} port"
            );
        }
        assert_eq!(
            c["readinessProbe"]["httpGet"]["path"], "/readyz",
            "{name}: readiness"
        );
        assert!(
            c["resources"]["requests"]["memory"].is_string(),
            "{name}: memory request"
        );
        assert!(
            c["resources"]["limits"]["memory"].is_string(),
            "{name}: memory limit"
        );
    }
    // The containers listen where the ConfigMap tells the binary to.
    let worker = s(
        find(&objs, "Deployment", "cc-export-worker"),
        &["spec", "template", "spec"],
    );
    let metrics_port = worker["containers"][0]["ports"][0]["containerPort"]
        .as_u64()
        .unwrap();
    assert!(
        config["data"]["METRICS_ADDR"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{metrics_port}"))
    );
    let api = s(
        find(&objs, "Deployment", "cc-export-api"),
        &["spec", "template", "spec"],
    );
    let api_port = api["containers"][0]["ports"][0]["containerPort"]
        .as_u64()
        .unwrap();
    assert!(
        config["data"]["API_ADDR"]
            .as_str()
            .unwrap()
            .ends_with(&format!(":{api_port}"))
    );
}

#[test]
fn worker_grace_period_outlasts_its_drain() {
    let objs = k8s_objects();
    let pod = s(
        find(&objs, "Deployment", "cc-export-worker"),
        &["spec", "template", "spec"],
    );
    // A drain waits for the request in flight (CC_REQUEST_TIMEOUT_SECS, 30 s by default) and the
    // part upload that follows it.
    let timeout = find(&objs, "ConfigMap", "cc-export")["data"]["CC_REQUEST_TIMEOUT_SECS"]
        .as_str()
        .map_or(30, |t| t.parse::<u64>().unwrap());
    let grace = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("grace period set");
    assert!(
        grace >= 2 * timeout + 30,
        "grace {grace}s vs request timeout {timeout}s"
    );
}

#[test]
fn keda_scales_the_worker_on_the_export_queue_and_the_job_table() {
    let objs = k8s_objects();
    let config = find(&objs, "ConfigMap", "cc-export");
    let scaled = find(&objs, "ScaledObject", "cc-export-worker");
    assert_eq!(scaled["spec"]["scaleTargetRef"]["name"], "cc-export-worker");
    // Workers enqueue due scheduled syncs: scaling to zero would stop every schedule.
    assert!(scaled["spec"]["minReplicaCount"].as_u64().unwrap() >= 1);
    find(&objs, "Deployment", "cc-export-worker");
    let triggers = scaled["spec"]["triggers"].as_sequence().unwrap();
    let rabbit = triggers
        .iter()
        .find(|t| t["type"] == "rabbitmq")
        .expect("rabbitmq trigger");
    assert_eq!(
        rabbit["metadata"]["queueName"],
        config["data"]["EXPORT_QUEUE"]
    );
    assert_eq!(rabbit["metadata"]["mode"], "QueueLength");
    let concurrency = &config["data"]["WORKER_CONCURRENCY"];
    assert_eq!(&rabbit["metadata"]["value"], concurrency);
    let pg = triggers
        .iter()
        .find(|t| t["type"] == "postgresql")
        .expect("postgresql trigger");
    assert_eq!(&pg["metadata"]["targetQueryValue"], concurrency);
    let query = pg["metadata"]["query"].as_str().unwrap();
    let migration =
        std::fs::read_to_string(root().join("migrations/0001_export_jobs.sql")).unwrap();
    assert!(query.contains("export_jobs") && migration.contains("export_jobs"));
    let auth = find(&objs, "TriggerAuthentication", "cc-export");
    let secret = find(&objs, "Secret", "cc-export");
    for r in auth["spec"]["secretTargetRef"].as_sequence().unwrap() {
        let key = r["key"].as_str().unwrap();
        assert!(
            secret["stringData"][key].is_string(),
            "TriggerAuthentication key {key}"
        );
    }
}

#[test]
fn settings_passed_by_manifests_and_compose_are_ones_the_binary_reads() {
    let known = known_settings();
    let objs = k8s_objects();
    let mut passed: Vec<(String, String)> = Vec::new();
    for (kind, field) in [("ConfigMap", "data"), ("Secret", "stringData")] {
        for k in find(&objs, kind, "cc-export")[field]
            .as_mapping()
            .unwrap()
            .keys()
        {
            passed.push((kind.into(), k.as_str().unwrap().into()));
        }
    }
    let compose = &docs(&root().join("docker-compose.yml"))[0];
    for k in compose["x-cc-export"]["environment"]
        .as_mapping()
        .unwrap()
        .keys()
    {
        passed.push(("docker-compose.yml".into(), k.as_str().unwrap().into()));
    }
    for (source, name) in passed {
        assert!(
            known.contains(&name),
            "{source} sets {name}, which cc-export does not read"
        );
    }
}

#[test]
fn compose_wires_the_whole_stack() {
    let compose = &docs(&root().join("docker-compose.yml"))[0];
    let services = compose["services"].as_mapping().unwrap();
    for name in ["postgres", "rabbitmq", "s3", "migrate", "worker", "api"] {
        assert!(services.contains_key(name), "compose service {name}");
    }
    assert!(
        compose["services"]["rabbitmq"]["image"]
            .as_str()
            .unwrap()
            .contains("management")
    );
    for (name, svc) in services {
        if let Some(deps) = svc["depends_on"].as_mapping() {
            for dep in deps.keys() {
                assert!(
                    services.contains_key(dep),
                    "{name:?} depends on missing {dep:?}"
                );
            }
        }
    }
    let key = compose["x-cc-export"]["environment"]["TOKEN_ENCRYPTION_KEY"]
        .as_str()
        .unwrap();
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(key)
        .unwrap();
    assert_eq!(
        bytes.len(),
        32,
        "TOKEN_ENCRYPTION_KEY must be base64 of 32 bytes"
    );
    let jwt = compose["x-cc-export"]["environment"]["JWT_SECRET"]
        .as_str()
        .unwrap();
    assert!(jwt.len() >= 32, "serve refuses a JWT_SECRET under 32 bytes");
    assert!(compose["services"]["worker"]["stop_grace_period"].is_string());
}

#[test]
fn dockerfile_is_multi_stage_and_runs_as_non_root() {
    let text = std::fs::read_to_string(root().join("deploy/Dockerfile")).unwrap();
    let froms = text.lines().filter(|l| l.starts_with("FROM ")).count();
    assert!(froms >= 2, "multi-stage: {froms} FROM lines");
    let runtime = &text[text.rfind("\nFROM ").unwrap()..];
    let user = runtime
        .lines()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("the runtime stage sets USER");
    let uid = user.split(':').next().unwrap().trim();
    assert!(uid != "0" && uid != "root", "runtime user {uid}");
    assert!(
        runtime.contains("COPY --from=builder"),
        "the runtime copies only the binary"
    );
}
