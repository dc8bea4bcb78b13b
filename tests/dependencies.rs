//! The dependency tree's own rules that `cargo deny` cannot check here: the advisory
//! database cannot be fetched on the build machines, so the one advisory this project
//! has met is checked against `Cargo.lock` directly.

use std::path::Path;

/// `(major, minor, patch)` of a `Cargo.lock` version (`3.7.2`, `2.28.0`); pre-release
/// and build suffixes are ignored.
fn version(text: &str) -> (u64, u64, u64) {
    let core = text.split(['-', '+']).next().unwrap_or(text);
    let mut parts = core.split('.').map(|p| p.parse::<u64>().unwrap_or_else(|_| panic!("version {text}")));
    (parts.next().unwrap_or(0), parts.next().unwrap_or(0), parts.next().unwrap_or(0))
}

/// Every `(name, version)` of `Cargo.lock`.
fn locked_packages() -> Vec<(String, String)> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("Cargo.lock");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let lock: toml::Table = text.parse().unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let packages = lock["package"].as_array().expect("[[package]] tables");
    packages
        .iter()
        .map(|p| (p["name"].as_str().unwrap().to_string(), p["version"].as_str().unwrap().to_string()))
        .collect()
}

/// RUSTSEC-2024-0437: protobuf before 3.7.2 overflows its stack on crafted input.
#[test]
fn cargo_lock_holds_no_protobuf_older_than_3_7_2() {
    let packages = locked_packages();
    assert!(packages.len() > 100, "Cargo.lock was read: {} packages", packages.len());
    for (name, v) in &packages {
        if name == "protobuf" {
            assert!(version(v) >= (3, 7, 2), "Cargo.lock holds protobuf {v} (RUSTSEC-2024-0437: use >= 3.7.2)");
        }
    }
    assert_eq!(version("3.7.2"), (3, 7, 2));
    assert!(version("2.28.0") < (3, 7, 2) && version("3.10.0-rc.1") > (3, 7, 2));
}

/// `deny.toml` bans the same versions, so `cargo deny check bans` (in the test command)
/// refuses them too.
#[test]
fn deny_toml_bans_the_vulnerable_protobuf() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("deny.toml");
    let deny: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
    let banned = deny["bans"]["deny"].as_array().unwrap();
    assert!(banned.iter().any(|b| b["crate"].as_str() == Some("protobuf:<3.7.2")), "{banned:?}");
}

/// The packages `root` depends on in `Cargo.lock`, transitively (names only).
fn closure(lock: &toml::Table, root: &str) -> std::collections::BTreeSet<String> {
    let packages = lock["package"].as_array().expect("[[package]] tables");
    let deps_of = |name: &str| -> Vec<String> {
        packages
            .iter()
            .filter(|p| p["name"].as_str() == Some(name))
            .flat_map(|p| p.get("dependencies").and_then(|d| d.as_array()).cloned().unwrap_or_default())
            // an entry is `name` or `name version` when two versions are locked
            .map(|d| d.as_str().unwrap().split(' ').next().unwrap().to_string())
            .collect()
    };
    let mut seen = std::collections::BTreeSet::new();
    let mut todo = vec![root.to_string()];
    while let Some(name) = todo.pop() {
        if seen.insert(name.clone()) {
            todo.extend(deps_of(&name));
        }
    }
    seen
}

fn read_lock(relative: &str) -> toml::Table {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join(relative);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())).parse().unwrap()
}

/// The config loader links neither training nor the daemon, and the fuzz targets link no
/// burn (issue 20: fuzz the config loader without the training stack); training does
/// not wait for the daemon's crate to build, nor rebuild when it changes.
#[test]
fn the_config_crate_and_the_fuzz_targets_link_no_burn() {
    let lock = read_lock("Cargo.lock");
    let config = closure(&lock, "rltrade-config");
    assert!(config.contains("rltrade-env") && config.contains("toml"), "{config:?}");
    assert!(!config.iter().any(|p| p.starts_with("burn")), "rltrade-config links {config:?}");
    for crate_ in ["rltrade-agent", "rltrade-serve", "rltrade-policy", "tokio", "rusqlite"] {
        assert!(!config.contains(crate_), "rltrade-config depends on {crate_}");
    }
    let agent = closure(&lock, "rltrade-agent");
    assert!(agent.contains("burn") && agent.contains("rltrade-config"), "the closure walk finds burn where it is");
    assert!(!agent.contains("rltrade-serve"), "training depends on the daemon's crate");
    let fuzz = read_lock("fuzz/Cargo.lock");
    let targets = closure(&fuzz, "rltrade-fuzz");
    assert!(targets.contains("afl") && targets.contains("rltrade-config"), "{targets:?}");
    assert!(!targets.iter().any(|p| p.starts_with("burn")), "the fuzz targets link {targets:?}");
}
