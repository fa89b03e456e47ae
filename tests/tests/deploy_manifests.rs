//! The deployment files in `deploy/`: the Kubernetes manifests pass the API schemas
//! (`kubernetes-validate --strict`, against the oldest and the newest Kubernetes it bundles), the
//! compose file passes the Compose Specification's schema (`check-jsonschema`), and they say what
//! the binaries mean: every variable the ConfigMap and the compose env file set is one `indexer
//! run` or `appview serve` reads, at its default (the listen addresses aside), and every variable
//! those read is set or listed there; the probes ask the paths and ports the services answer on;
//! the pods run as the image's unprivileged user.
//!
//! The validators come from PyPI, pinned in `deploy/validate/requirements.txt`, installed into a
//! virtualenv under this test's scratch folder on first use (so this test needs the network on a
//! fresh machine). The variables come from the binaries' own command-line definitions (clap),
//! not from reading the sources.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use anyhow::Context as _;
use clap::CommandFactory as _;
use plyr_e2e::python::run;
use plyr_e2e::repo_root;
use serde_json::Value;

const PINS: &str = "deploy/validate/requirements.txt";
const K8S: &str = "deploy/k8s";
const COMPOSE: &str = "deploy/compose.yaml";
const COMPOSE_ENV: &str = "deploy/compose/plyr.env";
const CADDYFILE: &str = "deploy/compose/Caddyfile";
const DOCKERFILE: &str = "deploy/Dockerfile";

/// Kubernetes versions the manifests are checked against: the oldest and newest the pinned
/// `kubernetes-validate` bundles.
const K8S_VERSIONS: &[&str] = &["1.25", "1.37"];

/// The image's user (deploy/Dockerfile's `USER`).
const IMAGE_UID: i64 = 10001;

/// Settings whose container value differs from the binary's default, and why.
const CONTAINER_VALUES: &[(&str, &str)] = &[
    ("PLYR_LISTEN", "0.0.0.0:8080"), // every interface, not loopback
    ("PLYR_INDEXER_METRICS_LISTEN", "0.0.0.0:9091"), // so the kubelet and Prometheus reach it
];

/// Settings that belong in the Secret, not the ConfigMap.
const SECRETS: &[&str] = &["DATABASE_URL", "PLYR_READ_DATABASE_URL", "PLYR_SUBSONIC_PASSWORD"];

/// Options of `indexer run` that a deployment does not set, and why.
const NOT_DEPLOYED: &[(&str, &str)] = &[("PLYR_TRUST_STREAM_HANDLES", "replays only; `run` never reads it")];

/// The commands a deployment runs for long.
const SERVICES: &[&str] = &["indexer run", "appview serve"];

#[test]
fn the_kubernetes_manifests_pass_the_api_schemas() {
    let files = k8s_files();
    let documents: usize = yaml(&files).values().map(Vec::len).sum();
    for version in K8S_VERSIONS {
        let out = validator("kubernetes-validate", |c| {
            c.args(["--strict", "-k", version]).args(&files);
        });
        assert!(out.0, "kubernetes-validate {version} failed:\n{}", out.1);
        let passed = out.1.matches(" passed for resource ").count();
        assert_eq!(
            passed, documents,
            "kubernetes-validate {version} checked {passed} of {documents}:\n{}",
            out.1
        );
        println!("kubernetes-validate --strict -k {version}: {passed} resources passed");
    }
    // The validator is alive: a misspelt probe fails it.
    let broken = scratch("broken-deployment.yaml");
    let appview = read(&format!("{K8S}/appview.yaml"));
    std::fs::write(&broken, appview.replace("readinessProbe:", "readinessProbes:")).expect("write");
    let out = validator("kubernetes-validate", |c| {
        c.args(["--strict"]).arg(&broken);
    });
    assert!(!out.0 && out.1.contains("readinessProbes"), "a misspelt field passed:\n{}", out.1);
}

#[test]
fn the_compose_file_passes_the_compose_specification() {
    let out = validator("check-jsonschema", |c| {
        c.args(["--builtin-schema", "vendor.compose-spec"]).arg(repo_root().join(COMPOSE));
    });
    assert!(out.0, "check-jsonschema {COMPOSE} failed:\n{}", out.1);
    println!("check-jsonschema {COMPOSE}: {}", out.1.trim());
    let broken = scratch("broken-compose.yaml");
    std::fs::write(&broken, read(COMPOSE).replace("    restart: \"no\"", "    restrt: \"no\""))
        .expect("write");
    let out = validator("check-jsonschema", |c| {
        c.args(["--builtin-schema", "vendor.compose-spec"]).arg(&broken);
    });
    assert!(!out.0 && out.1.contains("restrt"), "a misspelt key passed:\n{}", out.1);
}

#[test]
fn the_configmap_sets_what_the_services_read_at_their_defaults() {
    let read_by = variables();
    for sure in ["PLYR_LISTEN", "PLYR_JETSTREAM", "PLYR_CACHE_MIB", "DATABASE_URL"] {
        assert!(read_by.contains_key(sure), "the command-line scan missed {sure}");
    }
    let docs = yaml(&[repo_root().join(K8S).join("configmap.yaml")]);
    let configmap = &docs.values().next().expect("configmap.yaml")[0];
    let data: BTreeMap<String, String> = configmap["data"]
        .as_object()
        .expect("data")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_else(|| panic!("{k}: not a string")).to_owned()))
        .collect();
    let listed = commented(&read(&format!("{K8S}/configmap.yaml")));
    check_settings("deploy/k8s/configmap.yaml", &data, &listed, &read_by);

    // The Secret example holds the secrets, and only those.
    let secret_text = read(&format!("{K8S}/secret.example.yaml"));
    let secret =
        &yaml(&[repo_root().join(K8S).join("secret.example.yaml")]).into_values().next().expect("secret")[0];
    let mut keys: BTreeSet<String> =
        secret["stringData"].as_object().expect("stringData").keys().cloned().collect();
    keys.extend(commented(&secret_text));
    assert_eq!(keys, SECRETS.iter().map(|s| s.to_string()).collect(), "secret.example.yaml's keys");
    for key in &keys {
        let var = read_by.get(key.as_str());
        assert!(
            var.is_some_and(|v| v.commands.iter().any(|c| SERVICES.contains(&c.as_str()))),
            "secret.example.yaml: {key} is read by neither service ({var:?})"
        );
    }
}

#[test]
fn the_compose_env_file_matches_the_configmap() {
    let read_by = variables();
    let text = read(COMPOSE_ENV);
    let mut data = BTreeMap::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
        let (k, v) =
            line.split_once('=').unwrap_or_else(|| panic!("{COMPOSE_ENV}: {line:?} is not NAME=value"));
        assert!(data.insert(k.to_owned(), v.to_owned()).is_none(), "{COMPOSE_ENV}: {k} twice");
    }
    let listed = commented(&text);
    check_settings(COMPOSE_ENV, &data, &listed, &read_by);
    let docs = yaml(&[repo_root().join(K8S).join("configmap.yaml")]);
    let configmap: BTreeMap<String, String> = docs.values().next().expect("configmap")[0]["data"]
        .as_object()
        .expect("data")
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_owned()))
        .collect();
    let differences: Vec<String> = data
        .keys()
        .chain(configmap.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| data.get(*k) != configmap.get(*k))
        .map(|k| format!("{k}: {:?} here, {:?} in the ConfigMap", data.get(k), configmap.get(k)))
        .collect();
    assert!(differences.is_empty(), "{COMPOSE_ENV}:\n  {}", differences.join("\n  "));
    assert_eq!(listed, commented(&read(&format!("{K8S}/configmap.yaml"))), "unset settings listed differ");
}

#[test]
fn the_deployments_probe_ready_and_health_and_run_unprivileged() {
    let docs = all_k8s();
    let configmap = find(&docs, "ConfigMap", "plyr-config");
    let port_of = |key: &str| -> i64 {
        let listen = configmap["data"][key].as_str().unwrap_or_else(|| panic!("ConfigMap {key}"));
        listen.rsplit(':').next().and_then(|p| p.parse().ok()).unwrap_or_else(|| panic!("{key}={listen}"))
    };
    for (name, command, port_name, listen_key) in [
        ("plyr-appview", ["appview", "serve"], "http", "PLYR_LISTEN"),
        ("plyr-indexer", ["indexer", "run"], "metrics", "PLYR_INDEXER_METRICS_LISTEN"),
    ] {
        let deployment = find(&docs, "Deployment", name);
        let spec = &deployment["spec"];
        assert_eq!(spec["replicas"], 2, "{name}: replicas");
        let pod = &spec["template"]["spec"];
        assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{name}: runAsNonRoot");
        assert_eq!(pod["securityContext"]["runAsUser"], IMAGE_UID, "{name}: runAsUser");
        let labels = &spec["template"]["metadata"]["labels"];
        for (k, v) in spec["selector"]["matchLabels"].as_object().expect("matchLabels") {
            assert_eq!(&labels[k], v, "{name}: the selector does not select its own pods");
        }
        let init = pod["initContainers"].as_array().expect("initContainers");
        assert!(
            init.iter().any(|c| c["command"] == serde_json::json!(["indexer", "migrate"])),
            "{name}: migrations do not run before it"
        );
        let containers = pod["containers"].as_array().expect("containers");
        assert_eq!(containers.len(), 1, "{name}: one container");
        let c = &containers[0];
        assert_eq!(c["command"], serde_json::json!(command), "{name}: command");
        for container in init.iter().chain(containers) {
            let sc = &container["securityContext"];
            assert_eq!(sc["readOnlyRootFilesystem"], true, "{name}: readOnlyRootFilesystem");
            assert_eq!(sc["allowPrivilegeEscalation"], false, "{name}: allowPrivilegeEscalation");
            let sources: Vec<&str> = container["envFrom"]
                .as_array()
                .expect("envFrom")
                .iter()
                .filter_map(|s| s["configMapRef"]["name"].as_str().or(s["secretRef"]["name"].as_str()))
                .collect();
            assert_eq!(sources, ["plyr-config", "plyr-database"], "{name}: settings");
        }
        let ports = c["ports"].as_array().expect("ports");
        let port = ports
            .iter()
            .find(|p| p["name"] == port_name)
            .unwrap_or_else(|| panic!("{name}: port {port_name}"));
        assert_eq!(port["containerPort"], port_of(listen_key), "{name}: the port is not {listen_key}'s");
        for (probe, path) in [("readinessProbe", "/ready"), ("livenessProbe", "/health")] {
            let get = &c[probe]["httpGet"];
            assert_eq!(get["path"], path, "{name}: {probe}");
            assert_eq!(get["port"], port_name, "{name}: {probe} port");
        }
        assert!(c["resources"]["requests"]["cpu"].is_string(), "{name}: a CPU request (the HPA needs one)");
        assert!(c["resources"]["limits"]["memory"].is_string(), "{name}: a memory limit");

        let service = find(&docs, "Service", name);
        assert_eq!(
            &service["spec"]["selector"], &spec["selector"]["matchLabels"],
            "{name}: Service selector"
        );
        assert_eq!(service["spec"]["ports"][0]["targetPort"], port_name, "{name}: Service targetPort");
    }
    let hpa = find(&docs, "HorizontalPodAutoscaler", "plyr-appview");
    assert_eq!(hpa["apiVersion"], "autoscaling/v2");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["kind"], "Deployment");
    assert_eq!(hpa["spec"]["scaleTargetRef"]["name"], "plyr-appview");
    assert_eq!(hpa["spec"]["metrics"][0]["resource"]["name"], "cpu");
    assert!(hpa["spec"]["minReplicas"].as_i64() >= Some(2), "the HPA keeps two AppViews");
}

#[test]
fn the_kustomization_lists_every_manifest_but_the_secret_example() {
    let dir = repo_root().join(K8S);
    let kustomization =
        &yaml(&[dir.join("kustomization.yaml")]).into_values().next().expect("kustomization")[0];
    let listed: BTreeSet<String> = kustomization["resources"]
        .as_array()
        .expect("resources")
        .iter()
        .map(|r| r.as_str().expect("a file name").to_owned())
        .collect();
    let present: BTreeSet<String> = k8s_files()
        .iter()
        .map(|p| p.file_name().expect("name").to_string_lossy().into_owned())
        .filter(|n| !n.ends_with(".example.yaml"))
        .collect();
    assert_eq!(listed, present, "kustomization.yaml's resources");
    // Every container names the one image that `images:` rewrites.
    let image = kustomization["images"][0]["name"].as_str().expect("images[0].name");
    for doc in all_k8s().into_iter().filter(|d| d["kind"] == "Deployment") {
        let pod = &doc["spec"]["template"]["spec"];
        for c in pod["containers"].as_array().into_iter().chain(pod["initContainers"].as_array()).flatten() {
            let name = c["image"].as_str().expect("image");
            assert_eq!(name.split(':').next(), Some(image), "{}: {name}", doc["metadata"]["name"]);
        }
    }
}

#[test]
fn the_compose_stack_migrates_first_and_balances_two_ready_appviews() {
    let docs = yaml(&[repo_root().join(COMPOSE)]);
    let compose = &docs.values().next().expect("compose")[0];
    let services = compose["services"].as_object().expect("services");
    let names: BTreeSet<&str> = services.keys().map(String::as_str).collect();
    let expected =
        ["appview-1", "appview-2", "indexer", "indexer-standby", "migrate", "postgres", "proxy", "sample"];
    assert_eq!(names, expected.into_iter().collect(), "services");
    assert_eq!(services["migrate"]["command"], serde_json::json!(["indexer", "migrate"]));
    assert_eq!(services["migrate"]["depends_on"]["postgres"]["condition"], "service_healthy");
    assert!(services["postgres"]["healthcheck"]["test"].to_string().contains("pg_isready"));
    let caddyfile = read(CADDYFILE);
    for (name, command) in [
        ("indexer", ["indexer", "run"]),
        ("indexer-standby", ["indexer", "run"]),
        ("appview-1", ["appview", "serve"]),
        ("appview-2", ["appview", "serve"]),
    ] {
        let s = &services[name];
        assert_eq!(s["command"], serde_json::json!(command), "{name}: command");
        assert_eq!(s["depends_on"]["migrate"]["condition"], "service_completed_successfully", "{name}");
        assert_eq!(s["read_only"], true, "{name}: read_only");
        assert_eq!(s["env_file"], "compose/plyr.env", "{name}: env_file");
        assert!(
            s["environment"]["DATABASE_URL"].as_str().is_some_and(|u| u.contains("@postgres:")),
            "{name}"
        );
        if command[0] == "appview" {
            let test = s["healthcheck"]["test"].to_string();
            assert!(test.contains("/ready"), "{name}: healthcheck {test}");
            assert!(caddyfile.contains(&format!("{name}:8080")), "{CADDYFILE} does not balance {name}");
            let trusted = s["environment"]["PLYR_TRUSTED_PROXIES"].as_str().unwrap_or_default();
            assert_eq!(
                trusted,
                services["proxy"]["networks"]["plyr"]["ipv4_address"].as_str().unwrap_or("?")
            );
        }
    }
    assert!(caddyfile.contains("health_uri /ready"), "the proxy does not check readiness");
    assert_eq!(services["sample"]["profiles"], serde_json::json!(["sample"]));
    let sample = services["sample"]["command"].to_string();
    assert!(sample.contains("plyr-gen jetstream") && sample.contains("indexer replay"), "sample: {sample}");
}

#[test]
fn the_dockerfile_builds_the_pinned_toolchain_and_runs_unprivileged() {
    let dockerfile = read(DOCKERFILE);
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.strip_prefix("channel = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("rust-toolchain.toml channel");
    let minor = channel.rsplit_once('.').map_or(channel, |(mm, _)| mm);
    assert!(
        dockerfile.contains(&format!("ARG BUILDER_IMAGE=rust:{minor}-bookworm")),
        "{DOCKERFILE}: the builder is not rust:{minor}-bookworm (rust-toolchain.toml says {channel})"
    );
    for line in ["ARG RUNTIME_IMAGE=debian:bookworm-slim", "USER 10001:10001", "HEALTHCHECK ", "EXPOSE 8080"]
    {
        assert!(dockerfile.contains(line), "{DOCKERFILE}: no {line:?}");
    }
    for package in ["plyr-indexer", "plyr-appview", "plyr-gen"] {
        assert!(dockerfile.contains(&format!("-p {package}")), "{DOCKERFILE}: {package} is not built");
    }
    let ignore = read(".dockerignore");
    for path in ["target/", ".git/", "data/"] {
        assert!(ignore.lines().any(|l| l == path), ".dockerignore: {path} is sent to the build");
    }
}

/// Checks one set of settings (`data` set, `listed` named in comments as unset by default)
/// against the variables the services read.
fn check_settings(
    file: &str,
    data: &BTreeMap<String, String>,
    listed: &BTreeSet<String>,
    read_by: &BTreeMap<String, Variable>,
) {
    let overrides: BTreeMap<&str, &str> = CONTAINER_VALUES.iter().copied().collect();
    let mut problems = Vec::new();
    for (key, value) in data {
        if key == "RUST_LOG" {
            // Read by the log filter (plyr_store::process), not by a flag.
            if value != "info" {
                problems.push(format!("RUST_LOG={value}, not the default info"));
            }
            continue;
        }
        let Some(var) = read_by.get(key.as_str()) else {
            problems.push(format!("{key} is read by no binary"));
            continue;
        };
        if !var.commands.iter().any(|c| SERVICES.contains(&c.as_str())) {
            problems.push(format!("{key} is read only by {:?}", var.commands));
        }
        if SECRETS.contains(&key.as_str()) {
            problems.push(format!("{key} is a secret"));
        }
        let expected: BTreeSet<String> = match overrides.get(key.as_str()) {
            Some(v) => [v.to_string()].into(),
            None => var.defaults.clone(),
        };
        if !expected.contains(value) {
            problems.push(format!("{key}={value}, the default is {expected:?}"));
        }
    }
    for key in listed {
        match read_by.get(key.as_str()) {
            None => problems.push(format!("{key} (listed unset) is read by no binary")),
            Some(var) if !var.defaults.is_empty() && var.defaults != [String::new()].into() => {
                problems.push(format!("{key} is listed as unset but defaults to {:?}", var.defaults))
            }
            Some(_) => {}
        }
        if data.contains_key(key) {
            problems.push(format!("{key} is both set and listed as unset"));
        }
    }
    let not_deployed: BTreeSet<&str> = NOT_DEPLOYED.iter().map(|(k, _)| *k).collect();
    for (key, var) in read_by {
        let by_service = var.commands.iter().any(|c| SERVICES.contains(&c.as_str()));
        if by_service
            && !data.contains_key(key.as_str())
            && !listed.contains(key.as_str())
            && !SECRETS.contains(&key.as_str())
            && !not_deployed.contains(key.as_str())
        {
            problems.push(format!("{key} (read by {:?}) is neither set nor listed", var.commands));
        }
    }
    assert!(problems.is_empty(), "{file}:\n  {}", problems.join("\n  "));
}

/// A variable the binaries read: the commands that read it and its defaults there (empty
/// string: no default).
#[derive(Debug, Default)]
struct Variable {
    commands: BTreeSet<String>,
    defaults: BTreeSet<String>,
}

/// Every environment variable `indexer` and `appview` read, from their clap definitions.
fn variables() -> BTreeMap<String, Variable> {
    fn walk(cmd: &clap::Command, path: &str, out: &mut BTreeMap<String, Variable>, inherited: &[&clap::Arg]) {
        let mut args: Vec<&clap::Arg> = inherited.to_vec();
        args.extend(cmd.get_arguments().filter(|a| !inherited.iter().any(|i| i.get_id() == a.get_id())));
        if cmd.get_subcommands().next().is_none() {
            for arg in &args {
                let Some(env) = arg.get_env() else { continue };
                let default: Vec<String> =
                    arg.get_default_values().iter().map(|v| v.to_string_lossy().into_owned()).collect();
                let var = out.entry(env.to_string_lossy().into_owned()).or_default();
                var.commands.insert(path.to_owned());
                var.defaults.insert(default.join(","));
            }
        }
        let globals: Vec<&clap::Arg> = args.iter().copied().filter(|a| a.is_global_set()).collect();
        for sub in cmd.get_subcommands() {
            walk(sub, &format!("{path} {}", sub.get_name()), out, &globals);
        }
    }
    let mut out = BTreeMap::new();
    for (name, mut cmd) in
        [("indexer", plyr_indexer::cli::Cli::command()), ("appview", plyr_appview::cli::Cli::command())]
    {
        cmd.build();
        walk(&cmd, name, &mut out, &[]);
    }
    out
}

/// Names given in comments as `# NAME: ...` or `# NAME=...`: settings listed but left unset.
fn commented(text: &str) -> BTreeSet<String> {
    text.lines()
        .filter_map(|l| l.trim().strip_prefix('#'))
        .filter_map(|l| {
            let l = l.trim_start();
            let end = l.find([':', '='])?;
            let name = &l[..end];
            let is_name = name.len() > 3
                && name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
                && (name.starts_with("PLYR_") || name == "DATABASE_URL" || name == "RUST_LOG");
            is_name.then(|| name.to_owned())
        })
        .collect()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo_root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("deploy-manifests");
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir.join(name)
}

/// deploy/k8s/*.yaml but the kustomization (not an API object), sorted.
fn k8s_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join(K8S))
        .expect("deploy/k8s")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml") && !p.ends_with("kustomization.yaml"))
        .collect();
    files.sort();
    assert!(files.len() >= 6, "deploy/k8s: {files:?}");
    files
}

fn all_k8s() -> Vec<Value> {
    yaml(&k8s_files()).into_values().flatten().collect()
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} in {K8S}"))
}

/// The YAML documents of each file, as JSON (PyYAML in the validators' virtualenv reads them:
/// anchors and merge keys resolved as compose and kubectl resolve them).
fn yaml(files: &[PathBuf]) -> BTreeMap<String, Vec<Value>> {
    const SCRIPT: &str = "import json, sys, yaml\n\
        json.dump({f: [d for d in yaml.safe_load_all(open(f)) if d is not None] for f in sys.argv[1:]}, sys.stdout)";
    let out = Command::new(venv().join("bin").join("python"))
        .args(["-c", SCRIPT])
        .args(files)
        .output()
        .expect("running python");
    assert!(out.status.success(), "reading YAML failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).expect("JSON from python")
}

/// Runs a validator from the virtualenv in the repository root: (succeeded, stdout + stderr).
fn validator(name: &str, args: impl FnOnce(&mut Command)) -> (bool, String) {
    let mut cmd = Command::new(venv().join("bin").join(name));
    cmd.current_dir(repo_root());
    args(&mut cmd);
    let out = cmd.output().unwrap_or_else(|e| panic!("running {name}: {e}"));
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

/// The validators' virtualenv, installed from the pins on first use, keyed by their hash;
/// concurrent test processes wait for each other on a lock file.
fn venv() -> PathBuf {
    static VENV: OnceLock<PathBuf> = OnceLock::new();
    VENV.get_or_init(|| install().expect("installing the validators")).clone()
}

fn install() -> anyhow::Result<PathBuf> {
    let pins_path = repo_root().join(PINS);
    let pins = std::fs::read(&pins_path).with_context(|| format!("reading {PINS}"))?;
    let key =
        pins.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x100_0000_01b3));
    let root = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(root)?;
    let venv = root.join(format!("deploy-validators-venv-{key:016x}"));
    let lock = std::fs::File::create(venv.with_extension("lock"))?;
    lock.lock().context("locking the virtualenv")?;
    if venv.join(".installed").exists() {
        return Ok(venv);
    }
    if venv.exists() {
        std::fs::remove_dir_all(&venv)?;
    }
    let started = std::time::Instant::now();
    run(Command::new("python3").args(["-m", "venv"]).arg(&venv), "python3 -m venv")?;
    run(
        Command::new(venv.join("bin").join("python"))
            .args(["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&pins_path),
        "pip install the pinned validators",
    )?;
    std::fs::write(venv.join(".installed"), b"")?;
    println!("installed the validators in {:.1?}", started.elapsed());
    Ok(venv)
}
