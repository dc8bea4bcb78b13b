//! Bundles the dashboard's third-party script into the binary: TradingView's
//! lightweight-charts (Apache-2.0), standalone build, at the version pinned in
//! `dashboard/package-lock.json`, installed from the npm registry by
//! `scripts/install_dashboard_assets.sh`. Without it the build goes on, warns with that
//! command, and the dashboard page says the same instead of drawing charts.

use std::path::{Path, PathBuf};

const BUNDLE: &str = "dashboard/node_modules/lightweight-charts/dist/lightweight-charts.standalone.production.js";
const LICENSE: &str = "dashboard/node_modules/lightweight-charts/LICENSE";

fn main() {
    let manifest = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let (bundle, license) = (manifest.join(BUNDLE), manifest.join(LICENSE));
    let copied = std::fs::read(&bundle).and_then(|js| Ok((js, std::fs::read(&license)?)));
    let (js, license_text) = match copied {
        Ok(files) => files,
        Err(_) => {
            println!(
                "cargo:warning=lightweight-charts is not installed ({}): run scripts/install_dashboard_assets.sh, \
                 then build again; the dashboard will show this message instead of charts",
                bundle.display()
            );
            (Vec::new(), Vec::new())
        }
    };
    write(&out.join("lightweight-charts.js"), &js);
    write(&out.join("lightweight-charts.LICENSE"), &license_text);
    // the folder npm replaces, so an install (or its removal) rebuilds
    let watched = ["dashboard/node_modules/lightweight-charts", "dashboard/package-lock.json"];
    for path in watched.iter().filter(|p| manifest.join(p).exists()) {
        println!("cargo:rerun-if-changed={path}");
    }
    if !manifest.join(watched[0]).exists() {
        println!("cargo:rerun-if-changed=dashboard");
    }
    println!("cargo:rerun-if-changed=build.rs");
}

fn write(path: &Path, bytes: &[u8]) {
    // rewrite only on change, so dependents do not rebuild for nothing
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        std::fs::write(path, bytes).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
    }
}
