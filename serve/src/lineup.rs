//! [`Lineup`]: the strategies a daemon runs, by name and in order. They come from the
//! config (`[[serve.strategies]]` tables, then `models`, then `baselines`), and are
//! checked against the journal's record when the daemon resumes a journal.
//!
//! A strategy's identity is its name: every journal row of a strategy is keyed by it.
//! On a restart the names must be the journal's, in the journal's order; an MA
//! crossover must have its journaled periods; and a model strategy runs the model the
//! journal records for it, which after `POST /models/reload` is the reloaded one (its
//! path and SHA-256). The config may name that model, or a model the strategy ran
//! before a reload (the config it was started with): the daemon then resumes with the
//! journal's model, and refuses only when that export is gone or its `policy.onnx` has
//! another SHA-256 now. A model the strategy never ran is refused: models are switched
//! with `POST /models/reload`, not by editing the config of a running journal.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rltrade_policy::ModelCard;
use rltrade_policy::model_dir::{MODEL_CARD_FILE, resolve_export_dir};

use crate::config::{ConfiguredStrategy, ServeConfig, StrategySource};
use crate::error::{Error, Result};
use crate::journal::JournalMeta;
use crate::strategy::{StrategySpec, short_sha};
use crate::strategy_name::StrategyName;

/// One strategy of the lineup.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LineupEntry {
    /// The config key that defines it (`serve.strategies[0]`, `serve.models[1]`, ...).
    pub key: String,
    /// Its name: the table's, else the model's run name or `ma:FAST:SLOW`.
    pub name: StrategyName,
    /// What it runs: the config's model or MA crossover, or the journal's model after a
    /// reload.
    pub source: StrategySource,
}

/// The strategies a daemon runs, in order (models and baselines as configured, the
/// index of each is part of its client order ids).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lineup {
    /// The strategies, in the daemon's order.
    pub entries: Vec<LineupEntry>,
}

impl Lineup {
    /// The config's strategies, named (a model without a table is named by its card's
    /// run name) and checked against `journal`, the record of the journal being resumed
    /// (`None` for a new journal), whose file is `journal_path`.
    ///
    /// # Errors
    /// [`Error::Config`] naming the key: a model whose card cannot be read, a derived
    /// name that is not a [`StrategyName`], a name given twice. [`Error::Journal`]
    /// naming the journal: other names or order than the journal's, other MA periods,
    /// a model the strategy never ran, or a journaled model that is gone or changed.
    pub fn resolve(config: &ServeConfig, journal: Option<&JournalMeta>, journal_path: &Path) -> Result<Self> {
        let configured = config.configured_strategies()?;
        let mut entries = Vec::with_capacity(configured.len());
        let mut taken: HashMap<StrategyName, String> = HashMap::new();
        for ConfiguredStrategy { key, name, source } in configured {
            let name = match (name, &source) {
                (Some(name), _) => name,
                (None, StrategySource::Model(path)) => {
                    let card = read_card(path, &key)?;
                    StrategyName::new(card.name.as_str()).map_err(|e| Error::Config {
                        field: key.clone(),
                        message: format!(
                            "the model {} is named by its run name, but {e}; name it in a [[serve.strategies]] table",
                            path.display()
                        ),
                    })?
                }
                (None, StrategySource::Baseline(spec)) => StrategyName::from(*spec),
            };
            if let Some(first) = taken.get(&name) {
                return Err(Error::Config {
                    field: key,
                    message: format!(
                        "its name `{name}` is already the name of {first}; strategy names must be unique \
                         (give each its own name in a [[serve.strategies]] table)"
                    ),
                });
            }
            taken.insert(name.clone(), key.clone());
            entries.push(LineupEntry { key, name, source });
        }
        let mut lineup = Self { entries };
        if let Some(meta) = journal {
            lineup.follow_journal(&meta.strategies, journal_path)?;
        }
        Ok(lineup)
    }

    /// Checks the lineup against the journal's strategies and takes the journal's model
    /// where a reload replaced the configured one.
    fn follow_journal(&mut self, recorded: &[StrategySpec], journal_path: &Path) -> Result<()> {
        let refuse = |message: String| Error::Journal { path: journal_path.to_path_buf(), message };
        let names: Vec<StrategyName> = recorded.iter().map(StrategySpec::name).collect();
        if names.len() != self.entries.len() || names.iter().zip(&self.entries).any(|(a, b)| *a != b.name) {
            return Err(refuse(format!(
                "was started with strategies {}, this daemon has {}; use a new --journal or the same strategies \
                 (same names, same order)",
                StrategySpec::describe(recorded),
                self.describe()
            )));
        }
        for (entry, spec) in self.entries.iter_mut().zip(recorded) {
            let name = &entry.name;
            match (&entry.source, spec) {
                (StrategySource::Baseline(ma), StrategySpec::MaCrossover { fast, slow, .. }) => {
                    if (ma.fast, ma.slow) != (*fast, *slow) {
                        return Err(refuse(format!(
                            "strategy {name} runs ma:{fast}:{slow} (journal), {} says {ma}; use a new --journal \
                             or the same strategies",
                            entry.key
                        )));
                    }
                }
                (StrategySource::Model(path), StrategySpec::Model { sha256, path: recorded_path, replaced, .. }) => {
                    let configured = read_card(path, &entry.key)?.onnx.sha256;
                    if configured == *sha256 {
                        continue;
                    }
                    if !replaced.contains(&configured) {
                        return Err(refuse(format!(
                            "strategy {name} runs model {} (SHA-256 {}), as the journal records; {} names {} \
                             (SHA-256 {}), which it never ran: switch models with POST /models/reload, or use a \
                             new --journal",
                            recorded_path.as_deref().map_or_else(|| "?".into(), |p| p.display().to_string()),
                            short_sha(sha256),
                            entry.key,
                            path.display(),
                            short_sha(&configured)
                        )));
                    }
                    let Some(journaled) = recorded_path else {
                        return Err(refuse(format!(
                            "strategy {name} runs model SHA-256 {} since a reload, and this journal does not \
                             record where it is; name that export in {}",
                            short_sha(sha256),
                            entry.key
                        )));
                    };
                    check_journaled_model(name, journaled, sha256).map_err(refuse)?;
                    tracing::info!(
                        strategy = %name,
                        "resuming with the journal's model {} (reloaded; SHA-256 {}), not {}'s {}",
                        journaled.display(),
                        short_sha(sha256),
                        entry.key,
                        path.display()
                    );
                    entry.source = StrategySource::Model(journaled.clone());
                }
                (source, spec) => {
                    let configured = match source {
                        StrategySource::Model(path) => format!("the model {}", path.display()),
                        StrategySource::Baseline(ma) => ma.to_string(),
                    };
                    return Err(refuse(format!(
                        "strategy {name} was started as {} (journal), {} makes it {configured}; use a new \
                         --journal or the same strategies",
                        StrategySpec::describe(std::slice::from_ref(spec)),
                        entry.key
                    )));
                }
            }
        }
        Ok(())
    }

    /// The model paths, in order.
    pub fn model_paths(&self) -> impl Iterator<Item = (&StrategyName, &PathBuf)> {
        self.entries.iter().filter_map(|e| match &e.source {
            StrategySource::Model(path) => Some((&e.name, path)),
            StrategySource::Baseline(_) => None,
        })
    }

    /// `[name (model PATH), name (ma:FAST:SLOW)]`, for messages.
    pub fn describe(&self) -> String {
        let parts: Vec<String> = self
            .entries
            .iter()
            .map(|e| match &e.source {
                StrategySource::Model(path) => format!("{} (model {})", e.name, path.display()),
                StrategySource::Baseline(ma) if e.name.as_str() == ma.to_string() => e.name.to_string(),
                StrategySource::Baseline(ma) => format!("{} ({ma})", e.name),
            })
            .collect();
        format!("[{}]", parts.join(", "))
    }
}

/// The card of the model at `path`, errors naming `key`.
fn read_card(path: &Path, key: &str) -> Result<ModelCard> {
    let card = resolve_export_dir(path).and_then(|dir| ModelCard::load(&dir.join(MODEL_CARD_FILE)));
    card.map_err(|e| Error::Config { field: key.into(), message: e.to_string() })
}

/// The model the journal records for `name` must still be there with its SHA-256.
fn check_journaled_model(name: &StrategyName, path: &Path, sha256: &str) -> std::result::Result<(), String> {
    let gone = |why: String| {
        format!(
            "strategy {name} runs model {} (SHA-256 {}) since a reload, as the journal records, but {why}: put that \
             export back, or use a new --journal",
            path.display(),
            short_sha(sha256)
        )
    };
    let dir = resolve_export_dir(path).map_err(|e| gone(format!("it is gone ({e})")))?;
    let card =
        ModelCard::load(&dir.join(MODEL_CARD_FILE)).map_err(|e| gone(format!("its card is unreadable ({e})")))?;
    let onnx = dir.join(&card.onnx.file);
    let now = rltrade_env::data::sha256_file(&onnx).map_err(|e| gone(format!("its ONNX file is unreadable ({e})")))?;
    if now != sha256 || card.onnx.sha256 != sha256 {
        return Err(gone(format!(
            "{} now has SHA-256 {} (its card says {})",
            onnx.display(),
            short_sha(&now),
            short_sha(&card.onnx.sha256)
        )));
    }
    Ok(())
}
